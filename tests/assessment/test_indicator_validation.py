"""Validation of indicator submissions: every malformed file or cell is named with its fix, and every
filled row ends up accepted or listed."""

from __future__ import annotations

from pathlib import Path

import pytest
from openpyxl import load_workbook

from pipeline.assessment.indicators.submissions import validate_year
from pipeline.paths import PLAN_TARGETS
from pipeline.plan.form import (
    FIRST_ROW,
    SHEET,
    template_rows,
    workbook_bytes,
    write_template,
)
from pipeline.plan.targets import load_plan

YEAR = 2023
PLAN = load_plan(PLAN_TARGETS)


def _row_of(indicator: str) -> int:
    return FIRST_ROW + [t.id for t in template_rows(PLAN, YEAR)].index(indicator)


def _write(folder: Path, name: str, values: dict, year=YEAR, **kw) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_bytes(workbook_bytes(PLAN, year, kw.pop("unit", "市科协"), values, rows_for=YEAR, **kw))
    return path


def _full(**override) -> dict:
    """A complete, valid set of values for every activity indicator (percent for percentages)."""
    vals = {t.id: (80 if t.is_percent else int(t.value * 1.2)) for t in template_rows(PLAN, YEAR)}
    vals.update(override)
    return vals


def _issue(v, code):
    rows = v.issues[v.issues["code"] == code]
    assert len(rows), f"no {code} issue in {v.issues[['code', 'message']].to_dict('records')}"
    return rows.iloc[0]


def test_clean_submission_is_accepted_whole(tmp_path):
    folder = tmp_path / str(YEAR)
    _write(folder, "all.xlsx", _full())
    v = validate_year(folder, YEAR, PLAN, rel_to=tmp_path)
    assert len(v.issues) == 0
    assert len(v.accepted) == len(template_rows(PLAN, YEAR))
    share = v.accepted.set_index("indicator_id").loc["elderly_scientific_exercise_share", "value"]
    assert share == pytest.approx(0.80)  # entered as 80 (percent), stored as a fraction


def test_unknown_indicator_names_file_cell_and_suggests(tmp_path):
    folder = tmp_path / str(YEAR)
    _write(folder, "农业.xlsx", _full(), ids={"farmers_practical_training": "farmers_practical_trainning"})
    v = validate_year(folder, YEAR, PLAN, rel_to=tmp_path)
    r = _issue(v, "unknown_indicator")
    cell = f"A{_row_of('farmers_practical_training')}"
    assert r["cell"] == cell and r["severity"] == "error"
    assert f"{YEAR}/农业.xlsx" in r["message"] and f"单元格{cell}" in r["message"] and SHEET in r["message"]
    assert "farmers_practical_trainning" in r["message"] and "是否应为“farmers_practical_training”" in r["message"]
    assert "farmers_practical_training" not in set(v.accepted["indicator_id"])
    missing = _issue(v, "missing_submission")
    assert missing["indicator_id"] == "farmers_practical_training"


@pytest.mark.parametrize(("value", "code", "fragment"), [
    ("约10.5万", "value_not_numeric", "不是数字"),
    (-28, "value_negative", "为负数"),
    (True, "value_not_numeric", "不是数字"),
])
def test_bad_values_are_rejected_with_cell(tmp_path, value, code, fragment):
    folder = tmp_path / str(YEAR)
    _write(folder, "f.xlsx", _full(farmers_demonstration_bases=value))
    v = validate_year(folder, YEAR, PLAN, rel_to=tmp_path)
    r = _issue(v, code)
    cell = f"D{_row_of('farmers_demonstration_bases')}"
    assert r["cell"] == cell and f"单元格{cell}" in r["message"] and fragment in r["message"]
    assert str(value) in r["message"] and "f.xlsx" in r["message"]
    assert "farmers_demonstration_bases" not in set(v.accepted["indicator_id"])


@pytest.mark.parametrize(("value", "code"), [(0.98, "percent_as_fraction"), (104, "percent_out_of_range")])
def test_percentages(tmp_path, value, code):
    folder = tmp_path / str(YEAR)
    _write(folder, "p.xlsx", _full(farmers_agritech_staff_trained_share=value))
    v = validate_year(folder, YEAR, PLAN, rel_to=tmp_path)
    r = _issue(v, code)
    assert r["indicator_id"] == "farmers_agritech_staff_trained_share" and r["cell"].startswith("D")
    if code == "percent_as_fraction":
        assert "98%应填98" in r["message"]


