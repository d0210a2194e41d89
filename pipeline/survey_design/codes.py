"""Integer codes of the design's units and replicate weights from factors: the array kernels that
weighting (which makes the design) and estimation (which reads it) share, so neither stage imports the
other."""

from __future__ import annotations

import os

import numpy as np

# Elements per bincount or gather call: bounds the temporary index array (8 bytes each) to about 64 MiB.
CHUNK_ELEMENTS = 1 << 23
# Threads for the per-block work that releases the GIL (sparse products, selections): the machine's two cores.
WORKERS = min(2, os.cpu_count() or 1)
SPARSE_ELEMENTS = 1 << 22


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




def group_sums(codes: np.ndarray, w: np.ndarray, k: int) -> np.ndarray:
    """Sum `w` (n,) or (n, R) by integer `codes` in [0, k): returns (k,) or (k, R).

    A single bincount on the flattened (code, column) index does every column at once; rows are
    taken in chunks so the index array never grows past a few tens of MiB. Large matrices (a million
    units × a hundred replicates) go through a sparse indicator product instead, about twice as fast.
    """
    codes = np.asarray(codes, dtype=np.int64)
    if w.ndim == 1:
        return np.bincount(codes, weights=w, minlength=k)[:k]
    n, r = w.shape
    if r == 1:
        return np.bincount(codes, weights=w[:, 0], minlength=k)[:k, None]
    if n * r >= SPARSE_ELEMENTS:
        import scipy.sparse as sp

        indicator = sp.csr_matrix((np.ones(n), (codes, np.arange(n))), shape=(k, n))
        return np.asarray(indicator @ w)
    out = np.zeros(k * r)
    cols = np.arange(r, dtype=np.int64)
    step = max(1, CHUNK_ELEMENTS // max(r, 1))
    for start in range(0, n, step):
        stop = min(n, start + step)
        idx = (codes[start:stop, None] * r + cols).ravel()
        out += np.bincount(idx, weights=np.ascontiguousarray(w[start:stop]).ravel(), minlength=k * r)
    return out.reshape(k, r)


def gather_multiply(w: np.ndarray, factors: np.ndarray, codes: np.ndarray, inplace: bool = False) -> np.ndarray:
    """w[i, r] * factors[codes[i], r], chunked so no second n × R temporary is built when in place."""
    if w.ndim == 1:
        if inplace:
            w *= factors[codes]
            return w
        return w * factors[codes]
    if w.shape[1] == 1:  # one column: a flat gather, without the row-block machinery
        col = gather_multiply(w[:, 0], factors[:, 0], codes, inplace=inplace)
        return w if inplace else col[:, None]
    out = w if inplace else np.empty_like(w)
    step = max(1, CHUNK_ELEMENTS // max(w.shape[1], 1))
    buf = np.empty((min(step, w.shape[0]), w.shape[1]))
    for start in range(0, w.shape[0], step):
        stop = min(w.shape[0], start + step)
        b = buf[: stop - start]
        np.take(factors, codes[start:stop], axis=0, out=b)
        np.multiply(w[start:stop], b, out=out[start:stop])
    return out
