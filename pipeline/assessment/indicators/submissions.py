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

from pipeline.assessment.indicators.template import (
    FIRST_ROW,
    HEADER_ROW,
    HEADERS,
    ID_COL,
    SHEET,
    UNIT_CELL,
    VALUE_COL,
    YEAR_CELL,
)
from pipeline.assessment.spec import Plan
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
        col.add(rel, "file_unreadable", f"{rel}: cannot be opened as an Excel workbook ({type(err).__name__}). "
                "Save it again as .xlsx from the template.")
        return []
    if SHEET not in wb.sheetnames:
        col.add(rel, "sheet_missing", f"{rel}: no sheet {SHEET!r} (sheets: {wb.sheetnames}). Fill in the template "
                f"from `python -m pipeline indicators template --year {year}` without renaming its sheet.")
        return []
    ws = wb[SHEET]
    header = tuple(ws.cell(row=HEADER_ROW, column=j).value for j in range(1, len(HEADERS) + 1))
    if header[:5] != HEADERS[:5]:
        col.add(rel, "header_mismatch", f"{rel}, sheet {SHEET}, row {HEADER_ROW}: header {list(header[:5])} is not "
                f"{list(HEADERS[:5])}. Rows or columns were moved; copy the values into a fresh template.",
                sheet=SHEET, cell=f"A{HEADER_ROW}")
        return []
    raw_year = ws[YEAR_CELL].value
    y, _ = _number(raw_year)
    first, last = plan.period
    if y is None or y != int(y):
        col.add(rel, "year_invalid", f"{rel}, sheet {SHEET}, cell {YEAR_CELL}: year {raw_year!r} is not a "
                f"four-digit year. Write {year}.", sheet=SHEET, cell=YEAR_CELL, value=raw_year)
        return []
    if not first <= int(y) <= last:
        col.add(rel, "year_outside_plan", f"{rel}, sheet {SHEET}, cell {YEAR_CELL}: year {int(y)} is outside the "
                f"plan period {first}–{last}. Write the reporting year ({year}); a file for another year "
                "belongs in that year's folder.", sheet=SHEET, cell=YEAR_CELL, value=raw_year)
        return []
    if int(y) != year:
        col.add(rel, "year_folder_mismatch", f"{rel}, sheet {SHEET}, cell {YEAR_CELL}: year {int(y)} but the file "
                f"is in the folder for {year}. Move it to data/raw/indicators/{int(y)}/ or correct the year.",
                sheet=SHEET, cell=YEAR_CELL, value=raw_year)
        return []
    unit = ws[UNIT_CELL].value
    if unit is None or not str(unit).strip():
        col.add(rel, "unit_missing", f"{rel}, sheet {SHEET}, cell {UNIT_CELL}: the reporting unit is empty; its "
                "values are read, but write the unit's name so questions can be sent back.",
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
        where = f"{rel}, sheet {SHEET}, cell {vcell}"
        if not ind:
            col.add(rel, "id_missing", f"{where}: value {raw!r} has no indicator id in {ID_COL}{r}. Restore the id "
                    "from the template.", sheet=SHEET, cell=vcell, value=raw)
            continue
        if ind in survey:
            col.add(rel, "survey_indicator", f"{rel}, sheet {SHEET}, cell {ID_COL}{r}: {ind!r} is measured by the "
                    "survey, not reported by units; remove the row.", sheet=SHEET, cell=f"{ID_COL}{r}",
                    indicator_id=ind, value=raw)
            continue
        if ind not in known:
            near = difflib.get_close_matches(ind, list(known), n=1)
            hint = f" Did you mean {near[0]!r}?" if near else " Use the ids of the template."
            col.add(rel, "unknown_indicator", f"{rel}, sheet {SHEET}, cell {ID_COL}{r}: indicator id {ind!r} is "
                    f"not in survey_instruments/plan/targets.yaml.{hint}", sheet=SHEET, cell=f"{ID_COL}{r}",
                    indicator_id=ind, value=raw)
            continue
        t = known[ind]
        value, as_text = _number(raw)
        if value is None:
            col.add(rel, "value_not_numeric", f"{where}: {ind} value {raw!r} is not a number. Write digits only, "
                    f"in {t.unit_zh} (e.g. 105000, not 约10.5万).", sheet=SHEET, cell=vcell, indicator_id=ind, value=raw)
            continue
        if value < 0:
            col.add(rel, "value_negative", f"{where}: {ind} value {raw!r} is negative; counts and shares cannot be. "
                    "Correct the sign or the figure.", sheet=SHEET, cell=vcell, indicator_id=ind, value=raw)
            continue
        if t.is_percent:
            if value > 100:
                col.add(rel, "percent_out_of_range", f"{where}: {ind} value {raw!r} is above 100 for a percentage. "
                        "Enter a percent between 0 and 100.", sheet=SHEET, cell=vcell, indicator_id=ind, value=raw)
                continue
            if 0 < value < 1:
                col.add(rel, "percent_as_fraction", f"{where}: {ind} value {raw!r} looks like a fraction; percentages "
                        f"are entered in percent (write {value * 100:g} for {value * 100:g}%).", sheet=SHEET,
                        cell=vcell, indicator_id=ind, value=raw)
                continue
            value = value / 100.0
        if as_text:
            col.add(rel, "number_as_text", f"{where}: {ind} value {raw!r} is stored as text; read as "
                    f"{_number(raw)[0]:g}. Format the cell as a number.", sheet=SHEET, cell=vcell,
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
        places = "; ".join(f"{r['file']} {SHEET}!{r['cell']} = {r['raw']!r}" for r in reps)
        if len(reps) == 1:
            kept.append(reps[0])
        elif len({r["value"] for r in reps}) == 1:
            kept.append(reps[0])
            for r in reps[1:]:
                col.add(r["file"], "duplicate", f"{ind} reported more than once with the same value ({places}); "
                        f"kept once from {reps[0]['file']}. Send each indicator once.", sheet=SHEET, cell=r["cell"],
                        indicator_id=ind, value=r["raw"], severity=WARNING)
        else:
            for r in reps:
                col.add(r["file"], "conflict", f"{ind} reported with different values ({places}); none is used. "
                        "The lead unit must confirm one figure and withdraw the other submission.", sheet=SHEET,
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
            col.add(rel, "ignored_file", f"{rel}: hidden or Excel lock file, not read.", severity=WARNING)
            continue
        if path.suffix.lower() != ".xlsx":
            col.add(rel, "unsupported_file", f"{rel}: {path.suffix or 'no extension'} is not accepted; submissions "
                    "are .xlsx files made from the template.")
            continue
        rows.extend(_read_file(path, year, plan, col, rel))
    kept = _resolve(rows, col)
    reported = {r["indicator_id"] for r in kept}
    conflicted = {r["indicator_id"] for r in col.rows if r["code"] == "conflict"}
    where = str(folder.relative_to(rel_to)) if rel_to and folder.is_relative_to(rel_to) else str(folder)
    for t in plan.activity:
        if t.applies_to(year, plan.period) and t.id not in reported and t.id not in conflicted:
            col.add(where, "missing_submission", f"{t.id} ({t.name_zh}) has no accepted value for {year}: no file in "
                    f"{where} reports it validly. Lead unit: {'、'.join(t.lead_units_zh)}.", indicator_id=t.id,
                    severity=ERROR)
    accepted = pd.DataFrame(kept, columns=["year", "indicator_id", "value", "file", "cell", "unit"])
    accepted["year"] = accepted["year"].astype("int64")
    accepted["value"] = accepted["value"].astype(float)
    issues = pd.DataFrame(col.rows, columns=[c.name for c in ISSUES.columns])
    issues["year"] = issues["year"].astype("int64")
    return Validation(year, accepted, issues, len(files))
