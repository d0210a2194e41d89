"""Writing the analysis file in each format, and its codebook.

.sav and .dta carry the Chinese variable labels and value labels in the file (UTF-8; Stata 14 or later);
.csv (UTF-8 with BOM) and .parquet carry the codes, and the codebook beside them gives every label. All
four hold exactly the same values: floats are written at full precision, so a replicate standard error
recomputed from any of them equals the published one.
"""

from __future__ import annotations

import datetime as _dt
import io
import json
from collections.abc import Callable
from pathlib import Path

import pandas as pd

from pipeline.export.variables import AnalysisFile
from pipeline.tableio import CSV_ENCODING, fix_file_stamp, fixed_zip

FORMATS = ("sav", "dta", "csv", "parquet")
KIND_LABELS = {"string": "字符", "code": "编码（见取值标签）", "number": "数值", "weight": "权数"}


def _wave(af: AnalysisFile) -> int:
    """The wave, for the fixed write time in the file header (same data, same bytes)."""
    return int(af.data["wave"].iloc[0]) if "wave" in af.data and len(af.data) else 2000


def _sav(af: AnalysisFile, path: Path, title: str) -> None:
    import pyreadstat

    measure = {v.name: ("nominal" if v.kind in ("code", "string") else "scale") for v in af.variables}
    measure.update({n: "ordinal" for n in ("age_band", "education", "level") if n in measure})
    pyreadstat.write_sav(af.data, str(path), file_label=title, column_labels=af.column_labels,
                         variable_value_labels=af.value_labels, variable_measure=measure)
    fix_file_stamp(path, _wave(af))


def _dta(af: AnalysisFile, path: Path, title: str) -> None:
    import pyreadstat

    # version 15 writes Stata's format 119 (UTF-8 labels, Stata 15+ reads it; 14 reads 118-compatible files)
    pyreadstat.write_dta(af.data, str(path), file_label=title[:80], column_labels=af.column_labels,
                         variable_value_labels=af.value_labels, version=15)
    fix_file_stamp(path, _wave(af))


def _csv(af: AnalysisFile, path: Path, title: str) -> None:
    af.data.to_csv(path, index=False, encoding=CSV_ENCODING, lineterminator="\n")


def _parquet(af: AnalysisFile, path: Path, title: str) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    table = pa.Table.from_pandas(af.data, preserve_index=False)
    meta = dict(table.schema.metadata or {})
    meta[b"codebook"] = json.dumps({"title": title, "variables": [
        {"name": v.name, "label": v.label, "kind": v.kind, "values": {str(k): x for k, x in v.values.items()}}
        for v in af.variables], "design": af.design}, ensure_ascii=False, sort_keys=True).encode()
    pq.write_table(table.replace_schema_metadata(meta), path, compression="zstd")


WRITERS: dict[str, Callable[[AnalysisFile, Path, str], None]] = {
    "sav": _sav, "dta": _dta, "csv": _csv, "parquet": _parquet,
}


def codebook(af: AnalysisFile) -> pd.DataFrame:
    rows = []
    for v in af.variables:
        col = af.data[v.name]
        rows.append({
            "variable": v.name, "label": v.label, "type": v.kind,
            "values": "; ".join(f"{k}={x}" for k, x in v.values.items()) if len(v.values) <= 40
            else f"{len(v.values)} 个编码，见 value_labels",
            "n_valid": int(col.notna().sum()), "note": v.note,
        })
    return pd.DataFrame(rows)


def value_label_table(af: AnalysisFile) -> pd.DataFrame:
    rows = [{"variable": v.name, "code": k, "label": x} for v in af.variables for k, x in v.values.items()]
    return pd.DataFrame(rows, columns=["variable", "code", "label"])


def write_codebook_xlsx(af: AnalysisFile, path: Path, title: str) -> None:
    from openpyxl import Workbook
    from openpyxl.styles import Font

    wb = Workbook()
    book = codebook(af)
    sheets = [
        ("变量", title, ["变量名", "变量标签", "类型", "取值标签", "有效个数", "说明"],
         [[r.variable, r.label, KIND_LABELS[r.type], r.values, r.n_valid, r.note] for r in book.itertuples()]),
        ("取值标签", "取值标签", ["变量名", "编码", "标签"],
         value_label_table(af).to_numpy().tolist()),
        ("复制权数", "复制权数及其方差系数（rscales）", ["变量名", "删去的层", "删去的初级抽样单位", "rscale"],
         af.replicates.to_numpy().tolist()),
    ]
    wb.remove(wb.active)
    for name, heading, header, rows in sheets:
        ws = wb.create_sheet(name)
        ws.append([heading])
        ws["A1"].font = Font(bold=True, size=12)
        ws.append(header)
        for cell in ws[2]:
            cell.font = Font(bold=True)
        for r in rows:
            ws.append(list(r))
        for col, width in zip("ABCDEF", (16, 48, 14, 60, 10, 40), strict=False):
            ws.column_dimensions[col].width = width
    wb.properties.created = wb.properties.modified = _dt.datetime(2000, 1, 1)
    buf = io.BytesIO()
    wb.save(buf)
    Path(path).write_bytes(fixed_zip(buf.getvalue(), "2000-01-01T00:00:00Z"))
