"""Design-based generalised linear models: linear and logistic regression on a survey Design.

    fit_glm(design, "literate ~ C(education) + age_band + sex + urban", family="logistic")
    logistic(design, ...), linear(design, ...)   # the same, family named by the function

The coefficients solve the weighted score equations Σ w_i x_i (y_i − μ_i) = 0 (pseudo-maximum
likelihood), fitted by iteratively reweighted least squares. Standard errors are design-based:

- linearisation: the sandwich A⁻¹ B A⁻¹, A = X'WDX the weighted information and B the ultimate-cluster
  variance of the PSU totals of the influence values U_i = w_i x_i (y_i − μ_i) μ'_i / V(μ_i), with the
  design's strata, FPC and lonely-PSU policy; on a calibrated design U is first replaced by its
  calibration residuals (what R's svyglm does through svyrecvar's postStrata);
- replicate weights: the model is refitted on every replicate weight column (all replicates in one
  vectorised IRLS) and the replicate coefficients go through the design's replicate variance formula.

The rules follow R's survey::svyglm so that the numbers agree (tests/data/golden/regression):
- the IRLS repeats R's glm.fit (same starting values, the same relative-deviance stopping rule with
  epsilon 1e-8, weights rescaled as svyglm rescales them). Replicate fits start from the full-sample
  coefficients as svyglm's do; matching the iteration path matters because jackknife replicate
  coefficients differ from the full-sample ones only in the third or fourth digit, so a replicate
  stopped at a different point would move the standard error at the 1e-6 level;
- a domain (`subset=`) keeps the whole design and gives zero weight outside it (R's subset semantics);
  rows with a missing model variable get zero weight too, so PSUs and strata are never dropped;
- t tests and intervals use degf(design) + 1 − p degrees of freedom (summary.svyglm, confint.svyglm),
  degf counted on the rows of the domain.
The dispersion of a quasi-binomial or Gaussian model does not enter the design-based variance.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
import patsy
from scipy import linalg, stats

from pipeline.errors import InputError, PipelineError
from pipeline.estimation import variance as V
from pipeline.estimation.domains import partition_by, partition_flag

if TYPE_CHECKING:
    from pipeline.estimation.design import Design

EPSILON = 1e-8  # R's glm.control() default
MAXIT = 25


@dataclass(frozen=True)
class Family:
    name: str
    linkinv: callable
    mu_eta: callable
    variance: callable
    dev_resids: callable
    mustart: callable  # (y, prior weights) → starting means, as R's family$initialize


def _logistic() -> Family:
    def linkinv(eta):
        # R clamps at machine epsilon so that mu never reaches 0 or 1
        eps = np.finfo(float).eps
        thresh = -np.log(eps)
        return np.clip(1.0 / (1.0 + np.exp(-np.clip(eta, -thresh, thresh))), eps, 1 - eps)

    def mu_eta(eta):
        e = np.exp(-np.abs(eta))
        return np.maximum(e / (1.0 + e) ** 2, np.finfo(float).eps)

    def dev_resids(y, mu, wt):
        with np.errstate(divide="ignore", invalid="ignore"):
            a = np.where(y > 0, y * np.log(y / mu), 0.0)
            b = np.where(y < 1, (1 - y) * np.log((1 - y) / (1 - mu)), 0.0)
        return 2.0 * wt * (a + b)

    return Family("quasibinomial", linkinv, mu_eta, lambda mu: mu * (1 - mu), dev_resids,
                  lambda y, w: (w * y + 0.5) / (w + 1.0))


def _gaussian() -> Family:
    return Family("gaussian", lambda eta: eta, np.ones_like, np.ones_like,
                  lambda y, mu, wt: wt * (y - mu) ** 2, lambda y, w: y)


FAMILIES = {"logistic": _logistic, "quasibinomial": _logistic, "binomial": _logistic,
            "linear": _gaussian, "gaussian": _gaussian}


# ---------------------------------------------------------------------------------------------- model
def model_matrices(df: pd.DataFrame, formula: str) -> tuple[np.ndarray, np.ndarray, list[str], np.ndarray]:
    """(y, X, term names, usable) with one row per data row; rows with a missing model variable are
    kept (usable False, zeros in y and X) so that they can carry zero weight in the full design."""
    data = df.reset_index(drop=True)
    # patsy does not know pandas' nullable booleans: as 0/1 floats their missing values stay missing
    nullable = [c for c in data.columns if str(data[c].dtype) == "boolean"]
    if nullable:
        data = data.assign(**{c: data[c].astype("Float64").astype(float) for c in nullable})
    try:
        ymat, xmat = patsy.dmatrices(formula, data, NA_action=patsy.NAAction(on_NA="drop"),
                                     return_type="dataframe")
    except patsy.PatsyError as exc:
        raise InputError(f"regression formula {formula!r}: {exc}") from None
    if ymat.shape[1] == 2 and ymat.columns[1].endswith("[True]"):
        # a logical response (e.g. I(x == "Yes")) comes back as two indicator columns
        ymat = ymat.iloc[:, [1]]
    if ymat.shape[1] != 1:
        raise InputError(f"regression formula {formula!r}: the response must be one numeric or 0/1 column, "
                         f"got {list(ymat.columns)}.")
    rows = ymat.index.to_numpy()
    n = len(data)
    usable = np.zeros(n, bool)
    usable[rows] = True
    y = np.zeros(n)
    y[rows] = ymat.iloc[:, 0].to_numpy(float)
    X = np.zeros((n, xmat.shape[1]))
    X[rows] = xmat.to_numpy(float)
    return y, X, [str(c) for c in xmat.columns], usable


def domain_mask(design: Design, subset) -> np.ndarray:
    """A boolean mask over the design's rows from a mask or a DataFrame.eval() expression."""
    if subset is None:
        return np.ones(design.n, bool)
    if isinstance(subset, str):
        try:
            s = design.df.eval(subset)
        except Exception as exc:  # pandas raises many kinds for a bad expression
            raise InputError(f"subset expression {subset!r} could not be evaluated: {exc}") from None
    else:
        s = subset
    s = pd.Series(np.asarray(s) if not isinstance(s, pd.Series) else s.to_numpy())
    if len(s) != design.n:
        raise InputError(f"subset has {len(s)} values; the design has {design.n} rows.")
    if s.isna().any():
        raise InputError(f"subset has {int(s.isna().sum())} missing value(s); a domain must be true or false "
                         "for every respondent.")
    if not (pd.api.types.is_bool_dtype(s.dtype) or str(s.dtype) == "boolean"):
        raise InputError(f"subset must be boolean, got dtype {s.dtype}.")
    return s.to_numpy(dtype=bool)


