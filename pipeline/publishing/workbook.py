"""Excel workbooks of published tables (Chinese sheet names), byte-identical for the same content.

openpyxl stamps creation, modification and zip entry times; every workbook and Office file of the
project is written with FIXED_TIME and its archive rewritten with fixed entry times (normalise_zip).
"""

from __future__ import annotations

import datetime as _dt
import io
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from pipeline.publishing import labels as L
from pipeline.tableio import atomic_path, fixed_zip

VALUE_COLUMNS = ("估计值", "标准误", "95%置信区间下限", "95%置信区间上限", "差距（估计值−目标）", "目标值")
# standard errors of shares are published in percentage points everywhere (report, assessments, workbooks)
SE_COLUMNS = ("标准误", "外推标准误")
FIXED_TIME = _dt.datetime(2000, 1, 1)


@dataclass(frozen=True)
class PublishedTable:
    sheet: str
    stem: str
    frame: pd.DataFrame  # display values; suppressed cells hold the dash
    statistic: tuple[str, ...]  # per row: proportion | mean | total
    frozen: str = "A2"


def _number_format(header: str, statistic: str) -> str | None:
    if header in SE_COLUMNS:
        return '0.00"个百分点"' if statistic == "proportion" else "0.000"
    if header == "模型估计标准误":
        return '0.00"个百分点"'
    if header in VALUE_COLUMNS or header.endswith(("置信区间下限", "置信区间上限")):
        return "0.0%" if statistic == "proportion" else "0.00"
    return {"变异系数": "0.0%", "设计效应": "0.00", "有效样本量": "0", "自由度": "0", "样本量": "#,##0",
            "单侧检验p值": "0.000"}.get(header)


def workbook_bytes(tables: list[PublishedTable], extend: Callable[[Any], None] | None = None) -> bytes:
    """One sheet per table (bold headers, number formats by column, frozen panes), then whatever `extend`
    adds to the openpyxl workbook (the bulletin-layout sheets of the wave report)."""
    from openpyxl import Workbook
    from openpyxl.styles import Alignment, Font, PatternFill
    from openpyxl.utils import get_column_letter

    wb = Workbook()
    wb.remove(wb.active)
    wb.properties.creator = "quanzhou-literacy pipeline"
    wb.properties.created = FIXED_TIME
    wb.properties.modified = FIXED_TIME
    head_font, head_fill = Font(bold=True), PatternFill("solid", fgColor="DCE6F1")
    for t in tables:
        ws = wb.create_sheet(t.sheet)
        ws.append(list(t.frame.columns))
        for cell in ws[1]:
            cell.font, cell.fill = head_font, head_fill
            cell.alignment = Alignment(horizontal="center", vertical="center", wrap_text=True)
        for i, row in enumerate(t.frame.itertuples(index=False)):
            values = [None if (not isinstance(v, str) and pd.isna(v)) else v for v in row]
            # standard errors of shares in percentage points, as in the report (the CSVs keep 0–1 fractions)
            values = [round(100 * v, 6) if h in SE_COLUMNS and t.statistic[i] == "proportion"
                      and isinstance(v, (int, float)) else v for h, v in zip(t.frame.columns, values, strict=True)]
            ws.append(values)
            for j, (header, v) in enumerate(zip(t.frame.columns, values, strict=True), start=1):
                cell = ws.cell(row=i + 2, column=j)
                if v == L.DASH:
                    cell.alignment = Alignment(horizontal="right")
                elif isinstance(v, (int, float)):
                    fmt = _number_format(header, t.statistic[i])
                    if fmt:
                        cell.number_format = fmt
        for j, header in enumerate(t.frame.columns, start=1):
            longest = max([len(str(header))] + [len(str(v)) for v in t.frame.iloc[:, j - 1].tolist()])
            ws.column_dimensions[get_column_letter(j)].width = min(max(8, 1.8 * longest + 2), 60 if t.sheet == "说明" else 40)
        ws.freeze_panes = t.frozen
    if extend is not None:
        extend(wb)
    buf = io.BytesIO()
    wb.save(buf)
    return normalise_zip(buf.getvalue())


def normalise_zip(data: bytes) -> bytes:
    """Rewrite the archive with fixed entry times so the same tables give the same bytes."""
    return fixed_zip(data, FIXED_TIME.strftime("%Y-%m-%dT%H:%M:%SZ"))


def write_workbook(tables: list[PublishedTable], path: Path) -> Path:
    return write_bytes(workbook_bytes(tables), path)


def write_bytes(data: bytes, path: Path) -> Path:
    with atomic_path(path) as tmp:
        tmp.write_bytes(data)
    return path
