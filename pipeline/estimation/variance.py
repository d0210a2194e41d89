"""Variance of domain estimates: Taylor linearisation (ultimate cluster) and replicate weights.

Both work on the influence values already summed to (domain × PSU) cells, so all domains of all
partitions go through one set of array operations. The rules follow R's `survey` package
(svyrecvar/onestage/onestrat and svrVar); the R semantics are cited where they matter.
"""

from __future__ import annotations

import numpy as np

from pipeline.errors import PipelineError
from pipeline.survey_design.spec import LONELY_PSU  # the policies design.yaml may name (R survey semantics)


def stratum_variance(
    z: np.ndarray,
    psu_stratum: np.ndarray,
    n_psu: np.ndarray,
    fpc_f: np.ndarray,
    present: np.ndarray,
    lonely_psu: str,
    stratum_labels: np.ndarray,
) -> np.ndarray:
    """Σ_h scale_h Σ_j (z_hj − z̄_h)² for every domain (and variable) at once.

    z: (D, P, K) PSU totals of the influence values, zero where a PSU has no domain members.
    Centring uses all n_h PSUs of the stratum in the full design, which is what R gets by padding the
    subset's PSU totals with zeros up to the design's PSU count (onestrat, `nsubset < nPSU`).
    present: (D, H, K) strata with members of the domain. R tallies strata per domain subset, which
    matters only for the "average" policy (its nstrat/nokstrat factor).
    fpc_f: (H,) finite-population factor (N_h − n_h)/N_h, 1 without FPC.
    """
    sz = stratum_sums(z, psu_stratum, len(n_psu))
    sz2 = stratum_sums(z * z, psu_stratum, len(n_psu))
    nh = n_psu.astype(float)[None, :, None]
    lonely = n_psu == 1
    with np.errstate(divide="ignore", invalid="ignore"):
        scale = np.where(lonely, fpc_f, fpc_f * n_psu / np.maximum(n_psu - 1, 1))
        centred = sz2 - sz * sz / nh
    # numerical noise can make a zero sum of squares slightly negative
    centred = np.maximum(centred, 0.0)
    contrib = scale[None, :, None] * centred
    certain = fpc_f < 1e-7  # R: all(f < 1e-7) → self-representing stratum, zero variance
    contrib[:, certain, :] = 0.0
    lonely_live = lonely & ~certain
    if lonely_live.any():
        hit = present[:, lonely_live, :].any(axis=(0, 2))
        if lonely_psu == "fail" and hit.any():
            names = ", ".join(str(s) for s in stratum_labels[np.flatnonzero(lonely_live)[hit]])
            raise PipelineError(
                f"stratum/strata {names} have only one PSU, so their variance cannot be estimated "
                "(lonely PSU policy 'fail'). Fix the design (collapse each such stratum with a similar one "
                "in design.yaml) or choose a lonely_psu policy: remove, certainty, adjust or average."
            )
        if lonely_psu in ("remove", "certainty"):
            # R centres the single PSU on itself, so the stratum contributes nothing
            contrib[:, lonely_live, :] = 0.0
        elif lonely_psu == "adjust":
            # the lonely PSU is centred on the average PSU total over all PSUs of the strata in the
            # domain, scaled by f alone (R survey since the 2022 revision of onestage; for means the
            # influence values sum to zero so the centre is 0, as in every R version)
            all_psus = np.einsum("dhk,h->dk", present.astype(float), n_psu.astype(float))
            with np.errstate(divide="ignore", invalid="ignore"):
                centre = np.where(all_psus > 0, z.sum(axis=1) / all_psus, 0.0)
            dev = sz[:, lonely_live, :] - centre[:, None, :]
            contrib[:, lonely_live, :] = fpc_f[lonely_live][None, :, None] * dev * dev
        elif lonely_psu == "average":
            contrib[:, lonely_live, :] = 0.0
        elif lonely_psu != "fail":
            raise PipelineError(f"unknown lonely_psu policy {lonely_psu!r}; use one of {LONELY_PSU}")
    total = contrib.sum(axis=1)
    if lonely_psu == "average" and lonely_live.any():
        # R: sum over strata with a variance, times nstrat / nokstrat, counted among the domain's strata
        nstrat = present.sum(axis=1)
        nok = nstrat - present[:, lonely_live, :].sum(axis=1)
        with np.errstate(divide="ignore", invalid="ignore"):
            total = np.where(nok > 0, total * nstrat / np.maximum(nok, 1), np.nan)
    return total


def stratum_sums(x: np.ndarray, psu_stratum: np.ndarray, n_strata: int) -> np.ndarray:
    """(D, P, K) → (D, H, K) sums over the PSUs of each stratum (one GEMM)."""
    ind = np.zeros((len(psu_stratum), n_strata))
    ind[np.arange(len(psu_stratum)), psu_stratum] = 1.0
    D, P, K = x.shape
    return (ind.T @ x.transpose(1, 0, 2).reshape(P, D * K)).reshape(n_strata, D, K).transpose(1, 0, 2)


def replicate_variance(
    theta: np.ndarray, est: np.ndarray, scale: float, rscales: np.ndarray, mse: bool
) -> np.ndarray:
    """R's svrVar: scale · Σ_r rscales_r (θ_r − centre)², centre = full-sample estimate if mse, else the
    mean of the replicates with rscales > 0. theta: (..., R)."""
    if mse:
        centre = est[..., None]
    else:
        use = rscales > 0
        centre = theta[..., use].mean(axis=-1, keepdims=True)
    dev = theta - centre
    return scale * np.einsum("...r,r->...", dev * dev, rscales)


def replicate_defaults(method: str, n_rep: int, rho: float | None, rscales, scale):
    """Scale factors as R's svrepdesign fills them when they are not given."""
    if method == "JKn":
        if rscales is None:
            raise PipelineError(
                "JKn replicate weights need rscales ((n_h − 1)/n_h of the stratum each replicate drops); "
                "pass rscales= or store them in the weights metadata."
            )
        return (1.0 if scale is None else float(scale)), np.asarray(rscales, dtype=float)
    if method == "JK1":
        default = (n_rep - 1) / n_rep
    elif method == "bootstrap":
        default = 1.0 / (n_rep - 1)
    elif method == "BRR":
        default = 1.0 / n_rep
    elif method == "Fay":
        if rho is None and scale is None:
            raise PipelineError("Fay replicate weights need rho (the Fay coefficient, e.g. 0.5).")
        default = None if rho is None else 1.0 / (n_rep * (1.0 - rho) ** 2)
    else:
        raise PipelineError(
            f"unknown replicate method {method!r}; use one of JKn, JK1, bootstrap, BRR, Fay."
        )
    sc = default if scale is None else float(scale)
    rs = np.ones(n_rep) if rscales is None else np.asarray(rscales, dtype=float)
    return sc, rs
