"""County ranking with its uncertainty: the distribution of ranks when each county's share is redrawn
from Normal(est, se²) independently (counties are separate strata, so their estimates are independent).

An ordered list hides that neighbouring counties are usually indistinguishable; the median rank with a
90% interval of ranks, and the chance of being first, say how firm each place is. Seeded, so the table
is the same on every run.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from pipeline.schemas import C, TableSchema

RANKING = TableSchema("assessment_ranking", (
    C("wave", "int", False), C("domain", "str", False), C("est", "float", False), C("se", "float", False),
    C("rank", "int", False), C("median_rank", "float", False), C("rank_lo", "int", False),
    C("rank_hi", "int", False), C("p_first", "float", False), C("p_top3", "float", False),
    C("draws", "int", False), C("basis", "str", False)), key=("rank", "domain"))


def rank_distribution(est, se, draws: int, seed: int) -> np.ndarray:
    """draws × k matrix of ranks (1 = highest share) of k units redrawn from Normal(est, se²)."""
    est, se = np.asarray(est, dtype=float), np.asarray(se, dtype=float)
    rng = np.random.default_rng(seed)
    sample = rng.normal(est, se, size=(draws, est.size))
    order = np.argsort(-sample, axis=1, kind="stable")
    ranks = np.empty_like(order)
    rows = np.arange(draws)[:, None]
    ranks[rows, order] = np.arange(1, est.size + 1)
    return ranks


def rank_table(rows: pd.DataFrame, draws: int, seed: int, interval: float) -> pd.DataFrame:
    """rows: one final-wave estimate per county (columns wave, domain, est, se and basis: direct or model)."""
    rows = rows.sort_values(["est", "domain"], ascending=[False, True]).reset_index(drop=True)
    ranks = rank_distribution(rows["est"], rows["se"], draws, seed)
    tail = (1 - interval) / 2
    lo = np.quantile(ranks, tail, axis=0, method="inverted_cdf")
    hi = np.quantile(ranks, 1 - tail, axis=0, method="inverted_cdf")
    return pd.DataFrame({
        "wave": rows["wave"].astype(int), "domain": rows["domain"], "est": rows["est"], "se": rows["se"],
        "rank": np.arange(1, len(rows) + 1), "median_rank": np.median(ranks, axis=0),
        "rank_lo": lo.astype(int), "rank_hi": hi.astype(int), "p_first": (ranks == 1).mean(axis=0),
        "p_top3": (ranks <= 3).mean(axis=0), "draws": draws,
        "basis": rows["basis"] if "basis" in rows else "direct",
    })