# ---------------------------------------------------------------------------------------------- IRLS
def _aliased(X: np.ndarray, w: np.ndarray) -> np.ndarray:
    """Columns linearly dependent on earlier ones in the weighted fit (R's glm reports them as NA)."""
    keep = w > 0
    if not keep.any():
        raise InputError("the regression has no rows with positive weight (empty domain?).")
    xs = X[keep] * np.sqrt(w[keep])[:, None]
    norms = np.linalg.norm(xs, axis=0)
    r = linalg.qr(xs, mode="r")[0]
    diag = np.zeros(xs.shape[1])
    k = min(r.shape)
    diag[:k] = np.abs(np.diag(r))[:k]
    # dqrdc2's rule: a column whose remaining norm is below 1e-7 of its original norm is aliased
    return (norms == 0) | (diag < 1e-7 * np.where(norms > 0, norms, 1.0))


def irls(X: np.ndarray, y: np.ndarray, W: np.ndarray, fam: Family, start: np.ndarray | None = None,
         epsilon: float = EPSILON, maxit: int = MAXIT):
    """R's glm.fit for every column of the prior weights W (n, K) at once.

    Returns coefficients (p, K), converged (K,), iterations (K,) and the linear predictor (n, K) at which
    the last weighted least-squares step took its working weights. Each column stops on R's rule
    |dev − dev_old| / (|dev| + 0.1) < epsilon; converged columns are frozen."""
    n, p = X.shape
    K = W.shape[1]
    if start is None:
        mu = fam.mustart(y[:, None], W)
        eta = np.log(mu / (1 - mu)) if fam.name == "quasibinomial" else mu.copy()
        beta = np.zeros((p, K))
    else:
        beta = np.broadcast_to(np.asarray(start, float).reshape(p, -1), (p, K)).copy()
        eta = X @ beta
    mu = fam.linkinv(eta)
    devold = fam.dev_resids(y[:, None], mu, W).sum(0)
    active = np.ones(K, bool)
    iters = np.zeros(K, np.int64)
    conv = np.zeros(K, bool)
    eta_w = eta.copy()
    for it in range(1, maxit + 1):
        cols = np.flatnonzero(active)
        if not len(cols):
            break
        e, m, w = eta[:, cols], mu[:, cols], W[:, cols]
        d = fam.mu_eta(e)
        z = e + (y[:, None] - m) / d
        ww = w * d * d / fam.variance(m)
        new = np.empty((p, len(cols)))
        for j in range(len(cols)):
            xw = X * ww[:, j, None]
            try:
                new[:, j] = linalg.solve(xw.T @ X, xw.T @ z[:, j], assume_a="pos")
            except linalg.LinAlgError:
                raise PipelineError(
                    f"weight column {cols[j] + 1} leaves a model term without information (e.g. a replicate that "
                    "drops every respondent of a category in the domain); merge sparse categories or fit a "
                    "smaller model."
                ) from None
        beta[:, cols] = new
        eta_w[:, cols] = e
        eta[:, cols] = X @ new
        mu[:, cols] = fam.linkinv(eta[:, cols])
        dev = fam.dev_resids(y[:, None], mu[:, cols], w).sum(0)
        if not np.all(np.isfinite(dev)):
            raise PipelineError("the regression diverged (non-finite deviance): check for separation, e.g. a "
                                "category in which every respondent has the same outcome.")
        iters[cols] = it
        done = np.abs(dev - devold[cols]) / (np.abs(dev) + 0.1) < epsilon
        conv[cols[done]] = True
        active[cols[done]] = False
        devold[cols] = dev
    return beta, conv, iters, eta_w


