"""Trend tables: the share literate per wave and domain, and changes between waves with their SEs and tests.

Changes are differences of independent samples (each wave draws its own sample), computed by the
estimation stage's `wave_difference`: se = sqrt(se_a² + se_b²), Welch–Satterthwaite df, two-sided t test.
A change is only computed inside one series (same scoring rule). The published baseline joins a series
only when the spec gives it the series' rule and an SE; otherwise its difference is descriptive.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import stats

from pipeline.assessment.spec import Baseline
from pipeline.estimation import wave_difference
from pipeline.schemas import C, TableSchema

SUPPRESSED = "suppressed"
KEYS = ("estimand_id", "domain_type", "domain")

TREND = TableSchema("assessment_trend", (
    C("wave", "int", False), C("series", "int", False), C("rule", "str", False), C("domain_type", "str", False),
    C("domain", "str", False), C("n", "int", False), C("est", "float"), C("se", "float"), C("lci", "float"),
    C("uci", "float"), C("df", "float"), C("ci_method", "str"), C("reliability", "str", False),
    C("variance_method", "str", False)), key=("domain_type", "domain", "wave"))

CHANGES = TableSchema("assessment_changes", (
    C("comparison", "str", False), C("wave_from", "int", False), C("wave_to", "int", False),
    C("domain_type", "str", False), C("domain", "str", False), C("est_from", "float"), C("est_to", "float"),
    C("diff", "float"), C("se", "float"), C("df", "float"), C("lci", "float"), C("uci", "float"),
    C("t", "float"), C("p_value", "float"), C("significant", "bool"), C("comparable", "bool", False),
    C("note", "str")), key=("comparison", "domain_type", "domain", "wave_from", "wave_to"))


def trend_table(stacked: pd.DataFrame) -> pd.DataFrame:
    cols = [c.name for c in TREND.columns]
    return stacked[cols].copy()


def _difference(a: pd.DataFrame, b: pd.DataFrame, comparison: str, level: float) -> pd.DataFrame:
    d = wave_difference(a, b, keys=KEYS)
    tq = stats.t.ppf(0.5 + level / 2, np.where(d["df"] > 0, d["df"], np.nan))
    keys = list(map(tuple, d[list(KEYS)].to_numpy()))

    def suppressed_in(frame: pd.DataFrame) -> np.ndarray:
        sup = set(map(tuple, frame.loc[frame["reliability"] == SUPPRESSED, list(KEYS)].to_numpy()))
        return np.array([k in sup for k in keys], dtype=bool)

    sup_a, sup_b = suppressed_in(a), suppressed_in(b)
    masked = sup_a | sup_b
    out = pd.DataFrame({
        "comparison": comparison, "wave_from": int(a["wave"].iloc[0]), "wave_to": int(b["wave"].iloc[0]),
        "domain_type": d["domain_type"], "domain": d["domain"], "est_from": d["est_a"], "est_to": d["est_b"],
        "diff": d["diff"], "se": d["se"], "df": d["df"], "lci": d["diff"] - tq * d["se"],
        "uci": d["diff"] + tq * d["se"], "t": d["t"], "p_value": d["p_value"],
        "significant": pd.array(d["p_value"] < 1 - level, dtype="boolean"), "comparable": True,
        "note": pd.array([pd.NA] * len(d), dtype="string"),
    })
    for col in ("diff", "se", "lci", "uci", "t", "p_value"):
        out.loc[masked, col] = np.nan
    out.loc[sup_a, "est_from"] = np.nan  # a suppressed estimate is never shown, not even beside a change
    out.loc[sup_b, "est_to"] = np.nan
    out.loc[masked, "significant"] = pd.NA
    out.loc[masked, "note"] = "其中一次调查该单元数据不足（不予发布），不计算变化"
    return out


def changes_table(stacked: pd.DataFrame, baseline: Baseline, level: float) -> pd.DataFrame:
    """Consecutive-wave changes and changes since the first wave of each series, plus the baseline row."""
    frames = []
    by_wave = {w: g for w, g in stacked.groupby("wave")}
    for _, s in stacked.groupby("series"):
        waves = sorted(s["wave"].unique())
        for w0, w1 in zip(waves[:-1], waves[1:], strict=True):
            frames.append(_difference(by_wave[w0], by_wave[w1], "consecutive", level))
        for w1 in waves[1:]:
            if w1 != waves[1]:  # the first pair is already the consecutive change
                frames.append(_difference(by_wave[waves[0]], by_wave[w1], "since_first_wave", level))
    frames.append(baseline_changes(stacked, baseline, level))
    out = pd.concat([f for f in frames if not f.empty], ignore_index=True)
    return out[[c.name for c in CHANGES.columns]]


def baseline_changes(stacked: pd.DataFrame, baseline: Baseline, level: float) -> pd.DataFrame:
    """Each wave's city share against the published baseline.

    Comparable only when the baseline carries the wave's rule; then with an SE (the baseline's, if
    published, treated as an independent sample) and a normal test. Otherwise the row is descriptive:
    the difference is shown, the SE, interval and test are left empty and the note says why."""
    city = stacked[stacked["domain_type"] == "overall"].sort_values("wave")
    rows = []
    z = stats.norm.ppf(0.5 + level / 2)
    for r in city.itertuples(index=False):
        base_rule = baseline.rule
        comparable = r.rule == base_rule or getattr(r, "rule_name", None) == base_rule
        diff = r.est - baseline.est
        row = {"comparison": "since_baseline", "wave_from": baseline.year, "wave_to": int(r.wave),
               "domain_type": r.domain_type, "domain": r.domain, "est_from": baseline.est, "est_to": r.est,
               "diff": diff, "se": np.nan, "df": np.nan, "lci": np.nan, "uci": np.nan, "t": np.nan,
               "p_value": np.nan, "significant": pd.NA, "comparable": comparable}
        if comparable:
            se = float(np.sqrt(r.se ** 2 + (baseline.se or 0.0) ** 2))
            t = diff / se
            row.update(se=se, lci=diff - z * se, uci=diff + z * se, t=t, p_value=2 * stats.norm.sf(abs(t)),
                       significant=bool(2 * stats.norm.sf(abs(t)) < 1 - level),
                       note=None if baseline.se is not None else "基线未公布标准误，按固定值处理")
        else:
            row["note"] = (f"口径不同（序列中断）：基线的测评口径未公布，本次调查为“{r.rule}”；差值仅作描述，"
                           "不计算标准误和检验")
        rows.append(row)
    out = pd.DataFrame(rows)
    if not out.empty:
        out["significant"] = out["significant"].astype("boolean")
        out["note"] = out["note"].astype("string")
    return out
