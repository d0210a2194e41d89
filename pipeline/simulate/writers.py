"""Write a demo delivery the way fieldwork delivers it: an SPSS file with Chinese labels, CSV side files
in UTF-8 with BOM, and checksums. The SPSS header's creation stamp is fixed so that the same seed gives
byte-identical files."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pyreadstat

from pipeline.instruments.model import Instrument
from pipeline.manifest import sha256_file
from pipeline.tableio import fix_file_stamp

# the .sav header's creation date ("dd Mmm yy") and time ("hh:mm:ss"), written from the clock


def write_sav(rec: pd.DataFrame, path: Path, inst: Instrument, wave: int, extra_labels: dict | None = None,
              compress: bool = False) -> None:
    labels: dict[str, str] = dict(extra_labels or {})
    values: dict[str, dict[float, str]] = {}
    missing_ranges: dict[str, list] = {}
    miss = {float(m.code): m.label_zh for m in inst.missing_codes}
    lo, hi = min(miss), max(miss)
    adm = dict(inst.admin)
    labels[adm["questionnaire_id"]] = "问卷编号"
    labels[adm["interviewer_id"]] = "访问员编号"
    labels[adm["start_time"]] = "访问开始时间"
    labels[adm["end_time"]] = "访问结束时间"
    labels[adm["p_psu"]] = "乡镇（街道）入样概率"
    labels[adm["p_ssu"]] = "村（居）入样概率"
    labels[adm["p_hh"]] = "住户入样概率"
    for ident in inst.identifiers:
        labels[ident.column] = ident.label_zh
    for d in inst.demographics:
        labels[d.column] = d.label_zh
        if d.field == "county":
            values[d.column] = {float(c.raw): c.name_zh for c in inst.counties}
        elif d.codes:
            values[d.column] = {float(k): v for k, v in d.codes}
    for it in inst.items:
        if it.type == "multiple":
            for code, lab in it.options:
                col = f"{it.column}_{code}"
                labels[col] = f"{it.text_zh[:60]}——{lab}"
                values[col] = {0.0: "未选", 1.0: "选中", **miss}
                missing_ranges[col] = [{"lo": lo, "hi": hi}]
        else:
            labels[it.column] = it.text_zh[:80]
            values[it.column] = {**{float(c): lab for c, lab in it.options}, **miss}
            missing_ranges[it.column] = [{"lo": lo, "hi": hi}]
    pyreadstat.write_sav(
        rec, str(path), file_label=f"{wave}年泉州市公民科学素质调查"[:64],
        column_labels={c: labels.get(c) for c in rec.columns},
        variable_value_labels={c: v for c, v in values.items() if c in rec.columns},
        missing_ranges={c: v for c, v in missing_ranges.items() if c in rec.columns}, compress=compress,
    )
    fix_file_stamp(path, wave)


def write_csv(df: pd.DataFrame, path: Path) -> None:
    df.to_csv(path, index=False, encoding="utf-8-sig", lineterminator="\n")


def write_checksums(folder: Path, names: list[str]) -> None:
    lines = [f"{sha256_file(folder / n)}  {n}" for n in sorted(names)]
    (folder / "SHA256SUMS").write_text("\n".join(lines) + "\n", encoding="utf-8")