# ---------------------------------------------------------------------------------------------- fit
def logistic(design: Design, formula: str, subset=None, variance: str | None = None, level: float | None = None):
    """Design-based logistic regression (R's svyglm with quasibinomial())."""
    return fit_glm(design, formula, "logistic", subset=subset, variance=variance, level=level)


def linear(design: Design, formula: str, subset=None, variance: str | None = None, level: float | None = None):
    """Design-based linear regression (R's svyglm, gaussian)."""
    return fit_glm(design, formula, "linear", subset=subset, variance=variance, level=level)


def fit_glm(design: Design, formula: str, family: str = "logistic", subset=None, variance: str | None = None,
            level: float | None = None) -> pd.DataFrame:
    """Design-based GLM. Returns one row per coefficient: term, est, se, t, df, p_value, lci, uci (and for
    the logistic family odds_ratio, or_lci, or_uci); fit details in `.attrs` (vcov, n, converged, ...)."""
    if family not in FAMILIES:
        raise PipelineError(f"family {family!r} is not one of {sorted(FAMILIES)}.")
    fam = FAMILIES[family]()
    method = variance or ("replicate" if design.replicates is not None else "taylor")
    if method not in ("taylor", "replicate"):
        raise PipelineError(f"variance={method!r}: use 'taylor' or 'replicate'.")
    if method == "replicate" and design.replicates is None:
        raise PipelineError("replicate variance requested but the design has no replicate weights.")
    level = design.level if level is None else level
    dom = domain_mask(design, subset)
    y, X, names, usable = model_matrices(design.df, formula)
    if fam.name == "quasibinomial" and np.any(usable & ((y < 0) | (y > 1))):
        raise InputError(f"logistic regression {formula!r}: the response must lie in [0, 1] (0/1 or true/false).")
    keep = dom & usable
    w = np.where(keep, design.w, 0.0)
    if not (w > 0).any():
        raise InputError(f"regression {formula!r}: no respondent with positive weight in the domain.")
    alias = _aliased(X, w)
    Xa = X[:, ~alias]
    # svyglm's rescaling to mean 1 over the rows its subset keeps: R drops the rows outside a domain
    # except on a calibrated linearised design, where they stay with zero weight. It changes nothing but
    # the scale of the stopping rule, hence where the iterations stop
    base = np.where(dom, design.w, 0.0)
    scale = base.mean() if method == "taylor" and design.calibration is not None else base[dom].mean()
    beta, conv, iters, eta_w = irls(Xa, y, (w / scale)[:, None], fam)
    if not conv[0]:
        raise PipelineError(f"regression {formula!r} did not converge in {MAXIT} iterations; coefficients "
                            "running off to infinity usually mean separation (a category in which every "
                            "respondent has the same outcome).")
    b = beta[:, 0]
    eta = Xa @ b
    mu = fam.linkinv(eta)
    # R's svyglm takes A and the working weights of its estfun from glm's last least-squares step,
    # evaluated at the iterate before the final one; at convergence the two agree to the stopping
    # tolerance, but only the same choice agrees with R to 1e-6
    mw, dw = fam.linkinv(eta_w[:, 0]), fam.mu_eta(eta_w[:, 0])
    working = w * dw * dw / fam.variance(mw)
    ainv = linalg.inv((Xa * working[:, None]).T @ Xa)
    if method == "taylor":
        vc, df_design = _taylor(design, Xa, working * (y - mu) / fam.mu_eta(eta), w, ainv)
        rep_conv = None
    else:
        vc, rep_conv = _replicate(design, Xa, y, fam, b, dom, usable)
        df_design = _replicate_degf(design, dom)
    p = Xa.shape[1]
    df = df_design + 1 - p
    est = np.full(len(names), np.nan)
    se = np.full(len(names), np.nan)
    est[~alias] = b
    se[~alias] = np.sqrt(np.diag(vc))
    with np.errstate(divide="ignore", invalid="ignore"):
        t = est / se
        if df > 0:
            pval = 2 * stats.t.sf(np.abs(t), df)
            q = stats.t.ppf(0.5 + level / 2, df)
        else:
            pval, q = np.full_like(t, np.nan), np.nan
    out = pd.DataFrame({"term": names, "est": est, "se": se, "t": t, "df": float(df), "p_value": pval,
                        "lci": est - q * se, "uci": est + q * se})
    if fam.name == "quasibinomial":
        out["odds_ratio"] = np.exp(out["est"])
        out["or_lci"] = np.exp(out["lci"])
        out["or_uci"] = np.exp(out["uci"])
    full_vc = np.full((len(names), len(names)), np.nan)
    full_vc[np.ix_(~alias, ~alias)] = vc
    out.attrs.update({
        "formula": formula, "family": fam.name, "variance_method": method, "level": level,
        "n": int((w > 0).sum()), "n_psu": int(len(np.unique(design.p[w > 0]))), "df_design": float(df_design),
        "converged": bool(conv[0]), "iterations": int(iters[0]), "aliased": [n for n, a in zip(names, alias,
                                                                                              strict=True) if a],
        "vcov": full_vc, "replicates_converged": None if rep_conv is None else int(rep_conv.sum()),
    })
    return out


