"""Grouped sums and medians over weight matrices (units × replicates) in one vectorised pass.

All weighting steps act on the full-sample weight and every replicate weight at once: column 0 is the
full sample, columns 1.. the replicates. These helpers are the only places that aggregate by group.
"""

from __future__ import annotations

import numpy as np

# Elements per bincount call: bounds the temporary index array (8 bytes each) to about 64 MiB.
_CHUNK_ELEMENTS = 1 << 23
_SPARSE_ELEMENTS = 1 << 22


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
    if n * r >= _SPARSE_ELEMENTS:
        import scipy.sparse as sp

        indicator = sp.csr_matrix((np.ones(n), (codes, np.arange(n))), shape=(k, n))
        return np.asarray(indicator @ w)
    out = np.zeros(k * r)
    cols = np.arange(r, dtype=np.int64)
    step = max(1, _CHUNK_ELEMENTS // max(r, 1))
    for start in range(0, n, step):
        stop = min(n, start + step)
        idx = (codes[start:stop, None] * r + cols).ravel()
        out += np.bincount(idx, weights=np.ascontiguousarray(w[start:stop]).ravel(), minlength=k * r)
    return out.reshape(k, r)


def group_counts(codes: np.ndarray, k: int) -> np.ndarray:
    return np.bincount(np.asarray(codes, dtype=np.int64), minlength=k)[:k]


def gather_multiply(w: np.ndarray, factors: np.ndarray, codes: np.ndarray, inplace: bool = False) -> np.ndarray:
    """w[i, r] * factors[codes[i], r], chunked so no second n × R temporary is built when in place."""
    if w.ndim == 1:
        if inplace:
            w *= factors[codes]
            return w
        return w * factors[codes]
    out = w if inplace else np.empty_like(w)
    step = max(1, _CHUNK_ELEMENTS // max(w.shape[1], 1))
    buf = np.empty((min(step, w.shape[0]), w.shape[1]))
    for start in range(0, w.shape[0], step):
        stop = min(w.shape[0], start + step)
        b = buf[: stop - start]
        np.take(factors, codes[start:stop], axis=0, out=b)
        np.multiply(w[start:stop], b, out=out[start:stop])
    return out


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


def encode(frame_columns: list[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """Integer code of the joint category of several columns, and the first row of each code.

    Codes are in the sorted order of the category tuples (np.unique's), but found without a
    lexicographic sort of the n × columns matrix: each column is factorised (factorize_sorted), the
    codes are combined in mixed radix (which keeps the tuples' order) and the combination
    re-factorised, so it never outgrows the rows (no overflow)."""
    combined = np.zeros(len(frame_columns[0]), dtype=np.int64)
    for col in frame_columns:
        codes, uniq = factorize_sorted(col)
        combined = factorize_sorted(combined * len(uniq) + codes)[0]
    inv = combined
    first = np.empty(int(inv.max()) + 1 if len(inv) else 0, dtype=np.int64)
    first[inv[::-1]] = np.arange(len(inv) - 1, -1, -1)
    return inv, first


def encode_cells(codes: list[np.ndarray], sizes: list[int]) -> tuple[np.ndarray, list[np.ndarray]]:
    """The calibration cells: integer codes in [0, sizes[j]) of several margins → the cell of each unit
    (codes in the sorted order of the code tuples, as encode's) and, per margin, the code of each cell.

    When the cross of all sizes is small next to the rows, the cell is the dense mixed-radix number,
    compacted by one bincount over its range, and each cell's margin codes are its radix digits: no
    hashing, no sort, no gather to find them. Otherwise encode() hashes."""
    n = len(codes[0])
    full = 1
    for k in sizes:
        full *= int(k)
    if full > max(4 * n, 1 << 16):
        inv, first = encode(codes)
        return inv, [np.asarray(c)[first] for c in codes]
    combined = np.asarray(codes[0], dtype=np.int64)
    for c, k in zip(codes[1:], sizes[1:], strict=True):
        combined = combined * int(k) + c
    present = np.bincount(combined, minlength=full) > 0
    values = np.flatnonzero(present)
    remap = np.cumsum(present) - 1
    cats = []
    for k in reversed(sizes):
        values, digit = np.divmod(values, int(k))
        cats.append(digit)
    return remap[combined], cats[::-1]


def grouped_median_positive(w: np.ndarray, codes: np.ndarray, k: int) -> np.ndarray:
    """Median of the positive entries of each column of `w` within each group: (k, R)."""
    med = grouped_order_stats(w if w.ndim == 2 else w[:, None], codes, k)[0]
    return med if w.ndim == 2 else med[:, 0]


def grouped_order_stats(w: np.ndarray, codes: np.ndarray, k: int, order: np.ndarray | None = None
                        ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Median, largest and smallest positive entry of each column of `w` (n, R) within each group:
    three (k, R) arrays (median NaN and smallest +inf where a group's column has no positive entry).

    Replicate columns hold zeros for deleted PSUs; those units are outside the replicate and must
    not pull the median down. Weights are never negative, so in a column with z entries that are not
    positive the positives are the order statistics z .. n_g − 1: the median, the smallest and the
    largest positive are found by one selection (np.partition at those positions), not a sort. The
    columns that need the same positions (the same z: a jackknife has a few distinct counts per group,
    a bootstrap up to one per column) are selected together. Memory is one group's block (its rows
    copied once, transposed so each column is contiguous), not n × R sort keys and permutations.
    `order`: the rows sorted by group (stable), when the caller has it already.
    """
    n, r = w.shape
    codes = np.asarray(codes, dtype=np.int64)
    if order is None:
        order = np.argsort(codes, kind="stable")
    stops = np.cumsum(group_counts(codes, k))
    med = np.full((k, r), np.nan)
    top = np.zeros((k, r))
    bottom = np.full((k, r), np.inf)
    start = 0
    for g in range(k):  # groups (counties), not domains or replicates: a dozen passes
        rows = order[start:stops[g]]
        start = stops[g]
        m = len(rows)
        if not m:
            continue
        block = np.ascontiguousarray(np.take(w, rows, axis=0).T)  # (R, n_g)
        z = m - np.count_nonzero(block > 0, axis=1)  # entries outside the replicate, first in order
        for zz in np.unique(z):
            sel = np.flatnonzero(z == zz)
            npos = m - int(zz)
            if npos == 0:
                continue
            lo, hi = int(zz) + (npos - 1) // 2, int(zz) + npos // 2
            kth = sorted({int(zz), lo, hi, m - 1})
            part = block if len(sel) == len(block) else block[sel]  # block is a copy already: no second one
            part.partition(kth, axis=1)
            med[g, sel] = 0.5 * (part[:, lo] + part[:, hi])
            bottom[g, sel] = part[:, int(zz)]
            top[g, sel] = part[:, m - 1]
    return med, top, bottom


def expand_rows(w: np.ndarray, factors: np.ndarray, codes: np.ndarray) -> np.ndarray:
    """(n, R) matrix w[i] * factors[codes[i], :], filled in row chunks (no n × R temporaries)."""
    out = np.empty((len(w), factors.shape[1]))
    step = max(1, _CHUNK_ELEMENTS // max(factors.shape[1], 1))
    for start in range(0, len(w), step):
        stop = min(len(w), start + step)
        np.take(factors, codes[start:stop], axis=0, out=out[start:stop])
        out[start:stop] *= w[start:stop, None]
    return out
