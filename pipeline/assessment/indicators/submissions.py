"""Read and validate the yearly indicator submissions in data/raw/indicators/<year>/.

Every file and every filled row ends up either accepted or listed in the issues table with its reason,
the file, the sheet and the cell, and what to do about it. Nothing is corrected silently: a number
stored as text is read and listed as a warning; everything else that is wrong is rejected.

Across files: the same indicator reported twice with the same value is a duplicate (kept once, listed);
with different values it is a conflict (no value accepted, listed with every file involved).
"""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from pipeline.plan.form import (
    FIRST_ROW,
    HEADER_ROW,
    HEADERS,
    ID_COL,
    SHEET,
    UNIT_CELL,
    VALUE_COL,
    YEAR_CELL,
)
from pipeline.plan.targets import Plan
from pipeline.schemas import C, TableSchema

ERROR, WARNING = "error", "warning"

ACCEPTED = TableSchema("indicator_submissions", (
    C("year", "int", False), C("indicator_id", "str", False), C("value", "float", False),
    C("file", "str", False), C("cell", "str", False), C("unit", "str")), key=("year", "indicator_id"))

ISSUES = TableSchema("indicator_issues", (
    C("year", "int", False), C("file", "str", False), C("sheet", "str"), C("cell", "str"),
    C("indicator_id", "str"), C("value", "str"), C("severity", "str", False), C("code", "str", False),
    C("message", "str", False)), key=("year", "file", "cell", "code", "indicator_id"))


@dataclass(frozen=True)
class Validation:
    year: int
    accepted: pd.DataFrame  # ACCEPTED
    issues: pd.DataFrame    # ISSUES
    files: int

    @property
    def errors(self) -> pd.DataFrame:
        return self.issues[self.issues["severity"] == ERROR]


class _Collector:
    def __init__(self, year: int):
        self.year, self.rows = year, []

    def add(self, file: str, code: str, message: str, sheet: str | None = None, cell: str | None = None,
            indicator_id: str | None = None, value: Any = None, severity: str = ERROR) -> None:
        self.rows.append({"year": self.year, "file": file, "sheet": sheet, "cell": cell or "",
                          "indicator_id": indicator_id or "", "value": None if value is None else str(value),
                          "severity": severity, "code": code, "message": message})


def _number(raw: Any) -> tuple[float | None, bool]:
    """(value, stored_as_text) or (None, _) when the cell is not a plain number."""
    if isinstance(raw, bool):
        return None, False
    if isinstance(raw, (int, float)):
        return float(raw), False
    if isinstance(raw, str) and re.fullmatch(r"\s*-?\d{1,3}(,\d{3})+(\.\d+)?\s*|\s*-?\d+(\.\d+)?\s*", raw):
        return float(raw.replace(",", "")), True
    return None, False