def fit_by(design: Design, formula: str, by, family: str = "logistic", variance: str | None = None,
           level: float | None = None) -> pd.DataFrame:
    """One fit per domain of the `by` columns (each on the full design), stacked with the domain labels."""
    part = partition_by(design.df, list(by) if isinstance(by, (list, tuple)) else [by])
    frames = []
    for d in range(part.size):
        r = fit_glm(design, formula, family, subset=part.codes == d, variance=variance, level=level)
        for col in reversed(part.labels.columns):
            r.insert(0, col, part.labels[col].iloc[d])
        frames.append(r)
    return pd.concat(frames, ignore_index=True)


# ---------------------------------------------------------------------------------------------- variance
def _covariance(var_of, K: int) -> np.ndarray:
    """Full covariance from a function giving the variances of columns (pairs summed): the variance
    formulas (with every lonely-PSU rule) are quadratic forms, so Cov(a, b) = (V(a+b) − V(a) − V(b)) / 2."""
    pairs = [(i, j) for i in range(K) for j in range(i + 1, K)]
    comb = np.zeros((K, K + len(pairs)))
    comb[np.arange(K), np.arange(K)] = 1.0
    for c, (i, j) in enumerate(pairs):
        comb[[i, j], K + c] = 1.0
    v = var_of(comb)
    out = np.diag(v[:K])
    for c, (i, j) in enumerate(pairs):
        out[i, j] = out[j, i] = (v[K + c] - v[i] - v[j]) / 2
    return out


