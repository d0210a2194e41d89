"""Fay–Herriot area-level model for county shares (Fay & Herriot 1979; Rao & Molina 2015, ch. 6).

    θ̂_i = x_i'β + u_i + e_i,   u_i ~ N(0, σ²_u),   e_i ~ N(0, ψ_i) with ψ_i = direct se² (taken as known)

σ²_u by REML (Fisher scoring, Rao & Molina eq. 6.2.19), ML (Fisher scoring on the full likelihood,
eq. 6.2.17, as R `sae::eblupFH` and `metafor::rma(method = "ML")`) or the Prasad–Rao moment estimator;
β by GLS; EBLUP θ̃_i = γ_i θ̂_i + (1 − γ_i) x_i'β̂ with shrinkage γ_i = σ²_u / (σ²_u + ψ_i).
MSE (Prasad & Rao 1990; Datta & Lahiri 2000): g1 + g2 + 2 g3 with
g1 = γ_i ψ_i, g2 = (1 − γ_i)² x_i'(X'V⁻¹X)⁻¹x_i, g3 = ψ_i² (σ²_u + ψ_i)⁻³ V̄(σ̂²_u), V̄ = 2 / Σ (σ²_u + ψ_j)⁻².
For the moment estimator V̄ = 2 m⁻² Σ (σ²_u + ψ_j)² (Prasad–Rao). ML's σ̂²_u is biased downwards by
b_ML = −tr[(X'V⁻¹X)⁻¹ X'V⁻²X] / Σ (σ²_u + ψ_j)⁻², so its MSE subtracts b_ML (1 − γ_i)² (Datta & Lahiri 2000;
Rao & Molina eq. 6.2.29; the formula of `sae::mseFH`).

With few areas REML can put σ̂²_u at 0 (13 counties here; 1 simulator sample in 150): every area is then pulled all the way to the
line, g1 = 0 and the interval is too short for any area off the line. Adjusted residual likelihoods
h(σ²) L_R(σ²) keep σ̂²_u strictly positive (h(0) = 0):
  YL  Yoshimori & Lahiri (2014, J. Multivariate Anal. 124, 281–294): h = [arctan tr(I − B)]^{1/m},
      B = diag(ψ_i / (σ²_u + ψ_i)), so tr(I − B) = Σ γ_i. ∂ log h/∂σ² is O(1/m), so σ̂²_YL has REML's bias
      and variance to o(1/m) and the REML MSE g1 + g2 + 2 g3 (V̄ = 2 / Σ (σ²_u + ψ_j)⁻²) stays second-order
      unbiased (as they show; R package emdi, method `amrl_yl`).
  LL  Li & Lahiri (2010, J. Multivariate Anal. 101, 882–892): h = σ²_u, here on the residual likelihood
      (emdi's `amrl`; the paper also gives the profile version). ∂ log h/∂σ² = 1/σ² adds the bias
      b_LL = (2/σ²_u) / Σ (σ²_u + ψ_j)⁻² (the bias I⁻¹ ∂ log h/∂σ² of an adjusted likelihood estimator), so its
      MSE subtracts b_LL (1 − γ_i)², as ML's does (Datta & Lahiri 2000's general form; ∂g1/∂σ² = (1 − γ_i)²).

Sampling variances (`variances`): `direct` feeds each area's own design variance ψ_i as if known. With a
few PSUs per county (5–18 df here) ψ_i is itself very noisy (CV ≈ √(2/df), about 0.6) and correlated with
θ̂_i (a proportion's variance grows with it), so areas with an underestimated ψ_i get too little shrinkage and
too short an interval. `smoothed` replaces ψ_i by a generalised variance function, the pooled design effect
model (generalised variance functions: Wolter 2007, Introduction to Variance Estimation, ch. 7; smoothing
the ψ_i of an area model: Rao & Molina 2015 §6.1; Hidiroglou, Beaumont & Yung 2019, Survey Methodology 45(1),
on Statistics Canada's small area system): ψ̃_i = d̄ p̃_i (1 − p̃_i) / n_i with p̃_i = x_i'β̂ the model's synthetic
estimate (from a first fit on the direct variances, so ψ̃_i does not follow the area's own sampling error) and
d̄ = Σ n_j ψ_j / Σ p̃_j (1 − p̃_j) the pooled design effect, so Σ n_i ψ̃_i = Σ n_i ψ_i: the smoothing moves
variance between areas of the same design and keeps its total.

An area without a usable direct estimate gets the synthetic estimate x_i'β̂ with MSE σ²_u + x_i'(X'V⁻¹X)⁻¹x_i
(Rao & Molina §6.2.3: the EBLUP of an area outside the fit).

Benchmarking (optional): ratio benchmarking of the EBLUPs to the direct estimate of the whole population,
θ̃_i^B = θ̃_i · θ̂ / Σ_j W_j θ̃_j with population shares W_j, so the population-weighted county estimates add
up to the city's direct estimate (Rao & Molina §6.2.5). The MSE reported is the unbenchmarked one: the
factor is close to 1 when the model fits, and the report says so.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from pipeline.errors import PipelineError


@dataclass(frozen=True)
class FayHerriot:
    sigma2_u: float
    beta: np.ndarray
    est: np.ndarray
    mse: np.ndarray
    shrinkage: np.ndarray
    iterations: int
    converged: bool
    beta_cov: np.ndarray | None = None  # (X'V⁻¹X)⁻¹ at σ̂²_u


def _gls(y, X, psi, s2):
    vinv = 1.0 / (s2 + psi)
    xtvx = X.T @ (X * vinv[:, None])
    cov = np.linalg.inv(xtvx)
    beta = cov @ (X.T @ (vinv * y))
    return beta, cov


METHODS = ("REML", "ML", "PR", "YL", "LL")

# County covariates the model may use (estimands.yaml `sae.covariates`): each the weighted share of the
# respondents in the named categories of a respondent field. The final weights are calibrated to the census
# controls of county × urban/rural and county × education, so these shares are the census shares of the
# county's population aged 18–69 (to the calibration tolerance): known for every county, without sampling
# error, as the area model assumes.
COVARIATES = {
    "urban_share": ("urban", ("城镇",)),
    "upper_secondary_share": ("education", ("高中/中专", "大专", "本科及以上")),
}


def _reml_score(y, psi, X, s2) -> tuple[float, float]:
    """Score and expected information of the restricted likelihood in σ²_u."""
    vinv = np.diag(1.0 / (s2 + psi))
    vx = vinv @ X
    P = vinv - vx @ np.linalg.solve(X.T @ vx, vx.T)
    Py = P @ y
    return -0.5 * np.trace(P) + 0.5 * Py @ Py, 0.5 * np.trace(P @ P)


def _ml_score(y, psi, X, s2) -> tuple[float, float]:
    """Score and expected information of the full likelihood in σ²_u (β at its GLS value)."""
    vinv = 1.0 / (s2 + psi)
    beta, _ = _gls(y, X, psi, s2)
    r = y - X @ beta
    return -0.5 * np.sum(vinv) + 0.5 * np.sum(r ** 2 * vinv ** 2), 0.5 * np.sum(vinv ** 2)


def _log_adjustment(psi, s2, method: str) -> tuple[float, float]:
    """log h(σ²_u) of the adjusted likelihoods and its derivative in σ²_u (module docstring)."""
    if method == "LL":
        return float(np.log(s2)), 1.0 / s2
    t = np.sum(s2 / (s2 + psi))  # tr(I − B)
    dt = np.sum(psi / (s2 + psi) ** 2)
    m = len(psi)
    return float(np.log(np.arctan(t)) / m), float(dt / ((1 + t * t) * np.arctan(t)) / m)


def _adjusted_root(y, psi, X, method: str, max_iter: int) -> tuple[float, int, bool]:
    """σ̂²_u of an adjusted likelihood: the root of its score, by Brent's method on a bracket.

    The score is +∞ at 0+ (h(0) = 0) and negative for large σ²_u (the restricted score falls like
    −(m − p)/(2σ²)), so a bracket [lo, hi] is found by halving lo and doubling hi; Fisher scoring with REML's
    information is not used here because near 0 the LL adjustment's curvature −1/σ⁴ swamps it."""
    from scipy.optimize import brentq

    def score(v):
        return _reml_score(y, psi, X, v)[0] + _log_adjustment(psi, v, method)[1]

    scale = max(float(np.var(y, ddof=1)), float(np.mean(psi)))
    lo, hi = scale * 1e-3, scale
    for _ in range(200):
        if score(lo) > 0:
            break
        lo /= 10.0
    for _ in range(200):
        if score(hi) < 0:
            break
        hi *= 4.0
    if not (score(lo) > 0 > score(hi)):
        return float("nan"), 0, False
    root, res = brentq(score, lo, hi, xtol=1e-300, rtol=4 * np.finfo(float).eps, maxiter=max_iter,
                       full_output=True, disp=False)
    return float(root), int(res.iterations), bool(res.converged)


