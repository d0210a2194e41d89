"""The office sheets of tables.xlsx: bulletin layout (title, unit, headings, note), 人数 = share × population,
withheld cells dashed, response rates and the weighting summary."""

from __future__ import annotations

from dataclasses import replace

import openpyxl
import pandas as pd
import pytest

from pipeline import vocabulary as V
from pipeline.publishing import labels as L
from pipeline.reporting.office import WAN, office_sheets
from pipeline.reporting.tables import build_tables, workbook_bytes

from .conftest import PLANTED_FORMS, SUPPRESSED_COUNTY


@pytest.fixture(scope="module")
def with_pop(inputs):
    e = inputs.estimates
    cells = e[e["estimand_id"] == L.HEADLINE][["domain_type", "domain", "n"]].drop_duplicates()
    pop = cells.assign(wave=inputs.wave, population=[1000.0 * (i + 37) for i in range(len(cells))], se=0.0,
                       variance_method="replicate")
    return replace(inputs, populations=pop.reset_index(drop=True))


def _sheet(data: bytes, name: str) -> list[list]:
    import io

    ws = openpyxl.load_workbook(io.BytesIO(data))[name]
    return [list(r) for r in ws.iter_rows(values_only=True)]


def test_county_sheet_is_laid_out_as_a_bulletin_table(with_pop):
    data = workbook_bytes(build_tables(with_pop), office_sheets(with_pop))
    rows = _sheet(data, "公报表1 县区人数")
    assert rows[0][0].startswith("表1 ") and "人数" in rows[0][0]
    assert rows[1][-1] == "单位：人、%、万人"
    assert rows[2][:5] == ["县（市、区）", "样本量（人）", "比例（%）", "95%置信区间（%）", "具备科学素质人数（万人）"]
    body = {r[0]: r for r in rows[3:] if r[0] in (*V.counties().names, "全市")}
    assert set(body) == {*V.counties().names, "全市"}
    note = next(r[0] for r in rows[3:] if r[0] and str(r[0]).startswith("注："))
    assert "人数＝比例×" in note
    pop = with_pop.populations.set_index(["domain_type", "domain"])["population"]
    for name, r in body.items():
        cell = with_pop.cell(L.HEADLINE, "overall" if name == "全市" else "county", name)
        if name == SUPPRESSED_COUNTY:
            assert r[2] == r[3] == r[4] == L.DASH
            continue
        p = pop[("overall" if name == "全市" else "county", name)]
        assert r[2] == pytest.approx(round(100 * cell["est"], 1))
        assert r[4] == pytest.approx(round(cell["est"] * p / WAN, 2))
        assert r[5] == pytest.approx(round(p / WAN, 2))


def test_groups_response_rates_and_weighting_summary(with_pop):
    data = workbook_bytes(build_tables(with_pop), office_sheets(with_pop))
    groups = _sheet(data, "公报表2 人群人数")
    labels = [r[0] for r in groups]
    assert "农民" in " ".join(str(x) for x in labels) and "性别：男" in labels
    rates = _sheet(data, "回答率")
    assert rates[0][0].startswith("表3") and rates[2][0] == "地区"
    weighting = [r for r in _sheet(data, "加权概况") if any(v is not None for v in r)]
    titles = [r[0] for r in weighting if r[0] and str(r[0]).startswith("表")]
    assert any("设计效应" in t for t in titles)
    text = "\n".join(str(v) for r in weighting for v in r if v is not None)
    assert "county_sex_age_urban" not in text  # readers see Chinese, not the control tables' ids


def test_without_populations_counts_are_not_provided(inputs):
    rows = _sheet(workbook_bytes(build_tables(inputs), office_sheets(inputs)), "公报表1 县区人数")
    city = next(r for r in rows if r[0] == "全市")
    assert city[4] == L.DASH and city[5] == L.NOT_PROVIDED


def test_planted_value_not_in_office_sheets(with_pop):
    data = workbook_bytes(build_tables(with_pop), office_sheets(with_pop))
    for name in ("公报表1 县区人数", "公报表2 人群人数"):
        text = "\n".join(str(v) for r in _sheet(data, name) for v in r if v is not None)
        assert not any(p in text for p in PLANTED_FORMS)
    assert pd.notna(with_pop.populations["population"]).all()
