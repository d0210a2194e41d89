"""Mid-term projection to the final year and the status it implies (assessment.yaml `midterm:`).

The line is fitted on the logit scale, so that a projected share and its bounds stay inside 0–1 (a
straight line in the share itself sends a falling group below zero) and so that it agrees with the
logit intervals of the estimates. Each wave's logit SE is the delta-method se / (p (1 − p)).
Weighted least squares of logit(share) on the wave year with weights 1/se² (the waves are independent
samples with known sampling variances). The year is centred on the weighted mean so the two
coefficients are uncorrelated. Var(β̂) = (X'WX)⁻¹, multiplied by the Birge ratio X²/(k−2) when it
exceeds 1: if the waves scatter about the line more than their SEs allow, the line is less certain than
sampling alone says, and the projection interval widens accordingly (it is never narrowed).
The projection SE is sqrt(x0' Var(β̂) x0): the uncertainty of the trend's value in the final year.
Bounds are computed on the logit scale and transformed back; projection_se is the delta-method SE on
the share scale, and annual_change is the fitted line's slope in the share at the last wave.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import stats

from pipeline.schemas import C, TableSchema

ON_TRACK, AT_RISK, OFF_TRACK, UNDETERMINED = "on_track", "at_risk", "off_track", "undetermined"
STATUS_ZH = {ON_TRACK: "进度正常", AT_RISK: "存在风险", OFF_TRACK: "明显滞后", UNDETERMINED: "无法判断"}

PROJECTION = TableSchema("assessment_projection", (
    C("domain_type", "str", False), C("domain", "str", False), C("series", "int", False),
    C("waves", "str", False), C("k", "int", False), C("last_est", "float"), C("slope_logit", "float"),
    C("slope_logit_se", "float"), C("annual_change", "float"), C("projection_year", "int", False), C("projection", "float"),
    C("projection_se", "float"), C("lower", "float"), C("upper", "float"), C("interval", "float", False),
    C("chi2", "float"), C("inflation", "float"), C("target", "float", False), C("status", "str", False),
    C("status_zh", "str", False), C("reason", "str")), key=("domain_type", "domain"))


@dataclass(frozen=True)
class Trend:
    intercept: float  # value at the weighted mean year
    slope: float      # change per year
    cov: np.ndarray   # 2×2 covariance of (intercept, slope), after inflation
    centre: float     # the weighted mean year
    chi2: float
    inflation: float  # factor applied to the covariance (≥ 1)

    def at(self, year: float) -> tuple[float, float]:
        x0 = np.array([1.0, year - self.centre])
        return float(x0 @ np.array([self.intercept, self.slope])), float(np.sqrt(x0 @ self.cov @ x0))


def fit_trend(years, est, se) -> Trend:
    """Inverse-variance weighted straight line through (year, est) with sampling SEs `se` (k ≥ 2)."""
    x, y, s = (np.asarray(v, dtype=float) for v in (years, est, se))
    if x.size < 2:
        raise ValueError("a trend needs at least two waves")
    if not np.all(np.isfinite(s)) or np.any(s <= 0):
        raise ValueError("every wave needs a positive, finite SE")
    w = 1.0 / s ** 2
    centre = float(np.sum(w * x) / np.sum(w))
    X = np.column_stack([np.ones_like(x), x - centre])
    xtwx = X.T @ (w[:, None] * X)
    cov = np.linalg.inv(xtwx)
    beta = cov @ (X.T @ (w * y))
    resid = y - X @ beta
    chi2 = float(np.sum(w * resid ** 2))
    k = x.size
    inflation = max(1.0, chi2 / (k - 2)) if k > 2 else 1.0
    return Trend(float(beta[0]), float(beta[1]), cov * inflation, centre, chi2, inflation)


def logit(p):
    p = np.asarray(p, dtype=float)
    return np.log(p / (1 - p))


def expit(x):
    return 1.0 / (1.0 + np.exp(-np.asarray(x, dtype=float)))


def status_of(lower: float, upper: float, target: float, comparison: str) -> str:
    """on track when even the lower bound meets the target; off track when even the upper bound fails."""
    meets = (lambda v: v > target) if comparison == ">" else (lambda v: v >= target)
    if meets(lower):
        return ON_TRACK
    if not meets(upper):
        return OFF_TRACK
    return AT_RISK


def _waves_text(waves: list[int]) -> str:
    """2021–2023 for a run of consecutive waves, 2021、2023 when one in between is left out."""
    if not waves:
        return "无"
    if len(waves) > 1 and waves == list(range(waves[0], waves[-1] + 1)):
        return f"{waves[0]}–{waves[-1]}"
    return "、".join(map(str, waves))


def project(trend_rows: pd.DataFrame, year: int, target: float, comparison: str, interval: float,
            min_waves: int) -> pd.DataFrame:
    """One projection per domain of the last series in `trend_rows` (a trend table)."""
    z = stats.norm.ppf(0.5 + interval / 2)
    last_series = int(trend_rows["series"].max())
    rows = []
    for (dtype, domain), g in trend_rows[trend_rows["series"] == last_series].groupby(["domain_type", "domain"]):
        g = g.sort_values("wave")
        suppressed = (g["reliability"] == "suppressed").to_numpy()
        dropped = g.loc[suppressed, "wave"].to_list()
        # a wave whose cell is withheld is left out; the line uses the waves that are usable, and says so
        g = g[~suppressed]
        waves = g["wave"].to_list()
        row = {"domain_type": dtype, "domain": domain, "series": last_series,
               "waves": _waves_text(waves), "k": len(waves),
               "last_est": float(g["est"].iloc[-1]) if len(g) else np.nan,
               "projection_year": year, "interval": interval,
               "target": target, "status": UNDETERMINED, "reason": None}
        left_out = f"{'、'.join(map(str, dropped))}年该单元估计精度不足（不予发布），未用于外推" if dropped else ""
        if len(waves) < min_waves:
            row["reason"] = (left_out + "；" if left_out else "") + \
                f"可用的调查仅{len(waves)}次，外推至少需要{min_waves}次"
        elif not (np.isfinite(g["se"]).all() and (g["se"] > 0).all()):
            row["reason"] = "某次调查没有有效的标准误"
        elif not ((g["est"] > 0) & (g["est"] < 1)).all():
            row["reason"] = "比例为0或100%，无法在logit尺度上拟合"
        else:
            if left_out:
                row["reason"] = f"{left_out}；按{'、'.join(map(str, waves))}年{len(waves)}次调查外推"
            p = g["est"].to_numpy(dtype=float)
            t = fit_trend(g["wave"], logit(p), g["se"].to_numpy(dtype=float) / (p * (1 - p)))
            proj_l, proj_l_se = t.at(year)
            proj = float(expit(proj_l))
            fit_last = float(expit(t.at(waves[-1])[0]))
            lower, upper = float(expit(proj_l - z * proj_l_se)), float(expit(proj_l + z * proj_l_se))
            row.update(slope_logit=t.slope, slope_logit_se=float(np.sqrt(t.cov[1, 1])),
                       annual_change=t.slope * fit_last * (1 - fit_last), projection=proj,
                       projection_se=proj_l_se * proj * (1 - proj), lower=lower, upper=upper, chi2=t.chi2,
                       inflation=t.inflation, status=status_of(lower, upper, target, comparison))
        row["status_zh"] = STATUS_ZH[row["status"]]
        rows.append(row)
    out = pd.DataFrame(rows)
    for col in ("slope_logit", "slope_logit_se", "annual_change", "projection", "projection_se", "lower", "upper", "chi2", "inflation"):
        out[col] = out.get(col, pd.Series(np.nan, index=out.index)).astype(float)
    out["reason"] = out["reason"].astype("string")
    return out[[c.name for c in PROJECTION.columns]]
