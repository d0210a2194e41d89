"""The verdict on the plan's target per domain, and differences between two waves.

Verdict (target p0 = 0.16): met when the whole 95% CI lies above p0, not met when it lies below,
undetermined when it contains p0 or when no interval exists.

Whether a verdict is *published* is a second, separate decision. A cell suppressed for precision (NCHS
2017) has an interval too wide to print its estimate, but when even that interval lies wholly on one side
of the target the data settle the verdict. estimands.yaml `target.suppressed:` sets what is published for
such a cell (column `publish`):

  verdict   the verdict, with the estimate withheld and the reason given        (publish = "verdict")
  caution   the estimate too, marked for caution, with the verdict              (publish = "caution")
  none      neither: the verdict is "undetermined"                              (publish = "none")

Cells that pass the standard have publish = "estimate"; a cell without an interval (no respondents, df 0)
has publish = "none" whatever the policy.

One-sided p-value for H0: p <= p0 against p > p0, a t test with the design df *on the logit scale*:
t = (logit p̂ − logit p0) / SE(logit p̂). The logit scale is chosen because the published interval is
the logit interval: the test and the interval then agree exactly (CI lower bound above p0 ⇔ p < α/2),
and a share near 0.16 is far from symmetric on the linear scale with the sample sizes of a county.
SE(logit p̂) is read back from the logit interval itself, (logit uci − logit lci) / (2 t_df), so it is the
linearised or replicate SE that produced the interval. At p̂ = 0 the p-value is 1; at p̂ = 1 it is the
exact binomial tail p0^n.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import stats

SUPPRESSED_POLICIES = ("verdict", "caution", "none")
PUBLISH_VALUES = ("estimate", "verdict", "caution", "none")


def _logit(p):
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.log(p / (1 - p))


def verdicts(est: pd.DataFrame, target: float, level: float = 0.95, suppressed: str = "verdict") -> pd.DataFrame:
    """est: rows of estimates.csv for the target estimand (one variance method). Returns targets rows.

    `suppressed` is the publication policy for cells withheld for precision (see the module note)."""
    if suppressed not in SUPPRESSED_POLICIES:
        raise ValueError(f"suppressed policy {suppressed!r}: use one of {SUPPRESSED_POLICIES}")
    e = est.reset_index(drop=True)
    p, lci, uci, df, n = (e[c].to_numpy(dtype=float) for c in ("est", "lci", "uci", "df", "n"))
    n_eff = e["n_eff"].to_numpy(dtype=float) if "n_eff" in e else np.full(len(e), np.nan)
    with np.errstate(divide="ignore", invalid="ignore"):
        tq = np.where(df > 0, stats.t.ppf(1 - (1 - level) / 2, np.where(df > 0, df, 1)), np.nan)
        se_logit = (_logit(uci) - _logit(lci)) / (2 * tq)
        tstat = (_logit(p) - _logit(target)) / se_logit
        pval = np.where(df > 0, stats.t.sf(tstat, np.where(df > 0, df, 1)), np.nan)
    pval = np.where(p <= 0, 1.0, pval)
    pval = np.where(p >= 1, target ** n, pval)
    verdict = np.full(len(e), "undetermined", dtype=object)
    verdict[lci > target] = "met"
    verdict[uci < target] = "not met"
    reason = e["reason"].fillna("").astype(str).to_numpy().astype(object)
    sup = (e["reliability"] == "suppressed").to_numpy()
    noci = ~np.isfinite(lci) | ~np.isfinite(uci) | ~np.isfinite(p)
    verdict[noci] = "undetermined"
    publish = np.full(len(e), "estimate", dtype=object)
    publish[sup] = {"verdict": "verdict", "caution": "caution", "none": "none"}[suppressed]
    if suppressed == "none":
        verdict[sup] = "undetermined"
    publish[noci] = "none"
    reason[sup] = np.array(["suppressed cell: " + r for r in reason[sup]], dtype=object)
    reason[noci & ~sup] = np.array([(r + "; " if r else "") + "no confidence interval" for r in reason[noci & ~sup]],
                                   dtype=object)
    inside = (verdict == "undetermined") & ~noci & (publish != "none")
    reason[inside] = np.array([(r + "; " if r else "") + "confidence interval contains the target"
                               for r in reason[inside]], dtype=object)
    with np.errstate(invalid="ignore"):
        pval = np.where(np.isfinite(pval), pval, np.nan)
    return pd.DataFrame({
        "wave": e["wave"].astype(int), "domain_type": e["domain_type"], "domain": e["domain"],
        "n": e["n"].astype(int), "n_eff": n_eff, "est": p, "se": e["se"].to_numpy(dtype=float), "lci": lci,
        "uci": uci, "df": df, "target": float(target), "gap": p - target, "p_value": pval, "verdict": verdict,
        "publish": publish, "reliability": e["reliability"],
        "reason": pd.Series(reason).replace("", pd.NA).astype("string"),
    })


def wave_difference(a: pd.DataFrame, b: pd.DataFrame, keys=("estimand_id", "domain_type", "domain"),
                    df_method: str = "satterthwaite") -> pd.DataFrame:
    """b − a for two waves' estimates of the same cells, treating the samples as independent.

    se = sqrt(se_a² + se_b²); df by Welch–Satterthwaite from the two design df ("satterthwaite") or the
    smaller of the two ("min"); two-sided p-value from t on that df."""
    keys = list(keys)
    m = a[keys + ["est", "se", "df"]].merge(b[keys + ["est", "se", "df"]], on=keys, suffixes=("_a", "_b"),
                                           how="inner", validate="one_to_one")
    va, vb = m["se_a"].to_numpy() ** 2, m["se_b"].to_numpy() ** 2
    dfa, dfb = m["df_a"].to_numpy(dtype=float), m["df_b"].to_numpy(dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        if df_method == "satterthwaite":
            df = (va + vb) ** 2 / (va ** 2 / dfa + vb ** 2 / dfb)
        elif df_method == "min":
            df = np.minimum(dfa, dfb)
        else:
            raise ValueError(f"df_method {df_method!r}: use 'satterthwaite' or 'min'")
        diff = m["est_b"].to_numpy() - m["est_a"].to_numpy()
        se = np.sqrt(va + vb)
        t = diff / se
        p = np.where(df > 0, 2 * stats.t.sf(np.abs(t), np.where(df > 0, df, 1)), np.nan)
    out = m[keys].copy()
    out["est_a"], out["est_b"], out["diff"], out["se"], out["df"], out["t"], out["p_value"] = (
        m["est_a"], m["est_b"], diff, se, df, t, p)
    return out
