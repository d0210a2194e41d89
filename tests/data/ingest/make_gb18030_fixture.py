"""Make tests/data/ingest/gb18030/survey.sav: a small delivery written the way a Chinese-language SPSS
installation writes it (legacy GB18030 code page, not UTF-8), by GNU PSPP (Debian package `pspp`).

Run from the project root: .venv/bin/python tests/data/ingest/make_gb18030_fixture.py
It simulates a tiny demo wave, keeps its first 20 records (fake identities only), and has PSPP save
them with SET LOCALE='GB18030'. The committed file lets tests run without PSPP.
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from pathlib import Path

import pandas as pd
import pyreadstat

from pipeline.instruments import load_instrument
from pipeline.paths import ROOT
from pipeline.simulate import run_simulate

OUT = ROOT / "tests" / "data" / "ingest" / "gb18030"
N = 20


def q(text: str) -> str:
    return "'" + str(text).replace("'", "''") + "'"


def main() -> None:
    inst = load_instrument(ROOT / "survey_instruments" / "2024" / "instrument.yaml")
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        run_simulate(2024, tmp / "raw", seed=11, per_stratum=40, scale=0.05)
        df, meta = pyreadstat.read_sav(str(tmp / "raw" / "survey.sav"), user_missing=True)
        df = df.head(N)
        contacts = pd.read_csv(tmp / "raw" / "contacts.csv", dtype=str, encoding="utf-8-sig")
        contacts = contacts[contacts["questionnaire_id"].isin(df["WJBH"])]
        frame = pd.read_csv(tmp / "raw" / "frame.csv", dtype=str, encoding="utf-8-sig")
        frame = frame[frame["village"].isin(df["S3"])]
        for c in ("KSSJ", "JSSJ"):
            df[c] = pd.to_datetime(df[c]).dt.strftime("%d-%b-%Y %H:%M:%S")
        df.to_csv(tmp / "data.csv", index=False, encoding="utf-8")
        strings = {c for c in df.columns if pd.api.types.is_string_dtype(df[c]) or df[c].dtype == object}
        spec = []
        for c in df.columns:
            if c in ("KSSJ", "JSSJ"):
                spec.append(f"{c} DATETIME20")
            elif c in strings:
                spec.append(f"{c} A{max(8, int(df[c].astype(str).str.encode('utf-8').str.len().max()) + 2)}")
            else:
                spec.append(f"{c} F12.6")
        lines = ["SET LOCALE='GB18030'.",
                 f"GET DATA /TYPE=TXT /FILE={q(tmp / 'data.csv')} /ENCODING='UTF-8' /ARRANGEMENT=DELIMITED",
                 "  /DELIMITERS=',' /QUALIFIER='\"' /FIRSTCASE=2 /VARIABLES=" + " ".join(spec) + "."]
        for col, label in zip(meta.column_names, meta.column_labels):
            if label:
                lines.append(f"VARIABLE LABELS {col} {q(label)}.")
        for col, labels in meta.variable_value_labels.items():
            pairs = " ".join(f"{k:g} {q(v)}" for k, v in labels.items())
            lines.append(f"VALUE LABELS {col} {pairs}.")
        for col in meta.missing_ranges:
            lines.append(f"MISSING VALUES {col} (97 THRU 99).")
        lines.append(f"SAVE OUTFILE={q(tmp / 'survey.sav')}.")
        (tmp / "make.sps").write_text("\n".join(lines) + "\n", encoding="utf-8")
        subprocess.run(["pspp", "--syntax-encoding=UTF-8", str(tmp / "make.sps")], check=True,
                       capture_output=True)
        OUT.mkdir(parents=True, exist_ok=True)
        shutil.copy(tmp / "survey.sav", OUT / "survey.sav")
        contacts.to_csv(OUT / "contacts.csv", index=False, encoding="utf-8-sig")
        frame.to_csv(OUT / "frame.csv", index=False, encoding="utf-8-sig")
    _ = inst


if __name__ == "__main__":
    main()