def test_number_stored_as_text_is_read_and_listed(tmp_path):
    folder = tmp_path / str(YEAR)
    _write(folder, "t.xlsx", _full(workers_trained="52,000"))
    v = validate_year(folder, YEAR, PLAN, rel_to=tmp_path)
    r = _issue(v, "number_as_text")
    assert r["severity"] == "warning" and "已按52000读取" in r["message"]
    assert v.accepted.set_index("indicator_id").loc["workers_trained", "value"] == 52000


@pytest.mark.parametrize(("year_cell", "code", "fragment"), [
    (2020, "year_outside_plan", "不在规划期2021—2025年内"),
    (2024, "year_folder_mismatch", "位于2023年的文件夹"),
    ("二〇二三", "year_invalid", "不是四位数字年份"),
])
def test_year_cell(tmp_path, year_cell, code, fragment):
    folder = tmp_path / str(YEAR)
    _write(folder, "y.xlsx", _full(), year=year_cell)
    v = validate_year(folder, YEAR, PLAN, rel_to=tmp_path)
    r = _issue(v, code)
    assert r["cell"] == "B1" and "单元格B1" in r["message"] and fragment in r["message"]
    assert len(v.accepted) == 0  # the whole file is refused: its year is unknown
    assert (v.issues["code"] == "missing_submission").sum() == len(template_rows(PLAN, YEAR))


def test_duplicates_kept_once_and_conflicts_rejected(tmp_path):
    folder = tmp_path / str(YEAR)
    only = {"workers_trained": 40000, "workers_high_skilled_trained": 1700}
    _write(folder, "a.xlsx", only, unit="市总工会")
    _write(folder, "b.xlsx", {"workers_trained": 41500, "workers_high_skilled_trained": 1700}, unit="市总工会")
    v = validate_year(folder, YEAR, PLAN, rel_to=tmp_path)
    dup = _issue(v, "duplicate")
    assert dup["severity"] == "warning" and dup["indicator_id"] == "workers_high_skilled_trained"
    assert v.accepted.set_index("indicator_id").loc["workers_high_skilled_trained", "file"].endswith("a.xlsx")
    conflicts = v.issues[v.issues["code"] == "conflict"]
    assert sorted(Path(f).name for f in conflicts["file"]) == ["a.xlsx", "b.xlsx"]
    assert "40000" in conflicts["message"].iloc[0] and "41500" in conflicts["message"].iloc[0]
    assert "workers_trained" not in set(v.accepted["indicator_id"])
    # a conflict is its own finding, not also a missing submission
    missing = set(v.issues.loc[v.issues["code"] == "missing_submission", "indicator_id"])
    assert "workers_trained" not in missing and "youth_competition_participants" in missing


def test_files_that_are_not_templates(tmp_path):
    folder = tmp_path / str(YEAR)
    folder.mkdir(parents=True)
    (folder / "notes.csv").write_text("id,value\n", encoding="utf-8")
    (folder / "broken.xlsx").write_bytes(b"not a zip")
    (folder / "~$open.xlsx").write_bytes(b"")
    renamed = _write(folder, "renamed.xlsx", _full())
    wb = load_workbook(renamed)
    wb[SHEET].title = "Sheet1"
    wb.save(renamed)
    v = validate_year(folder, YEAR, PLAN, rel_to=tmp_path)
    codes = dict(zip((Path(f).name for f in v.issues["file"]), v.issues["code"], strict=False))
    assert codes["notes.csv"] == "unsupported_file"
    assert codes["broken.xlsx"] == "file_unreadable"
    assert codes["~$open.xlsx"] == "ignored_file"
    assert codes["renamed.xlsx"] == "sheet_missing"
    assert "indicators template --year 2023" in _issue(v, "sheet_missing")["message"]


def test_every_filled_row_is_accepted_or_listed(tmp_path):
    folder = tmp_path / str(YEAR)
    vals = _full(farmers_demonstration_bases=-1, workers_trained="很多")
    _write(folder, "x.xlsx", vals, ids={"youth_competition_participants": "youth_competitions"})
    v = validate_year(folder, YEAR, PLAN, rel_to=tmp_path)
    row_issues = v.issues[v.issues["code"].isin(["unknown_indicator", "value_negative", "value_not_numeric"])]
    assert len(v.accepted) + len(row_issues) == len(vals)


def test_template_round_trip(tmp_path):
    path = write_template(PLAN, 2024, tmp_path / "t.xlsx")
    ws = load_workbook(path)[SHEET]
    assert ws["B1"].value == 2024
    ids = [ws[f"A{r}"].value for r in range(FIRST_ROW, ws.max_row + 1)]
    assert ids == [t.id for t in template_rows(PLAN, 2024)]
    assert "overall_literacy_share" not in ids
    v = validate_year(tmp_path / "none", 2024, PLAN)  # an empty template is no submission at all
    assert (v.issues["code"] == "missing_submission").all()