def _taylor(design: Design, X, score, w, ainv):
    """score: the weighted working residuals, so that X * score are the rows' estimating-function values."""
    n, p = X.shape
    zrow = X * score[:, None] @ ainv  # influence of each row on the coefficients
    zrow[~(w > 0)] = 0.0
    P = design.P
    z = np.stack([np.bincount(design.p, zrow[:, k], minlength=P) for k in range(p)], axis=-1)[None]
    if design.calibration is not None:
        with np.errstate(divide="ignore", invalid="ignore"):
            u = np.where((design.w > 0)[:, None], zrow / design.w[:, None], 0.0)
        part = partition_by(design.df, None)
        ones = np.ones((n, p), bool)
        z = design.calibration.residualise(z, u, ones, [part], np.zeros((1, p)), np.ones((1, p)), "total", 1,
                                           design.w)
    used = w > 0
    has_psu = np.zeros(P, bool)
    has_psu[design.p[used]] = True
    present_h = np.zeros(design.H, bool)
    present_h[design.psu_stratum[has_psu]] = True

    def var_of(comb):
        zc = z @ comb
        present = np.broadcast_to(present_h[None, :, None], (1, design.H, zc.shape[-1]))
        return V.stratum_variance(zc, design.psu_stratum, design.n_psu, design.fpc_f, present,
                                  design.lonely_psu, design.stratum_labels)[0]

    df = float(has_psu.sum() - present_h.sum())
    return _covariance(var_of, p), df


def _replicate(design: Design, X, y, fam: Family, b, dom, usable):
    rep = design.replicates
    W = design.replicate_matrix() * (dom & usable)[:, None]
    tot = W.sum(0)
    if np.any(tot <= 0):
        raise PipelineError(f"{int((tot <= 0).sum())} replicate(s) have no positive weight in the domain.")
    beta, conv, _, _ = irls(X, y, W / tot, fam, start=b)
    if not conv.all():
        raise PipelineError(f"the regression did not converge in {int((~conv).sum())} replicate(s).")

    def var_of(comb):
        return V.replicate_variance(comb.T @ beta, comb.T @ b, rep.scale, rep.rscales, rep.mse)

    return _covariance(var_of, X.shape[1]), conv


def _replicate_degf(design: Design, dom) -> float:
    """The domain's design df (PSUs − strata with domain members, the estimators' rule for replicate
    designs too), via the estimator's per-domain df."""
    part = partition_flag(dom, {"domain": "regression"})
    r = design.estimate({"one": np.ones(design.n)}, "total", [part], variance="replicate")
    return float(r["df"].iloc[0])


def wald_test(fit: pd.DataFrame, terms) -> dict:
    """Joint design-based Wald test that a set of coefficients are all zero, as R's regTermTest(method =
    "Wald"): F = b'V⁻¹b / q on (q, df) degrees of freedom, df the fit's residual design df.

    terms: a model term as written in the formula (e.g. "age_band" or "C(education, Treatment('初中'))"),
    which selects all its columns, or a list of coefficient names."""
    names = fit["term"].astype(str).tolist()
    if isinstance(terms, str):
        pick = [i for i, t in enumerate(names) if t == terms or t.startswith(terms + "[")]
    else:
        pick = [names.index(t) for t in terms if t in names]
        if len(pick) != len(terms):
            raise InputError(f"terms {sorted(set(terms) - set(names))} are not coefficients of the fit.")
    if not pick:
        raise InputError(f"no coefficient of the fit belongs to {terms!r}; coefficients: {names}.")
    b = fit["est"].to_numpy(float)[pick]
    v = np.asarray(fit.attrs["vcov"])[np.ix_(pick, pick)]
    if not np.all(np.isfinite(b)):
        raise InputError(f"{terms!r} includes aliased coefficients (no estimate); drop them from the test.")
    q = len(pick)
    chisq = float(b @ linalg.solve(v, b, assume_a="pos"))
    ddf = float(fit["df"].iloc[0])
    f = chisq / q
    p = float(stats.f.sf(f, q, ddf)) if ddf > 0 else np.nan
    return {"terms": [names[i] for i in pick], "chisq": chisq, "F": f, "df": q, "ddf": ddf, "p_value": p}