def _read_file(path: Path, year: int, plan: Plan, col: _Collector, rel: str) -> list[dict]:
    from openpyxl import load_workbook

    try:
        wb = load_workbook(path, data_only=True, read_only=False)
    except Exception as err:  # openpyxl raises several unrelated types for a damaged file
        col.add(rel, "file_unreadable", f"{rel}：无法作为Excel工作簿打开（{type(err).__name__}）。"
                "请用填报模板另存为 .xlsx 后重新报送。")
        return []
    if SHEET not in wb.sheetnames:
        col.add(rel, "sheet_missing", f"{rel}：没有名为“{SHEET}”的工作表（现有：{'、'.join(wb.sheetnames)}）。请使用"
                f"`python -m pipeline indicators template --year {year}` 生成的模板填报，不要重命名工作表。")
        return []
    ws = wb[SHEET]
    header = tuple(ws.cell(row=HEADER_ROW, column=j).value for j in range(1, len(HEADERS) + 1))
    if header[:5] != HEADERS[:5]:
        col.add(rel, "header_mismatch", f"{rel}，工作表“{SHEET}”，第{HEADER_ROW}行：表头为{list(header[:5])}，应为"
                f"{list(HEADERS[:5])}。行或列被移动过，请把数值抄入新的模板。",
                sheet=SHEET, cell=f"A{HEADER_ROW}")
        return []
    raw_year = ws[YEAR_CELL].value
    y, _ = _number(raw_year)
    first, last = plan.period
    if y is None or y != int(y):
        col.add(rel, "year_invalid", f"{rel}，工作表“{SHEET}”，单元格{YEAR_CELL}：年度“{raw_year}”不是四位数字年份，"
                f"请填写{year}。", sheet=SHEET, cell=YEAR_CELL, value=raw_year)
        return []
    if not first <= int(y) <= last:
        col.add(rel, "year_outside_plan", f"{rel}，工作表“{SHEET}”，单元格{YEAR_CELL}：年度{int(y)}不在规划期"
                f"{first}—{last}年内。请填写报送年度{year}；其他年度的文件应放入该年度的文件夹。",
                sheet=SHEET, cell=YEAR_CELL, value=raw_year)
        return []
    if int(y) != year:
        col.add(rel, "year_folder_mismatch", f"{rel}，工作表“{SHEET}”，单元格{YEAR_CELL}：填报年度为{int(y)}，但文件"
                f"位于{year}年的文件夹。请移至 data/raw/indicators/{int(y)}/ 或更正年度。",
                sheet=SHEET, cell=YEAR_CELL, value=raw_year)
        return []
    unit = ws[UNIT_CELL].value
    if unit is None or not str(unit).strip():
        col.add(rel, "unit_missing", f"{rel}，工作表“{SHEET}”，单元格{UNIT_CELL}：未填写填报单位。数值已读取，"
                "请补填单位名称以便核实。",
                sheet=SHEET, cell=UNIT_CELL, severity=WARNING)
    known = {t.id: t for t in plan.activity}
    survey = {t.id for t in plan.targets if t.kind == "survey_level"}
    rows = []
    for r in range(FIRST_ROW, ws.max_row + 1):
        ind = ws[f"{ID_COL}{r}"].value
        raw = ws[f"{VALUE_COL}{r}"].value
        vcell = f"{VALUE_COL}{r}"
        if raw is None or (isinstance(raw, str) and not raw.strip()):
            continue  # not reported in this file: missing submissions are found across files
        ind = "" if ind is None else str(ind).strip()
        where = f"{rel}，工作表“{SHEET}”，单元格{vcell}"
        if not ind:
            col.add(rel, "id_missing", f"{where}：数值“{raw}”所在行的{ID_COL}{r}没有指标编号，请按模板恢复指标编号。",
                    sheet=SHEET, cell=vcell, value=raw)
            continue
        if ind in survey:
            col.add(rel, "survey_indicator", f"{rel}，工作表“{SHEET}”，单元格{ID_COL}{r}：{ind}由抽样调查测得，"
                    "不由单位报送，请删除该行。", sheet=SHEET, cell=f"{ID_COL}{r}",
                    indicator_id=ind, value=raw)
            continue
        if ind not in known:
            near = difflib.get_close_matches(ind, list(known), n=1)
            hint = f"是否应为“{near[0]}”？" if near else "请使用模板中的指标编号。"
            col.add(rel, "unknown_indicator", f"{rel}，工作表“{SHEET}”，单元格{ID_COL}{r}：指标编号“{ind}”不在"
                    f"规划目标清单（survey_instruments/plan/targets.yaml）中。{hint}", sheet=SHEET, cell=f"{ID_COL}{r}",
                    indicator_id=ind, value=raw)
            continue
        t = known[ind]
        value, as_text = _number(raw)
        if value is None:
            col.add(rel, "value_not_numeric", f"{where}：{ind}的数值“{raw}”不是数字。请只填阿拉伯数字，单位为"
                    f"{t.unit_zh}（例如填105000，不要填“约10.5万”）。", sheet=SHEET, cell=vcell, indicator_id=ind, value=raw)
            continue
        if value < 0:
            col.add(rel, "value_negative", f"{where}：{ind}的数值{raw}为负数，人次、个数和比例都不能为负，请更正。",
                    sheet=SHEET, cell=vcell, indicator_id=ind, value=raw)
            continue
        if t.is_percent:
            if value > 100:
                col.add(rel, "percent_out_of_range", f"{where}：{ind}为百分比指标，数值{raw}超过100，请填写0—100之间的"
                        "百分数。", sheet=SHEET, cell=vcell, indicator_id=ind, value=raw)
                continue
            if 0 < value < 1:
                col.add(rel, "percent_as_fraction", f"{where}：{ind}的数值{raw}像是小数形式；百分比指标按百分数填写"
                        f"（{value * 100:g}%应填{value * 100:g}）。", sheet=SHEET,
                        cell=vcell, indicator_id=ind, value=raw)
                continue
            value = value / 100.0
        if as_text:
            col.add(rel, "number_as_text", f"{where}：{ind}的数值“{raw}”以文本形式保存，已按{_number(raw)[0]:g}读取。"
                    "请将单元格设为数字格式。", sheet=SHEET, cell=vcell,
                    indicator_id=ind, value=raw, severity=WARNING)
        rows.append({"year": year, "indicator_id": ind, "value": value, "file": rel, "cell": vcell,
                     "unit": None if unit is None else str(unit).strip(), "raw": raw})
    return rows


