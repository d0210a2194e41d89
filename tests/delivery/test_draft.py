"""Onboarding from the delivery: the drafted instrument, the key sheet, TODOs refused all at once, and the
2024 demo file drafted and keyed through the sheet reaching the same estimates as the hand-written spec."""

from __future__ import annotations

import re
import shutil

import openpyxl
import pytest
import yaml

from pipeline.errors import PipelineError, SpecError
from pipeline.instruments import load_frameworks, load_instrument
from pipeline.instruments.draft import identifier_by_content, run_draft
from pipeline.instruments.keys import read_keys, write_template
from pipeline.paths import ROOT, WavePaths
from tests.conftest import make_project
from tests.delivery.helpers import fewer_domains, run_through_estimate

REFERENCE = 2099  # a copy of the hand-written 2024 spec, so the draft copies 2024's scoring, design and estimands


def _project(demo_raw, root):
    make_project(root)
    shutil.copytree(demo_raw.raw, root / "data" / "raw" / "2024")
    return WavePaths(2024, root)


def fill_from(sheet, hand_written: dict) -> None:
    """Fill the key sheet as an office would, from its own key table (here: the hand-written 2024 spec)."""
    by_column = {it["column"]: it for it in hand_written["items"]}
    names = {d.id: d.name_zh for d in load_frameworks().dimensions}  # the sheet takes the Chinese names
    wb = openpyxl.load_workbook(sheet)
    ws = wb["答案"]
    head = [c.value for c in ws[1]]
    col = {h: i + 1 for i, h in enumerate(head)}
    for r in range(2, ws.max_row + 1):
        it = by_column[ws.cell(r, col["题号"]).value]
        key = it["key"]
        ws.cell(r, col["正确答案"]).value = ",".join(map(str, key)) if isinstance(key, list) else key
        ws.cell(r, col["分值"]).value = it["points"]
        ws.cell(r, col["维度"]).value = names[it["dimension"]]
        ws.cell(r, col["基准"]).value = ",".join(map(str, it["benchmarks"]))
        if it["type"] == "multiple":
            ws.cell(r, col["多选计分"]).value = "按选项得分" if it.get("scoring") == "partial" else "全对得分"
    wb.save(sheet)


def test_draft_refuses_to_overwrite_and_marks_what_the_file_cannot_say(demo_raw, tmp_path):
    paths = _project(demo_raw, tmp_path)
    with pytest.raises(PipelineError, match="--force"):
        run_draft(paths, paths.survey)
    result = run_draft(paths, paths.survey, force=True, reference=2024)
    draft = yaml.safe_load(paths.instrument.read_text(encoding="utf-8"))
    assert result.items == 68 and result.todos == 68 * 4
    assert {i["column"]: i["kind"] for i in draft["identifiers"]} == {
        "XM": "name", "SJHM": "phone", "SFZH": "id_number", "ZZ": "address", "GPS": "gps"}
    assert draft["design_columns"] == {"p_psu": "RYGL_XZ", "p_ssu": "RYGL_CJ", "p_hh": "RYGL_HH"}
    demo = {d["field"]: d for d in draft["demographics"]}
    assert demo["sex"]["codes"] == {1: "男", 2: "女"} and demo["education"]["bands"]["大专"] == [6]
    types = {i["type"] for i in draft["items"]}
    assert types == {"true_false", "single", "multiple"}
    q55 = next(i for i in draft["items"] if i["column"] == "Q55")
    assert q55["type"] == "multiple" and len(q55["options"]) >= 4
    assert [m["code"] for m in draft["missing_codes"]] == [97, 98, 99]
    # the loader lists every TODO, not the first
    with pytest.raises(SpecError) as err:
        load_instrument(paths.instrument)
    msg = str(err.value)
    assert "272 TODO" in msg
    assert "items[Q01]: key, points, dimension, benchmarks" in msg and "items[Q68]: key" in msg


def test_identifiers_by_content():
    import pandas as pd

    assert identifier_by_content(pd.Series(["11010519491231002X", "350502198807150015"] * 3)) == "id_number"
    assert identifier_by_content(pd.Series(["110105194912310021"] * 6)) is None  # wrong check digit
    assert identifier_by_content(pd.Series(["13905951234", "18650001111"] * 3)) == "phone"
    assert identifier_by_content(pd.Series(["无", "有"] * 3)) is None


def test_key_sheet_reports_every_bad_row(demo_raw, tmp_path):
    paths = _project(demo_raw, tmp_path)
    run_draft(paths, paths.survey, force=True, reference=2024)
    sheet = write_template(paths, tmp_path / "key.xlsx")
    fill_from(sheet, yaml.safe_load((ROOT / "survey_instruments" / "2024" / "instrument.yaml").read_text("utf-8")))
    wb = openpyxl.load_workbook(sheet)
    ws = wb["答案"]
    ws["E2"] = 5          # Q01: not an option
    ws["G3"] = 1.3        # Q02: not a multiple of 0.25
    ws["H4"] = "科学常识"  # Q03: no such dimension
    ws["I5"] = "27"       # Q04: no such benchmark
    wb.save(sheet)
    before = paths.instrument.read_text(encoding="utf-8")
    with pytest.raises(SpecError) as err:
        read_keys(paths, sheet)
    msg = str(err.value)
    for where in ("第2行，正确答案列", "第3行，分值列", "第4行，维度列", "第5行，基准列"):
        assert where in msg
    assert "4 problem(s)" in msg and paths.instrument.read_text(encoding="utf-8") == before


def test_drafted_and_keyed_2024_reaches_the_hand_written_estimates(demo_raw, tmp_path):
    hand = _project(demo_raw, tmp_path / "hand")
    fewer_domains(hand)
    run_through_estimate(hand)

    drafted = _project(demo_raw, tmp_path / "drafted")
    shutil.copytree(drafted.spec, drafted.root / "survey_instruments" / str(REFERENCE))
    shutil.rmtree(drafted.spec)
    for f in (drafted.root / "survey_instruments" / str(REFERENCE)).glob("*.yaml"):  # a copy says its own wave
        f.write_text(re.sub(r"^wave: \d+", f"wave: {REFERENCE}", f.read_text(encoding="utf-8"), flags=re.M),
                     encoding="utf-8")
    fewer_domains(WavePaths(REFERENCE, drafted.root))
    run_draft(drafted, drafted.survey, reference=REFERENCE)
    sheet = write_template(drafted, tmp_path / "key.xlsx")
    fill_from(sheet, yaml.safe_load((hand.instrument).read_text(encoding="utf-8")))
    assert read_keys(drafted, sheet).todos_left == 0
    run_through_estimate(drafted)
    for name in ("estimates.csv", "targets.csv"):
        assert drafted.processed(name).read_bytes() == hand.processed(name).read_bytes(), name
