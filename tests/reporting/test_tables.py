"""tables.xlsx (Chinese sheets, frozen headers, percent formats, dashes) and the matching CSVs."""

from __future__ import annotations

import pandas as pd
import pytest
from openpyxl import load_workbook

from pipeline.reporting.tables import build_tables, workbook_bytes, write_csvs

from .conftest import CAUTION_COUNTY, SUPPRESSED_COUNTY

SHEETS = ["全市", "县区", "人群", "分组", "维度得分", "基准", "目标判定", "说明"]
OFFICE = ["公报表1 县区人数", "公报表2 人群人数", "回答率", "加权概况"]  # bulletin layout: tests/reporting/test_office.py


@pytest.fixture(scope="module")
def wb(built):
    return load_workbook(built.dir / "tables.xlsx")


def test_sheets_and_frozen_headers(wb):
    assert wb.sheetnames == SHEETS + OFFICE
    for ws in wb.worksheets[:len(SHEETS)]:
        assert ws.freeze_panes is not None and ws.freeze_panes.endswith("2"), ws.title
        assert all(c.value for c in ws[1]), ws.title  # every column has a Chinese header
        assert ws.max_row > 1


def _row(ws, first_col_value):
    headers = [c.value for c in ws[1]]
    for row in ws.iter_rows(min_row=2):
        if first_col_value in [c.value for c in row[:2]]:
            return {h: c for h, c in zip(headers, row, strict=True)}
    raise AssertionError(f"{first_col_value} not in sheet {ws.title}")


def test_county_sheet_formats_and_suppression(wb, inputs):
    ws = wb["县区"]
    ok = _row(ws, "晋江市")
    truth = inputs.cell("literate", "county", "晋江市")
    assert ok["估计值"].value == pytest.approx(truth["est"], abs=1e-6)
    assert ok["估计值"].number_format == "0.0%"
    assert ok["95%置信区间下限"].number_format == "0.0%"
    sup = _row(ws, SUPPRESSED_COUNTY)
    for col in ("估计值", "标准误", "95%置信区间下限", "95%置信区间上限", "变异系数", "设计效应", "有效样本量"):
        assert sup[col].value == "—", col
    assert sup["可靠性"].value == "不予发布"
    assert sup["可靠性说明"].value.startswith("样本量过少：有效样本量小于30")
    assert _row(ws, CAUTION_COUNTY)["可靠性"].value == "谨慎解读"


def test_overall_sheet_mixes_percent_and_points(wb):
    ws = wb["全市"]
    assert _row(ws, "具备科学素质的公民比例")["估计值"].number_format == "0.0%"
    assert _row(ws, "总分（满分100）")["估计值"].number_format == "0.00"


def test_benchmark_sheet_reads_as_shares(wb):
    ws = wb["基准"]
    assert ws.max_row == 27
    assert _row(ws, 1)["基准"].value.startswith("知道世界是可被认知的")
    assert _row(ws, 1)["估计值"].number_format == "0.0%"


def test_target_sheet_matches_targets_csv(wb, built):
    t = pd.read_csv(built.paths.processed("targets.csv"), encoding="utf-8-sig")
    ws = wb["目标判定"]
    words = {"met": "已达到目标", "not met": "未达到目标", "undetermined": "尚不能判定"}
    for r in t.itertuples():
        row = _row(ws, r.domain)
        expected = words[r.verdict] if r.publish != "none" else "不作判定"  # verdict published even when withheld
        assert row["判定"].value == expected, r.domain


def test_notes_sheet_explains_every_column(wb):
    notes = wb["说明"]
    items = {row[0].value: row[1].value for row in notes.iter_rows(min_row=2)}
    for sheet in SHEETS[:-1]:
        for c in wb[sheet][1]:
            assert items.get(c.value), (sheet, c.value)
    for flag in ("可靠", "谨慎解读", "不予发布"):
        assert f"可靠性：{flag}" in items
    assert items["数据"].startswith("演示数据")


def test_csvs_have_bom_and_same_headers(built, wb):
    folder = built.dir / "tables"
    stems = {"全市": "overall", "县区": "county", "人群": "group", "分组": "subgroups", "维度得分": "scores",
             "基准": "benchmarks", "目标判定": "targets", "说明": "notes"}
    for sheet, stem in stems.items():
        raw = (folder / f"{stem}.csv").read_bytes()
        assert raw.startswith(b"\xef\xbb\xbf"), stem
        header = raw[3:].split(b"\n", 1)[0].decode("utf-8").split(",")
        assert header == [c.value for c in wb[sheet][1]], stem


def test_tables_byte_identical_on_rerun(inputs, built, tmp_path):
    tables = build_tables(inputs)
    for path in write_csvs(tables, tmp_path):
        assert path.read_bytes() == (built.dir / "tables" / path.name).read_bytes(), path.name
    from pipeline.reporting.office import office_sheets

    assert workbook_bytes(tables, office_sheets(inputs)) == (built.dir / "tables.xlsx").read_bytes()
