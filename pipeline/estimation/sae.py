"""Fay–Herriot area-level model for county shares (Fay & Herriot 1979; Rao & Molina 2015, ch. 6).

    θ̂_i = x_i'β + u_i + e_i,   u_i ~ N(0, σ²_u),   e_i ~ N(0, ψ_i) with ψ_i = direct se² (taken as known)

σ²_u by REML (Fisher scoring, Rao & Molina eq. 6.2.19) or the Prasad–Rao moment estimator; β by GLS;
EBLUP θ̃_i = γ_i θ̂_i + (1 − γ_i) x_i'β̂ with shrinkage γ_i = σ²_u / (σ²_u + ψ_i).
MSE (Prasad & Rao 1990; Datta & Lahiri 2000 for REML): g1 + g2 + 2 g3 with
g1 = γ_i ψ_i, g2 = (1 − γ_i)² x_i'(X'V⁻¹X)⁻¹x_i, g3 = ψ_i² (σ²_u + ψ_i)⁻³ V̄(σ̂²_u), V̄ = 2 / Σ (σ²_u + ψ_j)⁻².
For the moment estimator V̄ = 2 m⁻² Σ (σ²_u + ψ_j)² (Prasad–Rao).
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


def _gls(y, X, psi, s2):
    vinv = 1.0 / (s2 + psi)
    xtvx = X.T @ (X * vinv[:, None])
    cov = np.linalg.inv(xtvx)
    beta = cov @ (X.T @ (vinv * y))
    return beta, cov


def fay_herriot(y, psi, X, method: str = "REML", tol: float = 1e-12, max_iter: int = 500) -> FayHerriot:
    y, psi, X = np.asarray(y, float), np.asarray(psi, float), np.asarray(X, float)
    m, p = X.shape
    if m <= p:
        raise PipelineError(f"Fay-Herriot model: {m} areas for {p} coefficients; need more areas than coefficients.")
    if np.any(~np.isfinite(psi)) or np.any(psi <= 0):
        raise PipelineError("Fay-Herriot model: every area needs a positive, finite sampling variance.")
    it, converged = 0, True
    if method == "REML":
        s2 = max(np.var(y, ddof=1) - psi.mean(), 0.0)
        converged = False
        for it in range(1, max_iter + 1):  # noqa: B007 - the count is reported after the loop
            vinv = np.diag(1.0 / (s2 + psi))
            vx = vinv @ X
            P = vinv - vx @ np.linalg.solve(X.T @ vx, vx.T)
            Py = P @ y
            score = -0.5 * np.trace(P) + 0.5 * Py @ Py
            info = 0.5 * np.trace(P @ P)
            new = max(s2 + score / info, 0.0)
            done = abs(new - s2) <= tol * max(1.0, s2)
            s2 = new
            if done:
                converged = True
                break
        vbar = 2.0 / np.sum(1.0 / (s2 + psi) ** 2)
    elif method == "PR":
        # Prasad–Rao moment estimator from the OLS residuals
        h = X @ np.linalg.solve(X.T @ X, X.T)
        resid = y - h @ y
        s2 = max((resid @ resid - np.sum(psi * (1 - np.diag(h)))) / (m - p), 0.0)
        vbar = 2.0 * np.sum((s2 + psi) ** 2) / m ** 2
    else:
        raise PipelineError(f"Fay-Herriot method {method!r}: use REML or PR.")
    beta, cov = _gls(y, X, psi, s2)
    gamma = s2 / (s2 + psi)
    synth = X @ beta
    est = gamma * y + (1 - gamma) * synth
    g1 = gamma * psi
    g2 = (1 - gamma) ** 2 * np.einsum("ij,jk,ik->i", X, cov, X)
    g3 = psi ** 2 / (s2 + psi) ** 3 * vbar
    return FayHerriot(float(s2), beta, est, g1 + g2 + 2 * g3, gamma, it, converged)