def _resolve(rows: list[dict], col: _Collector) -> list[dict]:
    """One value per indicator: identical repeats kept once, differing repeats rejected as a conflict."""
    by_id: dict[str, list[dict]] = {}
    for r in rows:
        by_id.setdefault(r["indicator_id"], []).append(r)
    kept = []
    for ind, reps in by_id.items():
        reps = sorted(reps, key=lambda r: (r["file"], r["cell"]))
        places = "；".join(f"{r['file']} {SHEET}!{r['cell']} = {r['raw']}" for r in reps)
        if len(reps) == 1:
            kept.append(reps[0])
        elif len({r["value"] for r in reps}) == 1:
            kept.append(reps[0])
            for r in reps[1:]:
                col.add(r["file"], "duplicate", f"{ind}重复报送，数值相同（{places}）；已采用{reps[0]['file']}中的"
                        "数值一次。同一指标每年只需报送一次。", sheet=SHEET, cell=r["cell"],
                        indicator_id=ind, value=r["raw"], severity=WARNING)
        else:
            for r in reps:
                col.add(r["file"], "conflict", f"{ind}重复报送且数值不一致（{places}），均未采用。请牵头单位确认"
                        "一个数值并撤回另一份报送。", sheet=SHEET,
                        cell=r["cell"], indicator_id=ind, value=r["raw"])
    return kept


def validate_year(folder: Path, year: int, plan: Plan, rel_to: Path | None = None) -> Validation:
    """Validate every file in `folder` (data/raw/indicators/<year>/) and list missing submissions."""
    col = _Collector(year)
    rows: list[dict] = []
    files = sorted(p for p in folder.iterdir() if p.is_file()) if folder.is_dir() else []
    for path in files:
        rel = str(path.relative_to(rel_to)) if rel_to and path.is_relative_to(rel_to) else str(path)
        if path.name.startswith((".", "~$")):
            col.add(rel, "ignored_file", f"{rel}：隐藏文件或Excel临时锁定文件，未读取。", severity=WARNING)
            continue
        if path.suffix.lower() != ".xlsx":
            col.add(rel, "unsupported_file", f"{rel}：不接受{path.suffix or '无扩展名'}文件；请用填报模板报送 .xlsx 文件。")
            continue
        rows.extend(_read_file(path, year, plan, col, rel))
    kept = _resolve(rows, col)
    reported = {r["indicator_id"] for r in kept}
    conflicted = {r["indicator_id"] for r in col.rows if r["code"] == "conflict"}
    where = str(folder.relative_to(rel_to)) if rel_to and folder.is_relative_to(rel_to) else str(folder)
    for t in plan.activity:
        if t.applies_to(year, plan.period) and t.id not in reported and t.id not in conflicted:
            col.add(where, "missing_submission", f"{t.id}（{t.name_zh}）{year}年没有可采用的数值：{where}中没有文件"
                    f"有效报送该指标。牵头单位：{'、'.join(t.lead_units_zh)}。", indicator_id=t.id,
                    severity=ERROR)
    accepted = pd.DataFrame(kept, columns=["year", "indicator_id", "value", "file", "cell", "unit"])
    accepted["year"] = accepted["year"].astype("int64")
    accepted["value"] = accepted["value"].astype(float)
    issues = pd.DataFrame(col.rows, columns=[c.name for c in ISSUES.columns])
    issues["year"] = issues["year"].astype("int64")
    return Validation(year, accepted, issues, len(files))
