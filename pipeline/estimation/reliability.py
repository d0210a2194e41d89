"""Reliability of published cells.

Proportions: NCHS Data Presentation Standards for Proportions (Parker et al., Vital Health Stat 2(175),
2017), applied in the order of the standard's decision steps:

  1. Effective sample size n_eff = n / deff, with deff < 1 taken as 1 (n_eff never exceeds n); for p = 0 or
     1 the variance is zero and n_eff = n. n_eff < 30 → suppress.            (standard, criterion 1)
  2. Korn–Graubard 95% CI (df-adjusted n_eff, as in step 1). Absolute width ≥ 0.30 → suppress.
                                                                              (criterion 2)
  3. Absolute width ≤ 0.05 → present. Otherwise relative CI width (width / p) > 130% → suppress.
                                                                              (criterion 3)
  4. p = 0 or 1 that passes steps 1–2 → present, flagged for statistical review (caution).
  5. df < 8 → present, flagged for statistical review (caution).              (criterion 4)
The standard's "statistical review" flag is mapped to reliability "caution".

Means and other continuous statistics (the standard does not cover them): n_eff < 30 → suppressed;
CV > 0.30 → caution (NCHS's former relative-standard-error rule); df < 8 → caution; else ok.
"""

from __future__ import annotations

import numpy as np

from pipeline.estimation.intervals import korn_graubard

MIN_NEFF = 30
MAX_ABS_WIDTH = 0.30
SAFE_ABS_WIDTH = 0.05
MAX_REL_WIDTH = 1.30
MIN_DF = 8
MAX_CV = 0.30


def proportion_reliability(est, se, n, df, deff):
    """Arrays → (reliability, reason) arrays, one decision per cell."""
    est, se, n, df, deff = (np.asarray(a, dtype=float) for a in (est, se, n, df, deff))
    m = est.shape
    rel = np.full(m, "ok", dtype=object)
    why = np.full(m, "", dtype=object)
    edge = (est <= 0) | (est >= 1)
    d = np.where(np.isfinite(deff), np.maximum(deff, 1.0), 1.0)
    n_eff = np.where(edge, n, n / d)
    # KG interval with the capped n_eff: rebuild the variance that gives it
    with np.errstate(divide="ignore", invalid="ignore"):
        var_cap = np.where(edge, 0.0, est * (1 - est) / n_eff)
    lci, uci, _ = korn_graubard(est, np.sqrt(var_cap), n, df)
    width = uci - lci
    with np.errstate(divide="ignore", invalid="ignore"):
        rel_width = width / est

    def mark(cond, level, text):
        # first failing rule wins: later rules only touch cells still "ok"
        take = cond & (rel == "ok")
        rel[take] = level
        why[take] = text

    empty = ~(n > 0) | ~np.isfinite(est)
    mark(empty, "suppressed", "no respondents in the domain")
    mark(~(df > 0), "suppressed", "df <= 0: no variance estimate (NCHS: Korn-Graubard CI not computable)")
    mark(n_eff < MIN_NEFF, "suppressed", "effective sample size < 30 (NCHS 2017 criterion 1)")
    mark(width >= MAX_ABS_WIDTH, "suppressed", "Korn-Graubard CI width >= 0.30 (NCHS 2017 criterion 2)")
    mark(~edge & (width > SAFE_ABS_WIDTH) & (rel_width > MAX_REL_WIDTH), "suppressed",
         "relative Korn-Graubard CI width > 130% (NCHS 2017 criterion 3)")
    mark(edge, "caution", "estimate of 0% or 100%: flagged for statistical review (NCHS 2017)")
    mark(df < MIN_DF, "caution", "df < 8: flagged for statistical review (NCHS 2017 criterion 4)")
    return rel, why


def mean_reliability(est, se, n, df, deff, cv):
    est, se, n, df, deff, cv = (np.asarray(a, dtype=float) for a in (est, se, n, df, deff, cv))
    m = est.shape
    rel = np.full(m, "ok", dtype=object)
    why = np.full(m, "", dtype=object)
    d = np.where(np.isfinite(deff), np.maximum(deff, 1.0), 1.0)
    n_eff = n / d

    def mark(cond, level, text):
        take = cond & (rel == "ok")
        rel[take] = level
        why[take] = text

    mark(~(n > 0) | ~np.isfinite(est), "suppressed", "no respondents in the domain")
    mark(~(df > 0), "suppressed", "df <= 0: no variance estimate")
    mark(n_eff < MIN_NEFF, "suppressed", "effective sample size < 30")
    mark(~np.isfinite(cv) | (cv > MAX_CV), "caution", "CV > 0.30 (or undefined)")
    mark(df < MIN_DF, "caution", "df < 8")
    return rel, why
