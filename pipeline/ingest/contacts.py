"""The contact sheet: every sampled household with its AAPOR disposition, the base of the non-response
adjustment. Read and checked before any output is written, so a bad sheet stops ingest cleanly."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from pipeline.errors import InputError
from pipeline.ingest.columns import text_column
from pipeline.ingest.design import design_units

DISPOSITIONS = ("1.1", "1.2", "2.10", "2.11", "2.12", "2.20", "2.30", "3.10", "3.20", "3.90", "4.10", "4.50", "4.70")
NEED = ("household_id", "county_code", "township", "village", "urban", "p_psu", "p_ssu", "p_hh", "disposition",
        "questionnaire_id")
PROBABILITIES = ("p_psu", "p_ssu", "p_hh")


def read_contacts(src: Path) -> pd.DataFrame:
    """The raw sheet, text columns as delivered and probabilities as floats; fatal problems raise."""
    if not src.exists():
        raise InputError(f"{src}: the contact sheet (every sampled household and its AAPOR disposition) is missing. "
                         "Non-response adjustment needs it: ask fieldwork for contacts.csv.")
    try:
        c = pd.read_csv(src, dtype=str, encoding="utf-8-sig", keep_default_na=False, engine="pyarrow")
    except Exception as err:  # the Arrow reader raises its own types for malformed CSV
        raise InputError(f"{src}: cannot be read as CSV ({type(err).__name__}: {err}). Ask fieldwork to export "
                         "the contact sheet again as UTF-8 CSV.") from None
    missing = [k for k in NEED if k not in c.columns]
    if missing:
        raise InputError(f"{src}: columns {missing} are missing; it has {list(c.columns)}. Ask fieldwork for the "
                         "agreed contact-sheet layout.")
    dup = c["household_id"].duplicated(keep=False).to_numpy()
    if dup.any():
        rows = np.flatnonzero(dup) + 2
        first = c["household_id"].iloc[rows[0] - 2]
        raise InputError(f"{src}: household_id {first!r} appears on rows {', '.join(map(str, rows[:2]))} "
                         f"({int(dup.sum())} rows share a household_id with another). Each sampled household must "
                         "appear once: ask fieldwork which row is the household's final disposition.")
    bad = ~c["disposition"].isin(DISPOSITIONS)
    if bad.any():
        i = int(np.flatnonzero(bad.to_numpy())[0])
        raise InputError(f"{src} row {i + 2}: disposition {c['disposition'].iloc[i]!r} is not an AAPOR code this pipeline "
                         f"knows ({', '.join(DISPOSITIONS)}). Recode it with fieldwork.")
    for col in PROBABILITIES:
        try:  # Arrow's number parser is ten times faster than pandas'; pandas finds the bad cell for the message
            p = pd.Series(pc.cast(pa.array(c[col], from_pandas=True), pa.float64()).to_numpy(zero_copy_only=False))
        except (pa.ArrowInvalid, pa.ArrowTypeError):
            p = pd.to_numeric(c[col], errors="coerce")
        bad = (p.isna() | (p <= 0) | (p > 1)).to_numpy()
        if bad.any():
            i = int(np.flatnonzero(bad)[0])
            raise InputError(f"{src} row {i + 2}: column {col} is {c[col].iloc[i]!r}; a selection probability must be "
                             "a number in (0, 1]. Ask fieldwork for the recorded value.")
        c[col] = p.astype(float)
    return c


def contacts_table(c: pd.DataFrame, questionnaire_ids: np.ndarray, respondent_ids: np.ndarray) -> pd.DataFrame:
    """The sheet in the contacts schema; a household links to its respondent only if that interview was
    accepted (questionnaire_ids/respondent_ids are the accepted ones)."""
    stratum, psu = design_units(c["county_code"], c["township"], c["village"], c["p_psu"].to_numpy())
    link = pd.Index(questionnaire_ids).get_indexer(c["questionnaire_id"])
    return pd.DataFrame({
        "household_id": c["household_id"], "stratum": stratum, "county_code": c["county_code"],
        "psu": psu, "ssu": c["village"], "urban": c["urban"],
        "p_psu": c["p_psu"], "p_ssu": c["p_ssu"], "p_hh": c["p_hh"],
        "disposition": c["disposition"],
        "respondent_id": text_column(link, respondent_ids),
    })
