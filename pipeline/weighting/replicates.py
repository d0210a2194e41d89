"""Replicate factors at the PSU level: delete-one-PSU jackknife (JKn), the grouped (delete-a-group)
jackknife for designs with many PSUs, and the Rao–Wu rescaled bootstrap with m_h = n_h − 1 (R survey's
subbootweights / as.svrepdesign(type="subbootstrap")).

Grouped jackknife: the PSUs of each stratum are dealt at random (seeded) into min(G, n_h) groups of
near-equal size, and each replicate deletes one group: the JKn of the groups, with factor
G_h/(G_h − 1) and rscale (G_h − 1)/G_h (Kott's delete-a-group jackknife, stratified). A national
design with 1,500 PSUs gets G × strata replicates (e.g. 8 × 11 = 88) instead of 1,500. Its variance has
Σ_h (G_h − 1) degrees of freedom at most, so the estimation stage counts df on the groups: groups with
domain members − strata with domain members (the group of every PSU travels in the metadata).

A factor matrix A (PSUs × R) multiplies the base weights of every unit (respondent or sampled
household) in a PSU; the weighting steps then run on the resulting n × R matrix, so each replicate is
re-weighted exactly as the full sample. The scale factors follow R's svrepdesign conventions so the
estimation stage can pass them straight through.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from pipeline.errors import PipelineError


@dataclass(frozen=True)
class ReplicateFactors:
    method: str  # "JKn" | "bootstrap"
    factors: np.ndarray  # (n_psu, R)
    scale: float
    rscales: np.ndarray  # (R,)
    mse: bool
    lonely_strata: tuple[str, ...]  # strata with one PSU, left out of the replicates
    deleted_psu: np.ndarray | None = None  # JKn: index of the PSU each replicate deletes
    psu_group: np.ndarray | None = None  # grouped jackknife: the group (variance unit) of each PSU
    groups: int | None = None  # grouped jackknife: groups per stratum asked for

    @property
    def n_replicates(self) -> int:
        return self.factors.shape[1]

    def metadata(self, seed: int | None = None) -> dict:
        meta = {"method": self.method, "scale": float(self.scale),
                "rscales": [float(x) for x in self.rscales], "mse": bool(self.mse),
                "n_replicates": int(self.n_replicates), "lonely_strata": list(self.lonely_strata)}
        if self.method == "bootstrap":
            meta["type"] = "subbootstrap"  # R: as.svrepdesign(type="subbootstrap"), scale 1/(R-1)
            meta["seed"] = seed
        if self.psu_group is not None:
            meta["groups_per_stratum"] = int(self.groups)
            meta["seed"] = seed
        return meta


def _lonely(strata: np.ndarray, n_h: np.ndarray, labels: np.ndarray, policy: str) -> tuple[str, ...]:
    lonely = tuple(str(labels[i]) for i in np.flatnonzero(n_h == 1))
    if lonely and policy == "fail":
        raise PipelineError(
            f"stratum/strata {list(lonely)} have a single PSU, so replicate weights cannot measure their "
            "variance (design.lonely_psu: fail). Merge each with a similar stratum, or set design.lonely_psu "
            "in design.yaml to certainty/remove/adjust/average."
        )
    return lonely


def jkn_factors(psu_stratum: np.ndarray, lonely_psu: str = "fail", mse: bool = False,
                psu_fpc: np.ndarray | None = None) -> ReplicateFactors:
    """One replicate per PSU: that PSU gets factor 0, the rest of its stratum n_h/(n_h − 1).

    `psu_stratum` holds the stratum code of each PSU (PSUs in the order of the factor rows). Replicates
    follow the PSU order; strata with a single PSU get no replicate (their PSU keeps factor 1).
    `psu_fpc`, when given, is the number of PSUs in the population stratum (R's fpc, type
    "population"); rscales then carry the finite population correction 1 − n_h/N_h as R's do.
    """
    labels, h = np.unique(np.asarray(psu_stratum), return_inverse=True)
    n_h = np.bincount(h)
    lonely = _lonely(h, n_h, labels, lonely_psu)
    keep = n_h[h] > 1
    deleted = np.flatnonzero(keep)
    R = len(deleted)
    if R == 0:
        raise PipelineError("no stratum has two or more PSUs: jackknife replicates cannot be formed.")
    same = h[:, None] == h[deleted][None, :]  # PSU i is in the stratum of the deleted PSU of replicate r
    nh = n_h[h[deleted]].astype(np.float64)
    A = np.where(same, (nh / (nh - 1.0))[None, :], 1.0)
    A[deleted, np.arange(R)] = 0.0
    rscales = (nh - 1.0) / nh
    if psu_fpc is not None:
        N = np.asarray(psu_fpc, dtype=np.float64)[deleted]
        if (N < nh).any():
            bad = labels[h[deleted][N < nh][0]]
            raise PipelineError(f"stratum {bad!r}: the fpc (population PSUs) is smaller than the PSUs sampled; "
                                "design.fpc must name a column holding the number of PSUs in the stratum.")
        rscales = rscales * (1.0 - nh / N)
    return ReplicateFactors("JKn", A, 1.0, rscales, mse, lonely, deleted)


def bootstrap_factors(psu_stratum: np.ndarray, replicates: int, seed: int, lonely_psu: str = "fail",
                      mse: bool = False) -> ReplicateFactors:
    """Rao–Wu rescaled bootstrap with m_h = n_h − 1: draw n_h − 1 PSUs with replacement in each stratum;
    a PSU drawn r times gets factor r · n_h/(n_h − 1). Scale 1/(R − 1), as R's subbootweights.

    All strata and replicates are drawn at once: draw slots are laid out stratum by stratum (n_h − 1
    slots each), one uniform per slot and replicate picks a PSU of the slot's stratum.
    """
    labels, h = np.unique(np.asarray(psu_stratum), return_inverse=True)
    n_h = np.bincount(h)
    lonely = _lonely(h, n_h, labels, lonely_psu)
    order = np.argsort(h, kind="stable")  # PSUs grouped by stratum
    first = np.concatenate([[0], np.cumsum(n_h)[:-1]])
    m_h = np.where(n_h > 1, n_h - 1, 0)
    slot_stratum = np.repeat(np.arange(len(n_h)), m_h)
    rng = np.random.default_rng(seed)
    u = rng.random((len(slot_stratum), replicates))
    local = np.minimum((u * n_h[slot_stratum][:, None]).astype(np.int64), n_h[slot_stratum][:, None] - 1)
    chosen = order[first[slot_stratum][:, None] + local]  # PSU index drawn in each slot and replicate
    n_psu = len(h)
    counts = np.bincount((chosen * replicates + np.arange(replicates)).ravel(),
                         minlength=n_psu * replicates).reshape(n_psu, replicates).astype(np.float64)
    nh = n_h[h].astype(np.float64)
    A = np.where((n_h[h] > 1)[:, None], counts * (nh / np.maximum(nh - 1.0, 1.0))[:, None], 1.0)
    return ReplicateFactors("bootstrap", A, 1.0 / (replicates - 1), np.ones(replicates), mse, lonely)


def grouped_jkn_factors(psu_stratum: np.ndarray, groups: int, seed: int, lonely_psu: str = "fail",
                        mse: bool = False) -> ReplicateFactors:
    """Delete-a-group jackknife: PSUs dealt at random into min(groups, n_h) groups per stratum, then
    the JKn of the groups (see the module docstring). Strata with one PSU stay lonely, as in JKn."""
    if groups < 2:
        raise PipelineError(f"a grouped jackknife needs at least 2 groups per stratum, got {groups}.")
    labels, h = np.unique(np.asarray(psu_stratum), return_inverse=True)
    n_h = np.bincount(h)
    rng = np.random.default_rng(seed)
    # a random rank of every PSU within its stratum, dealt round-robin into the stratum's groups
    order = np.lexsort((rng.random(len(h)), h))
    first = np.concatenate([[0], np.cumsum(n_h)[:-1]])
    rank = np.empty(len(h), dtype=np.int64)
    rank[order] = np.arange(len(h)) - first[h[order]]
    g_h = np.minimum(n_h, groups)
    group_first = np.concatenate([[0], np.cumsum(g_h)[:-1]])
    psu_group = group_first[h] + rank % g_h[h]  # global group code, groups of one stratum together
    group_stratum = np.repeat(labels, g_h)
    jk = jkn_factors(group_stratum, lonely_psu, mse)
    return ReplicateFactors("JKn", jk.factors[psu_group], jk.scale, jk.rscales, mse, jk.lonely_strata,
                            None, psu_group, groups)


def replicate_factors(psu_stratum: np.ndarray, method: str, replicates: int, seed: int,
                      lonely_psu: str, mse: bool, psu_fpc: np.ndarray | None = None,
                      groups: int | None = None) -> ReplicateFactors:
    if method == "JKn" and groups:
        if psu_fpc is not None:
            raise PipelineError("a grouped jackknife (variance.replicates.groups) with design.fpc is not supported: "
                                "remove one of them in design.yaml.")
        return grouped_jkn_factors(psu_stratum, groups, seed, lonely_psu, mse)
    if method == "JKn":
        return jkn_factors(psu_stratum, lonely_psu, mse, psu_fpc)
    if method == "bootstrap":
        return bootstrap_factors(psu_stratum, replicates, seed, lonely_psu, mse)
    raise PipelineError(f"replicate method {method!r} is unknown: use JKn or bootstrap in design.yaml.")


REPLICATE_PREFIX = "w_rep_"  # weights.parquet; the design record lists the columns by name


def replicate_names(r: int) -> list[str]:
    width = max(3, len(str(r)))
    return [f"{REPLICATE_PREFIX}{i:0{width}d}" for i in range(1, r + 1)]
