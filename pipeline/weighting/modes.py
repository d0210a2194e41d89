"""The weighting steps a delivery mode allows (pipeline/instruments/delivery.py).

- The base weight comes from the stage probabilities (full, no_contacts), the delivered design weight
  (design_weight) or the company's final weight (final_weight).
- Non-response is adjusted from the contact sheet (full); from a per-class table of completed and
  eligible counts (no_contacts, design_weight, when delivered); or not at all.
- Without a contact sheet the PSUs of the variance design are those with respondents.

A mode is a choice of steps from the one registry (pipeline/weighting/steps.py), `steps_for`: which
base weight, which non-response adjustment (or none), and whether calibration and trimming run.

The count-table adjustment: in class c, with E_c eligible sampled adults by the company's count and n_c
respondents accepted by ingest, every respondent's weight is multiplied by E_c / n_c (quarantined
completes count as eligible non-respondents, as with the contact sheet). The counts are fixed numbers,
so the factor is the same in every replicate: its sampling variability is not reflected.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from pipeline.errors import InputError
from pipeline.instruments.delivery import WEIGHT_COLUMN, Delivery
from pipeline.weighting.base import base_weights
from pipeline.weighting.grouped import distinct_rows

COUNT_COLUMNS = ("completed", "eligible")


def steps_for(delivery: Delivery, trimming: bool, counts: bool) -> tuple[str, ...]:
    """The weighting steps a delivery runs, in slot order (names of steps.WEIGHTING_STEPS).

    `trimming`: design.yaml names trimming bounds; `counts`: a per-class count table was delivered."""
    first = "base" if WEIGHT_COLUMN.get(delivery.mode) is None else "delivered_weight"
    nr = ("nonresponse",) if delivery.contacts else ("nonresponse_counts",) if counts else ()
    if delivery.mode == "final_weight":
        nr = ()  # the company's final weight has been adjusted for non-response already
        if not delivery.recalibrate:
            return (first, "replicates")
    return (first, "replicates", *nr, "calibration", *(("trimming",) if trimming else ()))


def delivered_base(respondents: pd.DataFrame, delivery: Delivery, path: str = "respondents.parquet") -> np.ndarray:
    """The weight the weighting starts from under this delivery mode."""
    col = WEIGHT_COLUMN.get(delivery.mode)
    if col is None:
        return base_weights(respondents, path)
    if col not in respondents.columns:
        raise InputError(f"{path} has no {col!r} column, which delivery mode {delivery.mode!r} needs: re-run ingest "
                         "with the instrument's design_columns matching design.yaml's delivery.mode.")
    w = pd.to_numeric(respondents[col], errors="coerce").to_numpy(float)
    bad = ~np.isfinite(w) | (w <= 0)
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise InputError(f"{path}, column {col!r}: {int(bad.sum())} weight(s) not positive, e.g. {w[i]!r} for "
                         f"respondent_id {respondents['respondent_id'].iloc[i]!r}.")
    return w


def respondent_psus(respondents: pd.DataFrame, stratum: str, psu: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(PSU index of each respondent, stratum of each PSU, PSU labels) from the respondents alone."""
    # the "stratum|psu" labels are made and sorted for the few hundred PSUs, not for every row
    code, keys = distinct_rows(respondents[[stratum, psu]].astype(str), [stratum, psu])
    labels, rank = np.unique(np.array([f"{a}|{b}" for a, b in keys], dtype=str), return_inverse=True)
    return rank.ravel()[code].astype(np.int64), np.array([x.split("|", 1)[0] for x in labels]), labels


def read_response_counts(path: Path, classes: tuple[str, ...]) -> pd.DataFrame:
    if not path.exists():
        raise InputError(f"{path}: the per-class table of completed and eligible counts named in design.yaml "
                         "(delivery.response_table) does not exist. Put the company's table there, or remove the key "
                         "to weight without a non-response adjustment.")
    df = pd.read_csv(path, encoding="utf-8-sig", dtype={c: str for c in classes})
    lack = [c for c in (*classes, *COUNT_COLUMNS) if c not in df.columns]
    if lack:
        raise InputError(f"{path}: lacks column(s) {lack}; it needs the weighting classes {list(classes)} "
                         f"(weighting.nonresponse.classes) and {list(COUNT_COLUMNS)}; it has {list(df.columns)}.")
    for c in COUNT_COLUMNS:
        v = pd.to_numeric(df[c], errors="coerce")
        if (v.isna() | (v < 0)).any():
            i = int(np.flatnonzero((v.isna() | (v < 0)).to_numpy())[0])
            raise InputError(f"{path}, row {i + 2}, column {c!r}: {df[c].iloc[i]!r} is not a non-negative count.")
        df[c] = v.astype(float)
    if df.duplicated(list(classes)).any():
        raise InputError(f"{path}: class {df.loc[df.duplicated(list(classes)), list(classes)].iloc[0].tolist()} "
                         "appears twice.")
    return df


def count_adjustment(respondents: pd.DataFrame, counts: pd.DataFrame, classes: tuple[str, ...],
                     path: str) -> tuple[np.ndarray, pd.DataFrame]:
    """(factor per respondent, per-class table with completed, eligible, respondents, factor)."""
    key = respondents[list(classes)].astype(str).agg("|".join, axis=1)
    table = counts.assign(_key=counts[list(classes)].astype(str).agg("|".join, axis=1)).set_index("_key")
    n = key.value_counts()
    absent = sorted(set(n.index) - set(table.index))
    if absent:
        raise InputError(f"{path}: no row for class(es) {absent[:5]} ({'/'.join(classes)}) that have respondents; "
                         "every weighting class needs its completed and eligible counts.")
    table["respondents"] = n.reindex(table.index).fillna(0).astype(float)
    short = table[(table["respondents"] > 0) & (table["eligible"] < table["respondents"])]
    if len(short):
        raise InputError(f"{path}: class {short.index[0]} has {short['eligible'].iloc[0]:g} eligible but "
                         f"{short['respondents'].iloc[0]:g} respondents; eligible counts include the respondents.")
    table["factor"] = np.where(table["respondents"] > 0, table["eligible"] / table["respondents"].where(
        table["respondents"] > 0, 1.0), np.nan)
    return table["factor"].reindex(key).to_numpy(float), table
