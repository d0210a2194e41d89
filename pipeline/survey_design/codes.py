"""Integer codes of the design's units and replicate weights from factors: the array kernels that
weighting (which makes the design) and estimation (which reads it) share, so neither stage imports the
other."""

from __future__ import annotations

import numpy as np

# Elements per bincount or gather call: bounds the temporary index array (8 bytes each) to about 64 MiB.
CHUNK_ELEMENTS = 1 << 23


def factorize_sorted(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Integer codes of `values` in the sorted order of the distinct values, and those values
    (np.unique(values, return_inverse=True)), found without sorting the n values: small non-negative
    integers (category codes, PSU numbers) are compacted through a bincount over their range, anything
    else is hashed (pd.factorize) and only the distinct values are sorted."""
    v = np.asarray(values)
    n = len(v)
    if v.dtype.kind in "iub" and n:
        lo, hi = int(v.min()), int(v.max())
        if lo >= 0 and hi < max(4 * n, 1 << 16):
            present = np.bincount(v, minlength=hi + 1) > 0
            remap = np.cumsum(present) - 1
            return remap[v].astype(np.int64), np.flatnonzero(present).astype(v.dtype)
    import pandas as pd

    codes, uniq = pd.factorize(v, sort=True)
    return codes.astype(np.int64), np.asarray(uniq)


def expand_rows(w: np.ndarray, factors: np.ndarray, codes: np.ndarray) -> np.ndarray:
    """(n, R) matrix w[i] * factors[codes[i], :], filled in row chunks (no n × R temporaries)."""
    out = np.empty((len(w), factors.shape[1]))
    step = max(1, CHUNK_ELEMENTS // max(factors.shape[1], 1))
    for start in range(0, len(w), step):
        stop = min(len(w), start + step)
        np.take(factors, codes[start:stop], axis=0, out=out[start:stop])
        out[start:stop] *= w[start:stop, None]
    return out
