"""The weight matrix while it is still a product of group factors: W[i, :] = w0[i] · table[code[i], :].

Every replicate method here (JKn, grouped jackknife, Rao–Wu bootstrap) has replicate factors that are
constant within a PSU; the non-response factor of each column is constant within a weighting class,
and the calibration factor within a calibration cell. Until a step needs single units (trimming), the
(n × 1+R) matrix is therefore exactly w0 times a row of a small table, one row per group of units that
share PSU, class and cell. Each step's sums are sums over groups, (groups × columns), instead of over
n × columns, and the matrix is formed once, when a step needs units or the stage writes its output.

The table's rows are the groups present in the sample, never more than the units; refining by a new
unit code (class, cell) re-factorises (group, code) pairs by hashing.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from pipeline.survey_design.codes import SPARSE_ELEMENTS, expand_rows, group_sums


@dataclass
class FactoredWeights:
    w0: np.ndarray  # (n,) the unit's own weight (base weight, times any per-unit factor)
    code: np.ndarray  # (n,) group of each unit
    table: np.ndarray  # (groups, 1 + R) factor of each group and column

    @classmethod
    def from_psu(cls, w0: np.ndarray, psu: np.ndarray, psu_factors: np.ndarray) -> FactoredWeights:
        return cls(np.asarray(w0, dtype=np.float64).copy(), np.asarray(psu, dtype=np.int64), psu_factors)

    def column(self, j: int = 0) -> np.ndarray:
        """One column of the matrix, (n,)."""
        return self.w0 * self.table[self.code, j]

    def refine(self, codes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Split the groups by a second unit code: returns, for the new groups, the old group and the code
        of each; the weights themselves are unchanged (the table's rows are repeated)."""
        pair = self.code * (int(codes.max()) + 1 if len(codes) else 1) + np.asarray(codes, dtype=np.int64)
        new, uniq = pd.factorize(pair)
        new = new.astype(np.int64)
        k = int(codes.max()) + 1 if len(codes) else 1
        parent, child = np.divmod(uniq.astype(np.int64), k)
        self.table = self.table[parent]
        self.code = new
        return parent, child

    def group_totals(self) -> np.ndarray:
        """(groups, 1 + R): the sum of every column within each group."""
        return np.bincount(self.code, weights=self.w0, minlength=len(self.table))[:, None] * self.table

    def totals_by(self, group_code: np.ndarray, k: int) -> np.ndarray:
        """(k, 1 + R) column sums by a code of the groups (`group_code`: (groups,) in [0, k)). A large table
        is summed by one sparse product whose entries are the groups' weights: the sums group_sums makes of
        the group totals, entry for entry (the same products, added in the same order), without the
        groups × columns temporary."""
        G, r = self.table.shape
        if G * r < SPARSE_ELEMENTS or r == 1:
            return group_sums(group_code, self.group_totals(), k)
        import scipy.sparse as sp

        gw = np.bincount(self.code, weights=self.w0, minlength=G)
        by = sp.csr_matrix((gw, (np.asarray(group_code, dtype=np.int64), np.arange(G))), shape=(k, G))
        return np.asarray(by @ self.table)

    def multiply(self, factors: np.ndarray, group_code: np.ndarray) -> None:
        """W[i, :] *= factors[group_code[code[i]], :] for a code constant within groups."""
        self.table = self.table * factors[group_code]

    def scale_units(self, f: np.ndarray) -> None:
        """W[i, :] *= f[i], the same factor in every column."""
        self.w0 = self.w0 * f

    def matrix(self) -> np.ndarray:
        """The (n, 1 + R) matrix, built in row chunks (no second n × R temporary)."""
        return expand_rows(self.w0, self.table, self.code)
