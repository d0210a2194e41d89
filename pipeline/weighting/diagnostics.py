"""Rows of weighting_diagnostics.csv (long: step, metric, variable, level, value, control).

Metric names are a contract with the report: rr1, rr3, coop1, kish_deff, ess, weight_min,
weight_median, weight_max, iterations, max_margin_error, trimmed, margin, base_weight_frame_ratio.
County-level rows use variable "county" and the county code as level, vocabulary.OVERALL_LABEL for the whole city.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from pipeline.weighting.calibration import CalibrationResult, Margin, margin_errors
from pipeline.weighting.nonresponse import CITY


def row(step: str, metric: str, variable: str = "", level: str = "", value: float = np.nan,
        control: float = np.nan) -> dict:
    return {"step": step, "metric": metric, "variable": variable, "level": level, "value": float(value),
            "control": float(control)}


def weight_summary(step: str, w: np.ndarray, county: np.ndarray) -> list[dict]:
    """Kish design effect of weighting (1 + CV², i.e. n Σw² / (Σw)²), effective n, min/median/max."""
    df = pd.DataFrame({"county": county, "w": w, "w2": w * w})
    g = df.groupby("county", sort=True)
    stats = pd.DataFrame({"n": g.size(), "sw": g["w"].sum(), "sw2": g["w2"].sum(), "min": g["w"].min(),
                          "median": g["w"].median(), "max": g["w"].max()})
    stats.loc[CITY] = [len(w), w.sum(), (w * w).sum(), w.min(), np.median(w), w.max()]
    deff = stats["n"] * stats["sw2"] / stats["sw"] ** 2
    out = []
    for level, s in stats.iterrows():
        out += [row(step, "kish_deff", "county", level, deff[level]),
                row(step, "ess", "county", level, s["sw"] ** 2 / s["sw2"]),
                row(step, "n", "county", level, s["n"]),
                row(step, "weight_sum", "county", level, s["sw"]),
                row(step, "weight_min", "county", level, s["min"]),
                row(step, "weight_median", "county", level, s["median"]),
                row(step, "weight_max", "county", level, s["max"])]
    return out


def frame_ratio(w_base: np.ndarray, county: np.ndarray, controls: pd.DataFrame, step: str = "base",
                metric: str = "base_weight_frame_ratio") -> list[dict]:
    """Sum of weights per county against the census population of the county."""
    est = pd.Series(w_base).groupby(pd.Series(county)).sum()
    pop = controls.groupby("county_code")["population"].sum()
    est = est.reindex(pop.index, fill_value=0.0)
    est[CITY], pop[CITY] = est.sum(), pop.sum()
    return [row(step, metric, "county", c, est[c] / pop[c], pop[c]) for c in pop.index]


def rates_rows(rates: pd.DataFrame) -> list[dict]:
    out = []
    for level, r in rates.iterrows():
        for metric in ("rr1", "rr3", "coop1", "e"):
            out.append(row("nonresponse", "eligibility_rate" if metric == "e" else metric, "county", str(level),
                           r[metric]))
        for c in ("I", "P", "R", "NC", "O", "U", "NE"):
            out.append(row("nonresponse", f"count_{c}", "county", str(level), r[c]))
    return out


def calibration_rows(step: str, res: CalibrationResult, margins: list[Margin]) -> list[dict]:
    """Every margin achieved by the full-sample weight against its control; convergence figures."""
    out = [row(step, "iterations", value=res.iterations)]
    full_err, rep_err = 0.0, 0.0
    for a, m in zip(res.achieved, margins, strict=True):
        a2 = a if a.ndim == 2 else a[:, None]
        err = margin_errors(a2, m.totals)
        present = a2 > 0
        full_err = max(full_err, float(err[:, 0].max()))
        if a2.shape[1] > 1:
            rep_err = max(rep_err, float(np.where(present[:, 1:], err[:, 1:], 0.0).max()))
        for i, label in enumerate(m.labels):
            out.append(row(step, "margin", m.name, label, a2[i, 0], m.totals[i]))
    if res.infeasible_replicates:  # the feasible replicates' error is the convergence criterion
        rep_err = res.max_error
    out.append(row(step, "max_margin_error", value=full_err))
    out.append(row(step, "max_margin_error", "replicates", value=rep_err))
    out.append(row(step, "replicate_empty_categories", value=res.empty_in_replicates))
    out.append(row(step, "replicates_infeasible", value=res.infeasible_replicates))
    out.append(row(step, "replicates_infeasible_max_error", value=res.infeasible_max_error))
    return out
