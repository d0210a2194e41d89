"""Adjusted likelihoods (Yoshimori–Lahiri, Li–Lahiri) and smoothed sampling variances of the county model.

σ̂²_u is checked against a generic optimiser on a closed-form (adjusted) restricted log-likelihood written here,
independently of pipeline.estimation.sae, and the MSE against hand-worked balanced cases."""

import numpy as np
import pandas as pd
import pytest
from scipy.optimize import brentq, minimize_scalar

from pipeline.errors import PipelineError
from pipeline.estimation.sae import area_estimates, fay_herriot, smoothed_variances


def loglik(y, psi, X, s2, method):
    """−½ log|V| − ½ log|X'V⁻¹X| − ½ y'Py + log h(σ²), with P = V⁻¹ − V⁻¹X(X'V⁻¹X)⁻¹X'V⁻¹ as full matrices."""
    V = np.diag(s2 + psi)
    Vi = np.linalg.inv(V)
    XVX = X.T @ Vi @ X
    P = Vi - Vi @ X @ np.linalg.inv(XVX) @ X.T @ Vi
    ll = -0.5 * np.log(np.linalg.det(V)) - 0.5 * np.log(np.linalg.det(XVX)) - 0.5 * y @ P @ y
    if method == "YL":
        ll += np.log(np.arctan(np.trace(np.eye(len(y)) - np.diag(psi / (s2 + psi))))) / len(y)
    elif method == "LL":
        ll += np.log(s2)
    return ll


def optimum(y, psi, X, method):
    """The maximiser over log σ²: scipy's bounded Brent search (good to ~1e-7, the flatness of a function value),
    then scipy's brentq on a five-point central difference of the log-likelihood in log σ² (h = 1e-3: truncation
    h⁴ ≈ 1e-12, rounding 1e-14 / h ≈ 1e-11), which pins the root to ~1e-10."""
    f = lambda t: loglik(y, psi, X, np.exp(t), method)  # noqa: E731
    coarse = minimize_scalar(lambda t: -f(t), bounds=(np.log(1e-10), np.log(1.0)), method="bounded",
                             options={"xatol": 1e-10}).x
    h = 1e-3
    d = lambda t: (f(t - 2 * h) - 8 * f(t - h) + 8 * f(t + h) - f(t + 2 * h)) / (12 * h)  # noqa: E731
    return np.exp(coarse), np.exp(brentq(d, coarse - 0.05, coarse + 0.05, xtol=1e-14))


def _cases():
    rng = np.random.default_rng(20241)
    for k in range(6):
        m = 13
        X = np.column_stack([np.ones(m), rng.uniform(0.2, 0.95, m)])
        psi = rng.uniform(1e-4, 1.2e-3, m)
        # even k: tiny area variance, where REML sits at 0; odd k: σ² of the order of ψ
        theta = X @ [-0.1, 0.4] + rng.normal(0, np.sqrt(1e-6 if k % 2 == 0 else 5e-4), m)
        yield k, theta + rng.normal(0, np.sqrt(psi)), psi, X


CASES = list(_cases())


@pytest.mark.parametrize("method", ["YL", "LL"])
@pytest.mark.parametrize("case", range(len(CASES)))
def test_adjusted_reml_matches_a_generic_optimiser(case, method):
    _, y, psi, X = CASES[case]
    fh = fay_herriot(y, psi, X, method)
    coarse, fine = optimum(y, psi, X, method)
    assert fh.converged and fh.sigma2_u > 0
    assert fh.sigma2_u == pytest.approx(coarse, rel=1e-5)
    assert fh.sigma2_u == pytest.approx(fine, rel=1e-8)


def test_adjusted_reml_stays_positive_where_reml_is_zero():
    zero = [(y, psi, X) for _, y, psi, X in CASES if fay_herriot(y, psi, X, "REML").sigma2_u == 0.0]
    assert len(zero) >= 2  # the cases above do put REML at 0
    for y, psi, X in zero:
        yl, ll = fay_herriot(y, psi, X, "YL"), fay_herriot(y, psi, X, "LL")
        assert yl.sigma2_u > 0 and ll.sigma2_u > yl.sigma2_u  # h = σ² pulls harder than arctan(...)^(1/m)
        assert np.all(yl.shrinkage > 0) and np.all(yl.mse > 0)


