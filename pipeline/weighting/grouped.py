"""Grouped sums and medians over weight matrices (units × replicates) in one vectorised pass.

All weighting steps act on the full-sample weight and every replicate weight at once: column 0 is the
full sample, columns 1.. the replicates. These helpers are the only places that aggregate by group.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from pipeline.survey_design.codes import factorize_sorted, group_sums


def group_counts(codes: np.ndarray, k: int) -> np.ndarray:
    return np.bincount(np.asarray(codes, dtype=np.int64), minlength=k)[:k]


def distinct_rows(frame, cols: list[str]) -> tuple[np.ndarray, list[tuple]]:
    """Each row's combination of the columns `cols` of a data frame as a code in [0, m), and the m
    combinations (tuples of the values) in the order they first occur. A million respondents fall in
    a few hundred combinations (cells, PSUs), so what is worked out per combination (labels, counts,
    merges) is then worked out on those, by hashing each column once instead of building a string or
    a tuple per row."""
    import pandas as pd

    code = np.zeros(len(frame), dtype=np.int64)
    for c in cols:
        k, uniq = pd.factorize(frame[c], use_na_sentinel=False)
        code = factorize_sorted(code * len(uniq) + k)[0]
    m = int(code.max()) + 1 if len(code) else 0
    first = np.empty(m, dtype=np.int64)
    first[code[::-1]] = np.arange(len(code) - 1, -1, -1)
    return code, list(frame[cols].iloc[first].itertuples(index=False, name=None))


# Largest mixed-radix range the cell encoder counts directly: its count table (8 bytes a cell) stays
# in cache, so the count and the remapping gather cost about one pass over the units each.
_DENSE_RANGE = 1 << 16


@dataclass(frozen=True)
class Cells:
    """The calibration cells of the units: `code` (n,) in [0, radix), the cells present being the codes
    `rows` (sorted; None when the code is already the cell's rank, radix = cells), `cats` the code of
    each cell per margin and `members` the units in each cell. The code is left uncompacted when its
    range is small: summing into and gathering from a table of `radix` rows costs what the compact one
    does, and the gather that would compact it is saved."""

    code: np.ndarray
    radix: int
    rows: np.ndarray | None
    cats: list[np.ndarray]
    members: np.ndarray

    def __len__(self) -> int:
        return len(self.members)

    def sums(self, w: np.ndarray) -> np.ndarray:
        """group_sums by cell: (cells,) or (cells, R)."""
        s = group_sums(self.code, w, self.radix)
        return s if self.rows is None else s[self.rows]

    def spread(self, table: np.ndarray) -> np.ndarray:
        """A (cells, ...) table as one indexed by `code` (rows of cells not present left 0)."""
        if self.rows is None:
            return table
        out = np.zeros((self.radix, *table.shape[1:]), dtype=table.dtype)
        out[self.rows] = table
        return out

    def compact(self) -> np.ndarray:
        """Each unit's cell as its rank, in [0, cells)."""
        if self.rows is None:
            return self.code
        return self.spread(np.arange(len(self.rows), dtype=np.int64))[self.code]


def encode_cells(codes: list[np.ndarray], sizes: list[int]) -> tuple[np.ndarray, list[np.ndarray]]:
    """The calibration cells: integer codes in [0, sizes[j]) of several margins → the cell of each unit
    (codes in the sorted order of the code tuples, as np.unique's) and, per margin, the code of each cell."""
    c = cells(codes, sizes)
    return c.compact(), c.cats


def cells(codes: list[np.ndarray], sizes: list[int]) -> Cells:
    """The joint cells of several margins (integer codes in [0, sizes[j])), in the sorted order of the
    code tuples.

    Margins usually share variables (county in every one), so the cross of their sizes is far larger
    than the joint cells present (26 × 65 × 26 × 65 codes for 1,300 cells): a dense code over the whole
    cross would be counted and remapped through a table of millions. Instead the margins are combined
    in mixed radix one at a time, and the code is compacted to the cells present (in order, so the
    order of the tuples is kept) whenever the next margin would take the range past _DENSE_RANGE.
    Each compaction is one count and one gather through a small table; only when the cells present
    times the next size outgrow the rows is the code hashed instead. The digits peeled off the present
    codes give every cell its margin codes: no sort, no search over the units."""
    radix = int(sizes[0])
    # the first two margins are combined straight into a new array, unless the first is compacted alone
    comb = None if len(codes) > 1 and radix * int(sizes[1]) <= _DENSE_RANGE else codes[0].astype(np.int64)
    cats: list[np.ndarray] = []  # per compact code so far, the code of each margin taken
    pending = [radix]  # sizes of the margins combined since the last compaction
    for c, k in zip(codes[1:], sizes[1:], strict=True):
        k = int(k)
        if comb is None:
            comb = codes[0] * np.int64(k)
        else:
            if radix * k > _DENSE_RANGE:
                radix, cats, _ = _compact(comb, radix, cats, pending)
                pending = []
            comb *= k
        comb += c
        radix *= k
        pending.append(k)
    if radix <= _DENSE_RANGE:
        members = np.bincount(comb, minlength=radix)
        rows = np.flatnonzero(members)
        return Cells(comb, radix, rows, _decode(rows, cats, pending), members[rows])
    n_cells, cats, members = _compact(comb, radix, cats, pending)
    return Cells(comb, n_cells, None, cats, members)


def _decode(present: np.ndarray, cats: list[np.ndarray], pending: list[int]) -> list[np.ndarray]:
    """The code per margin of mixed-radix values whose last len(pending) digits are margins' codes and
    whose leading part indexes `cats` (the margins compacted before)."""
    digits = []
    for k in reversed(pending):
        present, digit = np.divmod(present, k)
        digits.append(digit)
    return [c[present] for c in cats] + digits[::-1]


def _compact(comb: np.ndarray, radix: int, cats: list[np.ndarray], pending: list[int]
             ) -> tuple[int, list[np.ndarray], np.ndarray]:
    """In place: `comb` (codes in [0, radix), the last len(pending) margins as mixed-radix digits) → the
    rank of its value among the values present. Returns the number present, each present value's code
    per margin, and its unit count."""
    if radix <= max(4 * len(comb), _DENSE_RANGE):
        counts = np.bincount(comb, minlength=radix)
        present = np.flatnonzero(counts)
        remap = np.zeros(radix, dtype=np.int64)
        remap[present] = np.arange(len(present))
        np.take(remap, comb, out=comb)
        counts = counts[present]
    else:
        import pandas as pd

        ranks, present = pd.factorize(comb, sort=True)
        comb[:] = ranks
        present = np.asarray(present, dtype=np.int64)
        counts = np.bincount(comb, minlength=len(present))
    return len(counts), _decode(present, cats, pending), counts


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
        # rows sorted by group are often one run (units in county order): a slice, not a gather
        rows_w = w[rows[0]:rows[-1] + 1] if rows[-1] - rows[0] == m - 1 else np.take(w, rows, axis=0)
        block = np.array(rows_w.T, order="C")  # (R, n_g), always a copy: the selection below reorders it
        z = m - np.count_nonzero(block > 0, axis=1)  # entries outside the replicate, first in order
        for zz in np.unique(z):
            sel = np.flatnonzero(z == zz)
            npos = m - int(zz)
            if npos == 0:
                continue
            zz = int(zz)
            lo, hi = zz + (npos - 1) // 2, zz + npos // 2
            # block is a copy already: its rows are selected in place when they are one run (a jackknife's
            # columns each have their own count, one row at a time), copied only when scattered
            part = block[sel[0]:sel[-1] + 1] if sel[-1] - sel[0] == len(sel) - 1 else block[sel]
            # only the upper median position is selected: the lower one (when the count is even) is the
            # largest entry before it, the largest entry lies beyond it and, when every entry is positive,
            # the smallest before it; a max and a min there cost less than a second selection
            part.partition(sorted({zz, hi}) if zz else hi, axis=1)
            low = part[:, hi] if lo == hi else part[:, zz:hi].max(axis=1)
            med[g, sel] = 0.5 * (low + part[:, hi])
            bottom[g, sel] = part[:, zz] if zz else part[:, :hi + 1].min(axis=1)
            top[g, sel] = part[:, hi:].max(axis=1)
    return med, top, bottom
