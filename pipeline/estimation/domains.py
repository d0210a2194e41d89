"""Domain coding: turn `by` columns or flags into integer codes that the estimators sum over.

A *partition* gives every row the index of the domain it belongs to, or -1 when it belongs to none
(a missing `by` value, or a false group flag). Domains of one partition never overlap, so one grouped
sum per partition covers all of its domains; overlapping domains (the key groups) are separate
partitions. Rows are never dropped: a row outside every domain simply carries zero weight there.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from pipeline.errors import InputError
from pipeline.survey_design.codes import factorize_sorted


def distinct_columns(mask: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """For the columns of a boolean (n, K) mask: the index of each column's distinct pattern, and the first
    column of each pattern. Variables usually share their missingness (every score missing for an
    unscored respondent), so the sums of weights and counts are made once per pattern."""
    seen: dict[bytes, int] = {}
    which = np.array([seen.setdefault(np.packbits(mask[:, k]).tobytes(), len(seen)) for k in range(mask.shape[1])],
                     dtype=np.int64)
    return which, np.array([int(np.flatnonzero(which == j)[0]) for j in range(len(seen))], dtype=np.int64)


class PartitionMemo:
    """What is built from a list of partitions (sparse cell matrices), kept for the last few lists: the
    estimate stage asks for the same domains with every statistic and variance method, and each build
    is a pass over every row. A list is known by its partitions' code arrays (and any other array the
    build reads, `also`), which the memo holds on to, so an id cannot be taken over by another array
    while its entry lives. The arrays are never written to once made."""

    def __init__(self, size: int = 4):
        self._items: dict[tuple, tuple[list, object]] = {}
        self._size = size

    def get(self, name: str, partitions, build, also: tuple = ()):
        arrays = [p.codes for p in partitions] + list(also)
        key = (name, tuple(id(a) for a in arrays))
        hit = self._items.pop(key, None)
        if hit is None:
            hit = (arrays, build())
        self._items[key] = hit  # the most recent last
        while len(self._items) > self._size:
            self._items.pop(next(iter(self._items)))
        return hit[1]


@dataclass(frozen=True)
class Partition:
    """Codes (n,) in [-1, D) and a label table with one row per domain (D rows)."""

    codes: np.ndarray
    labels: pd.DataFrame

    @property
    def size(self) -> int:
        return len(self.labels)


def column_codes(df: pd.DataFrame, cols) -> dict[str, tuple[np.ndarray, object]]:
    """Each column's codes (-1 where missing) and its sorted distinct values, found once by hashing, for
    partitions that share columns (county alone, county × urban, county × key group)."""
    return {c: pd.factorize(df[c], sort=True, use_na_sentinel=True) for c in dict.fromkeys(cols) if c in df.columns}


def partition_by(df: pd.DataFrame, by: list[str] | None, coded: dict | None = None) -> Partition:
    """One domain per observed combination of the `by` columns, in sorted order of the labels.
    `coded`: column_codes of the frame, when several partitions share columns."""
    n = len(df)
    if not by:
        return Partition(np.zeros(n, dtype=np.int64), pd.DataFrame(index=range(1)))
    missing = [c for c in by if c not in df.columns]
    if missing:
        raise InputError(
            f"domain column(s) {missing} not found in the data; available columns: {list(df.columns)}. "
            "Pass `by` columns that exist in the data frame given to Design."
        )
    # factorize each column on its own (hashing), then combine: avoids building tuples row by row; a
    # missing value gets code -1, so a row is usable when every column's code is
    combined = np.zeros(n, dtype=np.int64)
    usable = np.ones(n, dtype=bool)
    uniques = []
    for col in by:
        codes, uniq = coded[col] if coded and col in coded else pd.factorize(df[col], sort=True,
                                                                               use_na_sentinel=True)
        uniques.append(uniq)
        usable &= codes >= 0
        combined = combined * (len(uniq) + 1) + (codes + 1)
    # the combinations present, in sorted order, found without sorting the rows
    inverse, present = factorize_sorted(combined[usable])
    present = np.asarray(present, dtype=np.int64)
    codes = np.full(n, -1, dtype=np.int64)
    codes[usable] = inverse
    # decode the combined integers back into labels
    label_cols = {}
    rest = present.copy()
    for col, uniq in zip(reversed(by), reversed(uniques), strict=True):
        base = len(uniq) + 1
        label_cols[col] = np.asarray(uniq, dtype=object)[(rest % base) - 1]
        rest = rest // base
    labels = pd.DataFrame({c: label_cols[c] for c in by})
    return Partition(codes, labels)


def partition_flag(flag: np.ndarray, label: dict) -> Partition:
    """A one-domain partition: rows where `flag` is true (a key group such as 农民)."""
    flag = np.asarray(flag, dtype=bool)
    codes = np.where(flag, 0, -1).astype(np.int64)
    return Partition(codes, pd.DataFrame([label]))


def restrict(part: Partition, flag: np.ndarray, extra: dict) -> Partition:
    """The partition's domains crossed with a flag (e.g. county × 农民), labels extended by `extra`."""
    flag = np.asarray(flag, dtype=bool)
    codes = np.where(flag, part.codes, -1)
    labels = part.labels.copy()
    for k, v in extra.items():
        labels[k] = v
    return Partition(codes.astype(np.int64), labels)
