"""Base weights from the recorded selection probabilities.

A respondent represents 1 / (p_psu · p_ssu · p_hh) households and, with one adult interviewed per
household, n_adults adults of that household: w_base = n_adults / (p_psu · p_ssu · p_hh).
Sampled households (contacts) carry the household weight 1 / (p_psu · p_ssu · p_hh).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from pipeline.errors import InputError

PROBS = ("p_psu", "p_ssu", "p_hh")


def _check_probs(df: pd.DataFrame, path: str, id_col: str) -> np.ndarray:
    p = np.ones(len(df))
    for c in PROBS:
        v = pd.to_numeric(df[c], errors="coerce").to_numpy(float)
        bad = ~((v > 0) & (v <= 1))
        if bad.any():
            i = int(np.flatnonzero(bad)[0])
            raise InputError(
                f"{path}, column {c!r}: {int(bad.sum())} value(s) outside (0, 1], e.g. {df[c].iloc[i]!r} for "
                f"{id_col} {df[id_col].iloc[i]!r}. Selection probabilities must come from the sampling frame."
            )
        p *= v
    return p


def household_weights(contacts: pd.DataFrame, path: str = "contacts.parquet") -> np.ndarray:
    return 1.0 / _check_probs(contacts, path, "household_id")


def base_weights(respondents: pd.DataFrame, path: str = "respondents.parquet") -> np.ndarray:
    p = _check_probs(respondents, path, "respondent_id")
    a = pd.to_numeric(respondents["n_adults"], errors="coerce").to_numpy(float)
    bad = ~(a >= 1)
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise InputError(
            f"{path}, column 'n_adults': {int(bad.sum())} value(s) below 1 or missing, e.g. "
            f"{respondents['n_adults'].iloc[i]!r} for respondent_id {respondents['respondent_id'].iloc[i]!r}. "
            "A respondent's household has at least one eligible adult (the respondent)."
        )
    return a / p
