"""What a delivery mode changes at ingest (pipeline/instruments/delivery.py): the design columns read
(three stage probabilities or one delivered weight) and the interview times that may be absent."""

from __future__ import annotations

import numpy as np
import pandas as pd

from pipeline.ingest.checks import Finding, _detail
from pipeline.ingest.columns import numeric
from pipeline.instruments.delivery import WEIGHT_COLUMN, Delivery

PROBABILITIES = ("p_psu", "p_ssu", "p_hh")


def design_values(data: pd.DataFrame, adm: dict[str, str], delivery: Delivery) -> tuple[dict, dict]:
    """(stage probabilities, delivered weights): probabilities are NaN when the mode delivers a weight
    instead; the weights mapping is {respondents column: values} for a weight mode, else empty."""
    n = len(data)
    if delivery.mode in WEIGHT_COLUMN:
        role = delivery.design_roles[0]
        nan = np.full(n, np.nan)
        return {r: nan for r in PROBABILITIES}, {WEIGHT_COLUMN[delivery.mode]: numeric(data[adm[role]])}
    return {r: numeric(data[adm[r]]) for r in PROBABILITIES}, {}


def weight_values(w: np.ndarray, rows: np.ndarray, file: str, col: str) -> Finding:
    """A delivered weight must be a positive number: it says how many residents the respondent stands for."""
    fails = ~np.isfinite(w) | (w <= 0)
    return Finding("invalid_design_value", fails, _detail(fails, lambda i: (
        f"{file} row {rows[i]}: column {col} (delivered weight) is {w[i]:g}; a weight must be a positive number. "
        "Ask fieldwork for the recorded value.")))


def interview_times(data: pd.DataFrame, adm: dict[str, str]) -> tuple[pd.Series, pd.Series]:
    """Start and end of each interview; all missing when the delivery has no interview times."""
    if "start_time" not in adm:
        empty = pd.Series(pd.NaT, index=data.index, dtype="datetime64[ns]")
        return empty, empty
    return (pd.to_datetime(data[adm["start_time"]], errors="coerce"),
            pd.to_datetime(data[adm["end_time"]], errors="coerce"))
