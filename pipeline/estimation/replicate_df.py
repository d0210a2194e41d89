"""Degrees of freedom of replicate-weight designs, per domain.

R (degf.svyrep.design) takes the qr rank of the domain's analysis replicate weights minus one. Rows
scaled by positive weights keep the rank, so when the replicate / main weight ratio is constant within
PSUs (uncalibrated JKn, bootstrap, BRR, Fay) the rank is that of the replicate factors of the PSUs with
domain members: exactly R's value, and cheap.

When replicates were re-calibrated the ratio varies within PSUs, and R's unit-level rank grows with the
number of respondents up to the number of replicates (a county with 12 PSUs would get ~160 df from 161
re-raked JKn replicates), which overstates the information in the domain. Here the rank is taken of
the domain's replicate weights summed to PSUs (PSUs with members × replicates): it equals R's value in
the uncalibrated case and is bounded by the domain's PSU count otherwise.
"""

from __future__ import annotations

import numpy as np

from pipeline.estimation.variance import rank_df


def domain_df(has: np.ndarray, mask: np.ndarray, factors: np.ndarray | None, weights: np.ndarray,
              psu_sums, cache: dict) -> np.ndarray:
    """has: (D, P, K) PSUs with members; mask: (n, K) members; psu_sums(column) → (D, P) sums.

    Loops over domains only for the rank itself (an R × R eigenproblem), cached by the set of PSUs."""
    D, P, K = has.shape
    out = np.empty((D, K))
    if factors is not None:
        for k in range(K):
            for d in range(D):
                key = has[d, :, k].tobytes()
                if key not in cache:
                    cache[key] = rank_df(factors[has[d, :, k]])
                out[d, k] = cache[key]
        return out
    sums: dict[bytes, np.ndarray] = {}
    for k in range(K):
        mkey = np.packbits(mask[:, k]).tobytes()
        if mkey not in sums:
            # (D, P, R): one grouped sum per replicate column
            sums[mkey] = np.stack([psu_sums(weights[:, r] * mask[:, k]) for r in range(weights.shape[1])], axis=-1)
        tot = sums[mkey]
        for d in range(D):
            key = (mkey, d, has[d, :, k].tobytes())
            if key not in cache:
                cache[key] = rank_df(tot[d, has[d, :, k]])
            out[d, k] = cache[key]
    return out