def _fisher_scoring(score_info, s2: float, tol: float, max_iter: int) -> tuple[float, int, bool]:
    """σ²_u by Fisher scoring from `s2`, kept at 0 or above; (σ̂²_u, iterations, converged)."""
    for it in range(1, max_iter + 1):
        score, info = score_info(s2)
        new = max(s2 + score / info, 0.0)
        done = abs(new - s2) <= tol * max(1.0, s2)
        s2 = new
        if done:
            return s2, it, True
    return s2, max_iter, False


def fay_herriot(y, psi, X, method: str = "REML", tol: float = 1e-12, max_iter: int = 500) -> FayHerriot:
    y, psi, X = np.asarray(y, float), np.asarray(psi, float), np.asarray(X, float)
    m, p = X.shape
    if m <= p:
        raise PipelineError(f"Fay-Herriot model: {m} areas for {p} coefficients; need more areas than coefficients.")
    if np.any(~np.isfinite(psi)) or np.any(psi <= 0):
        raise PipelineError("Fay-Herriot model: every area needs a positive, finite sampling variance.")
    it, converged = 0, True
    if method in ("REML", "ML"):
        score_info = _reml_score if method == "REML" else _ml_score
        s2, it, converged = _fisher_scoring(lambda v: score_info(y, psi, X, v),
                                            max(np.var(y, ddof=1) - psi.mean(), 0.0), tol, max_iter)
        vbar = 2.0 / np.sum(1.0 / (s2 + psi) ** 2)
    elif method in ("YL", "LL"):
        s2, it, converged = _adjusted_root(y, psi, X, method, max_iter)
        if not converged:
            raise PipelineError(f"Fay-Herriot model ({method}): the adjusted likelihood has no maximum in (0, ∞); "
                                "check the direct estimates and their variances.")
        vbar = 2.0 / np.sum(1.0 / (s2 + psi) ** 2)
    elif method == "PR":
        # Prasad–Rao moment estimator from the OLS residuals
        h = X @ np.linalg.solve(X.T @ X, X.T)
        resid = y - h @ y
        s2 = max((resid @ resid - np.sum(psi * (1 - np.diag(h)))) / (m - p), 0.0)
        vbar = 2.0 * np.sum((s2 + psi) ** 2) / m ** 2
    else:
        raise PipelineError(f"Fay-Herriot method {method!r}: use one of {', '.join(METHODS)}.")
    beta, cov = _gls(y, X, psi, s2)
    gamma = s2 / (s2 + psi)
    synth = X @ beta
    est = gamma * y + (1 - gamma) * synth
    g1 = gamma * psi
    g2 = (1 - gamma) ** 2 * np.einsum("ij,jk,ik->i", X, cov, X)
    g3 = psi ** 2 / (s2 + psi) ** 3 * vbar
    mse = g1 + g2 + 2 * g3
    if method == "ML":
        vinv = 1.0 / (s2 + psi)
        b_ml = -np.trace(cov @ (X.T @ (X * (vinv ** 2)[:, None]))) / np.sum(vinv ** 2)
        mse = mse - b_ml * (1 - gamma) ** 2
    elif method == "LL":
        b_ll = 2.0 / s2 / np.sum(1.0 / (s2 + psi) ** 2)
        mse = mse - b_ll * (1 - gamma) ** 2
    return FayHerriot(float(s2), beta, est, mse, gamma, it, converged, cov)


