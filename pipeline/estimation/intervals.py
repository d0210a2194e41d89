"""Confidence intervals with design degrees of freedom, vectorised over cells.

Registry CI_METHODS maps the name used in estimands.yaml to a function
(est, se, n, df, level) → (lci, uci, reason). Every bound that cannot be computed is NaN *and* carries
a reason; no NaN goes out unexplained.

Conventions at the edges (what a survey statistician expects, and what the tests pin down):
- p = 0 or 1: the logit and Wald intervals are degenerate (zero variance, logit undefined). The
  Korn–Graubard (Clopper–Pearson with effective n) interval is used instead, with the effective sample
  size set to the actual n, as the NCHS 2017 standard does for estimates of 0% or 100%: (0, upper] or
  [lower, 1). The reason says so.
- se = 0 with 0 < p < 1 (all PSUs certainty units, or a census stratum): the interval collapses to the
  estimate, with a reason.
- df ≤ 0 (one PSU per stratum in the domain): no t quantile exists; NaN bounds with a reason.
- empty domain (n = 0): NaN estimate and bounds, reason "no respondents".
"""

from __future__ import annotations

import numpy as np
from scipy import stats

REASON_EMPTY = "no respondents in the domain"
REASON_DF = "df <= 0: the domain has no PSU-level replication; interval not estimable"
REASON_SE0 = "zero estimated variance (certainty units only): interval collapses to the estimate"
REASON_EDGE = "p is 0 or 1: logit/Wald undefined; Korn-Graubard interval with effective n = n"


def _tq(level: float, df: np.ndarray) -> np.ndarray:
    df = np.asarray(df, dtype=float)
    out = np.full(df.shape, np.nan)
    ok = np.isfinite(df) & (df > 0)
    out[ok] = stats.t.ppf(1 - (1 - level) / 2, df[ok])
    return out


def _reasons(shape) -> np.ndarray:
    return np.full(shape, "", dtype=object)


def korn_graubard(est, se, n, df, level=0.95):
    """R's svyciprop(method="beta"): n_eff = p(1−p)/var · (t_{n−1}/t_df)², Clopper–Pearson bounds.

    At p ∈ {0, 1} (var = 0) n_eff is set to n before the df adjustment (NCHS 2017)."""
    est, se, n, df = (np.asarray(a, dtype=float) for a in (est, se, n, df))
    alpha = 1 - level
    var = se * se
    with np.errstate(divide="ignore", invalid="ignore"):
        n_eff = est * (1 - est) / var
        edge = (est <= 0) | (est >= 1)
        n_eff = np.where(edge, n, n_eff)
        t_n = np.where(n > 1, stats.t.ppf(alpha / 2, np.maximum(n - 1, 1)), np.nan)
        t_df = np.where(df > 0, stats.t.ppf(alpha / 2, np.where(df > 0, df, 1)), np.nan)
        n_eff = n_eff * (t_n / t_df) ** 2
        x = n_eff * est
        lci = np.where(est <= 0, 0.0, stats.beta.ppf(alpha / 2, x, n_eff - x + 1))
        uci = np.where(est >= 1, 1.0, stats.beta.ppf(1 - alpha / 2, x + 1, n_eff - x))
    reason = _reasons(est.shape)
    bad_df = ~(df > 0)
    lci = np.where(bad_df, np.nan, lci)
    uci = np.where(bad_df, np.nan, uci)
    reason[bad_df] = REASON_DF
    zero_var = (var == 0) & ~edge & ~bad_df
    lci = np.where(zero_var, est, lci)
    uci = np.where(zero_var, est, uci)
    reason[zero_var] = REASON_SE0
    reason[edge & ~bad_df & (n > 0)] = "p is 0 or 1: Korn-Graubard interval with effective n = n"
    return _finish(est, n, lci, uci, reason)


def logit(est, se, n, df, level=0.95, se_logit=None):
    """R's svyciprop(method="logit"): expit(logit p ± t_df · SE(logit p)).

    Linearised designs: SE(logit p) = se/(p(1−p)) (the svyglm intercept's sandwich variance). Replicate
    designs: R refits the intercept in every replicate, so SE(logit p) comes from the replicate logits;
    the caller passes it as `se_logit` (NaN where a replicate share is 0 or 1 falls back to the delta
    method)."""
    est, se, n, df = (np.asarray(a, dtype=float) for a in (est, se, n, df))
    t = _tq(level, df)
    edge = (est <= 0) | (est >= 1)
    with np.errstate(divide="ignore", invalid="ignore"):
        eta = np.log(est / (1 - est))
        se_eta = se / (est * (1 - est))
        if se_logit is not None:
            se_logit = np.asarray(se_logit, dtype=float)
            se_eta = np.where(np.isfinite(se_logit), se_logit, se_eta)
        half = t * se_eta
        lci = 1 / (1 + np.exp(-(eta - half)))
        uci = 1 / (1 + np.exp(-(eta + half)))
    reason = _reasons(est.shape)
    reason[~(df > 0)] = REASON_DF
    zero_var = (se == 0) & ~edge & (df > 0)
    lci = np.where(zero_var, est, lci)
    uci = np.where(zero_var, est, uci)
    reason[zero_var] = REASON_SE0
    if edge.any():
        kl, ku, kr = korn_graubard(est, se, n, df, level)
        lci = np.where(edge, kl, lci)
        uci = np.where(edge, ku, uci)
        reason[edge & (df > 0)] = REASON_EDGE
    return _finish(est, n, lci, uci, reason)


def wald(est, se, n, df, level=0.95, bounded=True):
    """est ± t_df · se; for proportions clipped to [0, 1] (a share outside it is meaningless)."""
    est, se, n, df = (np.asarray(a, dtype=float) for a in (est, se, n, df))
    t = _tq(level, df)
    lci = est - t * se
    uci = est + t * se
    reason = _reasons(est.shape)
    reason[~(df > 0)] = REASON_DF
    if bounded:
        edge = (est <= 0) | (est >= 1)
        if edge.any():
            kl, ku, _ = korn_graubard(est, se, n, df, level)
            lci = np.where(edge, kl, lci)
            uci = np.where(edge, ku, uci)
            reason[edge & (df > 0)] = "p is 0 or 1: Wald undefined; Korn-Graubard interval with effective n = n"
        lci = np.clip(lci, 0.0, 1.0)
        uci = np.clip(uci, 0.0, 1.0)
    else:
        reason[(se == 0) & (df > 0)] = REASON_SE0
    return _finish(est, n, lci, uci, reason)


def _finish(est, n, lci, uci, reason):
    empty = ~(n > 0) | ~np.isfinite(est)
    lci = np.where(empty, np.nan, lci)
    uci = np.where(empty, np.nan, uci)
    reason[empty] = REASON_EMPTY
    # anything still NaN without a reason is a defect in this module, not in the data
    unexplained = (~np.isfinite(lci) | ~np.isfinite(uci)) & (reason == "")
    reason[unexplained] = "interval not estimable (variance undefined)"
    return lci, uci, reason


CI_METHODS = {"logit": logit, "beta": korn_graubard, "wald": wald}


def interval(method: str, est, se, n, df, level=0.95, proportion=True, se_logit=None):
    if proportion:
        if method not in CI_METHODS:
            raise ValueError(f"unknown CI method {method!r}; use one of {sorted(CI_METHODS)}")
        if method == "logit":
            return logit(est, se, n, df, level, se_logit=se_logit)
        return CI_METHODS[method](est, se, n, df, level)
    # means and totals: symmetric t interval on the design df
    return wald(est, se, n, df, level, bounded=False)
