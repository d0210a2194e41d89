"""Linearised variance after calibration: replace the influence values by calibration residuals.

Weights calibrated (raked) on categorical margins estimate the margin totals without error, so the
variance of an estimate comes from the part of its influence values the margins do not explain. As R's
calibrate() designs do (svyrecvar with a greg_calibration object), the influence values u_i = z_i / w_i
are regressed on the margin indicator matrix X by weighted least squares and the variance uses
w_i (u_i − x_i'b).

The regression weights:
- a column name: R's calibrate() uses the weights *before* calibration (e.g. w_nr); pass that column
  to match calibrate() exactly;
- None: the calibrated analysis weights (asymptotically the same);
- "unweighted": ordinary least squares, which is what R's rake() does (backfitting x − w·ave(x/w) over the
  margins; rake() stops after 10 sweeps, this module solves the projection exactly).

The regression is solved on aggregated sums: the Gram matrix X'RX (J × J, J = number of margin cells)
and, for every domain, X'R u from one sparse product; the per-PSU correction is M b with
M_pj = Σ_{i∈PSU p} w_i x_ij. Margins overlap (each margin sums to the total), so X'RX is singular; the
pseudo-inverse gives the same residuals as any least-squares solution.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from scipy import sparse

from pipeline.errors import InputError, SpecError
from pipeline.estimation.domains import PartitionMemo, distinct_columns, partition_by


@dataclass(frozen=True)
class CalibrationProjector:
    margin_codes: tuple[np.ndarray, ...]
    offsets: tuple[int, ...]
    n_cells: int
    reg_w: np.ndarray
    gram_pinv: np.ndarray
    psu_margin: np.ndarray  # (P, J)
    memo: PartitionMemo = field(default_factory=PartitionMemo, compare=False, repr=False)

    @classmethod
    def build(cls, df: pd.DataFrame, calibration, w: np.ndarray, p: np.ndarray, n_psu: int):
        if isinstance(calibration, dict):
            margins = calibration.get("margins")
            reg = calibration.get("regression_weight")
        else:
            margins, reg = calibration, None
        if not margins or not all(isinstance(m, (list, tuple)) and m for m in margins):
            raise SpecError(
                "calibration margins must be a list of lists of column names, e.g. "
                "[['county_code', 'sex', 'age_band', 'urban'], ['county_code', 'education']]."
            )
        codes, offsets, off = [], [], 0
        for m in margins:
            part = partition_by(df, list(m))
            if (part.codes < 0).any():
                i = int(np.flatnonzero(part.codes < 0)[0])
                raise InputError(
                    f"calibration margin {list(m)}: row {i} has a missing value; every respondent needs a "
                    "category on every calibration margin."
                )
            codes.append(part.codes)
            offsets.append(off)
            off += part.size
        if reg is None:
            r = w
        elif reg == "unweighted":
            r = np.ones_like(w)
        else:
            if reg not in df.columns:
                raise InputError(f"calibration regression weight column {reg!r} not in the data.")
            r = pd.to_numeric(df[reg], errors="coerce").to_numpy(dtype=float)
        gram = np.zeros((off, off))
        for a, (ca, oa) in enumerate(zip(codes, offsets, strict=True)):
            ja = int(ca.max()) + 1
            for cb, ob in list(zip(codes, offsets, strict=True))[a:]:
                jb = int(cb.max()) + 1
                block = np.bincount(ca * jb + cb, weights=r, minlength=ja * jb).reshape(ja, jb)
                gram[oa:oa + ja, ob:ob + jb] = block
                gram[ob:ob + jb, oa:oa + ja] = block.T
        psu_margin = np.zeros((n_psu, off))
        for c, o in zip(codes, offsets, strict=True):
            j = int(c.max()) + 1
            psu_margin[:, o:o + j] = np.bincount(p * j + c, weights=w, minlength=n_psu * j).reshape(n_psu, j)
        return cls(tuple(codes), tuple(offsets), off, r, np.linalg.pinv(gram, rcond=1e-12, hermitian=True),
                   psu_margin)

    def _matrix(self, partitions, w):
        """Sparse (domains·J × n): row i → (its domain, its cell) once per margin and partition. Built in
        compressed-column form (column i holds row i's entries; rows outside a partition's domains or of
        zero weight point at one dump row, dropped after the product), so nothing is sorted."""
        n, entries = len(w), []
        dump = sum(part.size for part in partitions) * self.n_cells
        start = 0
        for part in partitions:
            c = np.asarray(part.codes)
            inside = (c >= 0) & (w > 0)
            for codes, o in zip(self.margin_codes, self.offsets, strict=True):
                entries.append(np.where(inside, (start + c) * self.n_cells + o + codes, dump))
            start += part.size
        per = len(entries)
        index = np.int32 if dump < 2 ** 31 and n * per < 2 ** 31 else np.int64
        indices = np.empty((n, per), dtype=index)
        for j, e in enumerate(entries):
            indices[:, j] = e
        return sparse.csc_matrix((np.ones(n * per), indices.ravel(), np.arange(0, n * per + 1, per, dtype=index)),
                                 shape=(dump + 1, n))

    def residualise(self, z, y0, mask, partitions, est, t0, statistic, n_domains, w):
        """PSU totals of the calibration residuals, (D, P, K)."""
        K = y0.shape[1]
        bmat = self.memo.get("margin cells", partitions, lambda: self._matrix(partitions, w), also=(w,))
        which, distinct = distinct_columns(mask)  # each distinct missingness summed once
        cols = np.hstack([self.reg_w[:, None] * y0, self.reg_w[:, None] * mask[:, distinct]])
        g = np.asarray(bmat @ cols)[:-1].reshape(n_domains, self.n_cells, K + len(distinct))
        r1, r0 = g[..., :K], g[..., K:][..., which]
        with np.errstate(divide="ignore", invalid="ignore"):
            if statistic == "total":
                rhs = r1
            else:
                rhs = (r1 - est[:, None, :] * r0) / t0[:, None, :]
        rhs = np.nan_to_num(rhs)
        D, J = rhs.shape[0], rhs.shape[1]
        # two GEMMs over all domains and variables: b = G⁺ rhs, correction = M b
        b = self.gram_pinv @ rhs.transpose(1, 0, 2).reshape(J, D * K)
        corr = (self.psu_margin @ b).reshape(-1, D, K).transpose(1, 0, 2)
        return z - corr