def test_yoshimori_lahiri_balanced_case_by_hand():
    # y = .1,.2,.3,.4, ψ = .001, intercept only, m = 4, p = 1. With equal ψ, v = σ² + ψ, V = vI, P = (I − J/4)/v:
    # REML score −(m − p)/(2v) + ½ Σ(y − ȳ)²/v² = −1.5/v + .025/v²; log h = ¼ log arctan t, t = 4σ²/v,
    # ∂ log h/∂σ² = ¼ · (4ψ/v²) / ((1 + t²) arctan t) = ψ / (v² (1 + t²) arctan t). Setting the sum to 0:
    # v = (.025 + ψ / ((1 + t²) arctan t)) / 1.5. From the REML v = .0166667: t = 3.76, arctan t = 1.31082,
    # 1 + t² = 15.1376, ψ/(…) = 5.0396e-5 → v = .0167003; again t = 3.76024 → v = .01670027 (fixed point).
    fh = fay_herriot([0.1, 0.2, 0.3, 0.4], [0.001] * 4, np.ones((4, 1)), "YL")
    v = fh.sigma2_u + 0.001
    t = 4 * fh.sigma2_u / v
    assert v == pytest.approx((0.025 + 0.001 / ((1 + t * t) * np.arctan(t))) / 1.5, rel=1e-12)
    assert v == pytest.approx(0.01670027, rel=1e-6)
    # MSE = g1 + g2 + 2 g3 (REML's): γ = σ²/v, g1 = γψ, g2 = (1 − γ)² v/4, g3 = ψ²/v³ · 2/(4/v²) = ψ²/(2v)
    g = fh.sigma2_u / v
    np.testing.assert_allclose(fh.mse, g * 0.001 + (1 - g) ** 2 * v / 4 + 2 * 0.001 ** 2 / (2 * v), rtol=1e-12)
    # numbers: γ = .94012, g1 = .00094012, g2 = .0035856·.0041751 = 1.4970e-5, 2 g3 = 5.9880e-5 → .00101497
    np.testing.assert_allclose(fh.mse, 0.00101497, rtol=1e-5)


def test_li_lahiri_balanced_case_by_hand():
    # As above with log h = log σ²: −1.5/v + .025/v² + 1/σ² = 0; times σ²v² with v = σ² + ψ:
    # −1.5σ²(σ² + ψ) + .025σ² + (σ² + ψ)² = 0 → −.5σ⁴ + (.025 + 2ψ − 1.5ψ)σ² + ψ² = 0 → .5σ⁴ − .0255σ² − 1e-6 = 0,
    # σ² = [.0255 + √(.0255² + 4·.5·1e-6)] / (2·.5) = .0255 + √.00065225 = .0255 + .02553919 = .05103919:
    # three times REML's .0156667, as the factor σ² weighs like data when m = 4.
    fh = fay_herriot([0.1, 0.2, 0.3, 0.4], [0.001] * 4, np.ones((4, 1)), "LL")
    assert fh.sigma2_u == pytest.approx(0.0255 + np.sqrt(0.0255 ** 2 + 2e-6), rel=1e-10)
    assert fh.sigma2_u == pytest.approx(0.05103919, rel=1e-6)
    # MSE subtracts b_LL (1 − γ)², b_LL = (2/σ²) / Σ v⁻² = (2/σ²) v²/4 = v²/(2σ²)
    s2 = fh.sigma2_u
    v, g = s2 + 0.001, s2 / (s2 + 0.001)
    prasad_rao = g * 0.001 + (1 - g) ** 2 * v / 4 + 0.001 ** 2 / v
    np.testing.assert_allclose(fh.mse, prasad_rao - v * v / (2 * s2) * (1 - g) ** 2, rtol=1e-12)


def test_smoothed_variances_by_hand():
    # three areas on one line (x = est), so the synthetic estimates are the estimates: p̃ = (.1, .3, .2);
    # n = (100, 400, 200), ψ = (.002, .0002, .001): Σ nψ = .2 + .08 + .2 = .48, Σ p̃(1 − p̃) = .09 + .21 + .16 = .46,
    # d̄ = .48/.46 = 1.04348; ψ̃ = d̄ · (.09/100, .21/400, .16/200) = (.00093913, .00054783, .00083478)
    X = np.column_stack([np.ones(3), [0.1, 0.3, 0.2]])
    y, n, psi = np.array([0.1, 0.3, 0.2]), np.array([100, 400, 200]), np.array([0.002, 0.0002, 0.001])
    got = smoothed_variances(y, psi, n, X)
    d = 0.48 / 0.46
    np.testing.assert_allclose(got, d * np.array([0.09 / 100, 0.21 / 400, 0.16 / 200]), rtol=1e-9)
    np.testing.assert_allclose(got, [0.00093913, 0.00054783, 0.00083478], rtol=1e-4)
    assert float(np.sum(n * got)) == pytest.approx(float(np.sum(n * psi)), rel=1e-12)  # the total is kept
    with pytest.raises(PipelineError, match="number of respondents"):
        smoothed_variances(y, psi, [100, 0, 200], X)


def test_area_estimates_with_smoothed_variances_and_bad_option():
    _, y, psi, X = CASES[1]
    d = pd.DataFrame({"area": [f"a{i}" for i in range(13)], "n": 800, "est": y, "se": np.sqrt(psi), "x": X[:, 1]})
    out = area_estimates(d, ["x"], "REML", variances="smoothed")
    psi_s = smoothed_variances(y, psi, np.full(13, 800.0), X)
    np.testing.assert_allclose(out["sampling_var"], psi_s, rtol=1e-12)
    fh = fay_herriot(y, psi_s, X, "REML")
    np.testing.assert_allclose(out["model_est"], fh.est, rtol=1e-12)
    np.testing.assert_allclose(out["model_mse"], fh.mse, rtol=1e-12)
    assert (out["variances"] == "smoothed").all()
    direct = area_estimates(d, ["x"], "YL")
    np.testing.assert_allclose(direct["sampling_var"], psi, rtol=1e-12)
    with pytest.raises(PipelineError, match="sae.variances"):
        area_estimates(d, ["x"], "REML", variances="gvf")
