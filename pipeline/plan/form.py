"""The Excel template a lead unit fills in each year, one row per activity indicator of the plan.

Layout (sheet 填报表): B1 the year, B2 the reporting unit, row 4 the header, one indicator per row from
row 5. Column D takes the value; percentages are entered in percent (85 for 85%). The reader in
submissions.py relies on exactly this layout, so both live on the constants below.
"""

from __future__ import annotations

import io
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from pipeline.plan.targets import Plan, PlanTarget
from pipeline.publishing.workbook import FIXED_TIME, normalise_zip
from pipeline.tableio import atomic_path

SHEET = "填报表"
YEAR_CELL, UNIT_CELL = "B1", "B2"
HEADER_ROW, FIRST_ROW = 4, 5
HEADERS = ("指标编号", "指标名称", "单位", "数值", "备注", "规划目标", "牵头单位")
ID_COL, VALUE_COL, NOTE_COL = "A", "D", "E"
KIND_ZH = {"annual_minimum": "每年不少于", "cumulative": "2021—2025年累计不少于", "coverage_by_deadline": "到期覆盖率达到",
           "share_by_deadline": "到期比例达到", "unit_coverage": "到期覆盖县（市、区）比例达到"}
INSTRUCTIONS = (
    "1. 每个牵头单位每年填报一份，文件保存为 .xlsx，放入 data/raw/indicators/<年度>/。",
    "2. B1 填报年度（2021—2025年之间的四位年份，与所在文件夹一致），B2 填写填报单位全称。",
    "3. 只填写“数值”和“备注”两列，不要修改指标编号、不要增删列；本单位不负责的指标留空。",
    "4. 数值只填阿拉伯数字，不带单位、不写“约”“万”等文字；人次、人、个等为当年新增数。",
    "5. 单位为“%”的指标按百分数填写，例如 85% 填 85（不要填 0.85）。",
    "6. 同一指标同一年度只报送一次；如需更正，请替换原文件，不要另交一份不同数值的文件。",
)


def target_text(t: PlanTarget) -> str:
    value = f"{t.value * 100:g}%" if t.is_percent else f"{t.value:,.0f}{t.unit_zh}"
    when = f"（{t.deadline}年）" if t.deadline else ""
    return f"{KIND_ZH.get(t.kind, t.kind)}{value}{when}"


def template_rows(plan: Plan, year: int) -> list[PlanTarget]:
    return [t for t in plan.activity if t.applies_to(year, plan.period)]


def workbook_bytes(plan: Plan, year: Any, unit: str = "", values: Mapping[str, Any] | None = None,
                   notes: Mapping[str, str] | None = None, ids: Mapping[str, str] | None = None,
                   rows_for: int | None = None) -> bytes:
    """The template for `year`; `values`/`notes` pre-fill column D/E by indicator id (demo submissions),
    `ids` replaces an indicator id as typed (demo faults). `year` is written as given, so a demo file can
    carry a wrong year; `rows_for` picks the indicators (default: those of `year`)."""
    from openpyxl import Workbook
    from openpyxl.styles import Alignment, Font, PatternFill

    values, notes, ids = values or {}, notes or {}, ids or {}
    wb = Workbook()
    ws = wb.active
    ws.title = SHEET
    wb.properties.creator = "quanzhou-literacy pipeline"
    wb.properties.created = FIXED_TIME
    wb.properties.modified = FIXED_TIME
    ws["A1"], ws[YEAR_CELL] = "填报年度", year
    ws["A2"], ws[UNIT_CELL] = "填报单位", unit
    ws["C1"] = "泉州市全民科学素质行动规划纲要实施方案（2021—2025年）监测指标填报表"
    bold, fill = Font(bold=True), PatternFill("solid", fgColor="DCE6F1")
    for j, h in enumerate(HEADERS, start=1):
        cell = ws.cell(row=HEADER_ROW, column=j, value=h)
        cell.font, cell.fill = bold, fill
        cell.alignment = Alignment(horizontal="center")
    input_fill = PatternFill("solid", fgColor="FFF2CC")
    for i, t in enumerate(template_rows(plan, int(rows_for if rows_for is not None else year)), start=FIRST_ROW):
        ws.cell(row=i, column=1, value=ids.get(t.id, t.id))
        ws.cell(row=i, column=2, value=t.name_zh)
        ws.cell(row=i, column=3, value=t.unit_zh)
        ws.cell(row=i, column=4, value=values.get(t.id)).fill = input_fill
        ws.cell(row=i, column=5, value=notes.get(t.id)).fill = input_fill
        ws.cell(row=i, column=6, value=target_text(t))
        ws.cell(row=i, column=7, value="、".join(t.lead_units_zh))
    for col, width in zip("ABCDEFG", (40, 44, 8, 14, 24, 34, 22), strict=True):
        ws.column_dimensions[col].width = width
    ws.freeze_panes = f"A{FIRST_ROW}"
    notes_ws = wb.create_sheet("填报说明")
    for i, line in enumerate(INSTRUCTIONS, start=1):
        notes_ws.cell(row=i, column=1, value=line)
    notes_ws.column_dimensions["A"].width = 100
    buf = io.BytesIO()
    wb.save(buf)
    return normalise_zip(buf.getvalue())


def write_template(plan: Plan, year: int, path: Path, **fill: Any) -> Path:
    data = workbook_bytes(plan, year, **fill)
    with atomic_path(path) as tmp:
        tmp.write_bytes(data)
    return path