VARIANCES = ("direct", "smoothed")


def smoothed_variances(y, psi, n, X, method: str = "REML") -> np.ndarray:
    """ψ̃_i = d̄ p̃_i (1 − p̃_i) / n_i, the pooled design effect GVF (module docstring) for proportions y."""
    y, psi, n = np.asarray(y, float), np.asarray(psi, float), np.asarray(n, float)
    if np.any(~np.isfinite(n)) or np.any(n <= 0):
        raise PipelineError("Fay-Herriot model with smoothed sampling variances: every area needs its number of "
                            "respondents n > 0.")
    first = fay_herriot(y, psi, X, method)
    # a synthetic share outside (0, 1) would give a variance of 0 or below: keep it half a respondent inside
    p = np.clip(np.asarray(X, float) @ first.beta, 0.5 / n, 1 - 0.5 / n)
    q = p * (1 - p)
    return float(np.sum(n * psi) / np.sum(q)) * q / n


def synthetic(fit: FayHerriot, X_out) -> tuple[np.ndarray, np.ndarray]:
    """Estimate and MSE of areas outside the fit: x'β̂ and σ²_u + x'(X'V⁻¹X)⁻¹x."""
    X_out = np.atleast_2d(np.asarray(X_out, float))
    return X_out @ fit.beta, fit.sigma2_u + np.einsum("ij,jk,ik->i", X_out, fit.beta_cov, X_out)


def ratio_benchmark(est, shares, total: float) -> tuple[np.ndarray, float]:
    """Scale area estimates so that Σ shares·est equals `total`; returns (benchmarked, factor)."""
    est, shares = np.asarray(est, float), np.asarray(shares, float)
    factor = float(total / np.sum(shares * est))
    return est * factor, factor


def area_covariates(frame, area: str, weight: str, names: list[str]):
    """Weighted shares per area of the COVARIATES named (one column each), indexed by area."""
    import pandas as pd

    unknown = [c for c in names if c not in COVARIATES]
    if unknown:
        raise PipelineError(f"estimands.yaml sae.covariates {unknown}: the county model knows the covariates "
                            f"{', '.join(COVARIATES)}.")
    w = frame[weight].to_numpy(float)
    areas = frame[area].astype(str).to_numpy()
    out = {}
    for name in names:
        field, levels = COVARIATES[name]
        values = frame[field].astype(str)
        absent = [v for v in levels if not (values == v).any()]
        if absent:
            raise PipelineError(f"county model covariate {name}: no respondent has {field} {absent}; the "
                                f"covariate counts {field} in {list(levels)}. Check the instrument's categories "
                                "or choose another covariate in estimands.yaml sae.covariates.")
        inside = values.isin(levels).to_numpy(float)
        out[name] = pd.Series(w * inside).groupby(areas).sum() / pd.Series(w).groupby(areas).sum()
    return pd.DataFrame(out)


def area_estimates(direct, covariates: list[str], method: str = "REML", level: float = 0.95,
                   shares=None, benchmark_to: float | None = None, variances: str = "direct"):
    """The model estimate of every area, from a frame of direct estimates.

    direct: one row per area with columns area, n, est, se and the covariates. Areas with a positive, finite
    direct SE enter the fit and get the EBLUP; the others get the synthetic estimate. The interval is
    est ± z √MSE (z the normal quantile of `level`), cut to 0–1. With `benchmark_to` (and population
    `shares` per area), the estimates are ratio-benchmarked to that total and the interval moves with them."""
    import pandas as pd
    from scipy import stats

    d = direct.reset_index(drop=True)
    usable = (np.isfinite(d["se"]) & (d["se"] > 0) & np.isfinite(d["est"])).to_numpy()
    X = np.column_stack([np.ones(len(d))] + [d[c].to_numpy(float) for c in covariates])
    if variances not in VARIANCES:
        raise PipelineError(f"estimands.yaml sae.variances {variances!r}: use direct (each county's design variance) "
                            "or smoothed (a generalised variance function with a pooled design effect).")
    y, psi = d.loc[usable, "est"].to_numpy(float), d.loc[usable, "se"].to_numpy(float) ** 2
    if variances == "smoothed":
        psi = smoothed_variances(y, psi, d.loc[usable, "n"].to_numpy(float), X[usable], method)
    fit = fay_herriot(y, psi, X[usable], method)
    sampling_var = np.full(len(d), np.nan)
    sampling_var[usable] = psi
    est, mse = np.full(len(d), np.nan), np.full(len(d), np.nan)
    shrink = np.zeros(len(d))
    est[usable], mse[usable], shrink[usable] = fit.est, fit.mse, fit.shrinkage
    if (~usable).any():
        est[~usable], mse[~usable] = synthetic(fit, X[~usable])
    factor = 1.0
    if benchmark_to is not None:
        est, factor = ratio_benchmark(est, shares, benchmark_to)
    z = stats.norm.ppf(0.5 + level / 2)
    out = pd.DataFrame({"area": d["area"], "n": d["n"].astype(int), "direct_est": d["est"], "direct_se": d["se"],
                        "model_est": est, "model_mse": mse, "model_lci": np.clip(est - z * np.sqrt(mse), 0, 1),
                        "model_uci": np.clip(est + z * np.sqrt(mse), 0, 1), "shrinkage": shrink,
                        "model_kind": np.where(usable, "eblup", "synthetic")})
    for c in covariates:
        out[c] = d[c].to_numpy(float)
    out["method"] = method
    out["variances"] = variances
    out["sampling_var"] = sampling_var
    out["sigma2_u"] = fit.sigma2_u
    out["beta_intercept"] = fit.beta[0]
    for c, b in zip(covariates, fit.beta[1:], strict=True):
        out[f"beta_{c}"] = b
    out["converged"] = fit.converged
    out["iterations"] = fit.iterations
    out["benchmark_factor"] = factor
    return out
