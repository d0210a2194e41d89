"""The survey design object and its estimators (means, proportions, totals) for many domains at once.

    d = Design(df, stratum="stratum", psu="psu", weight=record.weight)
    d.proportion("literate", by=["county"], ci_method="logit")

A Design is a value: the data and the design (strata, PSUs, weights, replicates, calibration margins).
Estimators beyond means, proportions and totals are functions that take one, as in R's survey
(pipeline/estimation/regression.py: fit_glm(design, formula), logistic(design, ...), linear(design, ...)).

All domains of all partitions are estimated in one vectorised pass: every row is mapped to its
(domain × PSU) cell in each partition, all weighted sums of a chunk of variables are one sparse product
over the rows (no loop over domains), and the variance is formed on the small (domain × PSU) arrays.
Replicate weights constant within PSUs need only those PSU sums; others (re-calibrated replicates) are
summed per atom, the rows that share their domain in every partition, and the atoms per domain. Domains are never filtered
rows: outside a domain a row has zero weight, and a row whose variable is missing is outside the
domain for that variable (R's na.rm with subset semantics).
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import sparse

from pipeline.errors import InputError, PipelineError
from pipeline.estimation import variance as V
from pipeline.estimation.calibration import CalibrationProjector
from pipeline.estimation.domains import Partition, PartitionMemo, distinct_columns, partition_by
from pipeline.estimation.intervals import interval
from pipeline.estimation.reliability import mean_reliability, proportion_reliability
from pipeline.survey_design.codes import WORKERS, expand_rows, factorize_sorted
from pipeline.survey_design.replicate_blocks import ReplicateBlocks

STATISTICS = ("mean", "proportion", "total")
CHUNK = 16  # variables per pass: bounds the (n × variables) working arrays in memory


@dataclass(frozen=True)
class Replicates:
    weights: np.ndarray | None  # (n, R) analysis replicate weights; None when given as PSU factors
    method: str
    scale: float
    rscales: np.ndarray
    mse: bool
    factors: np.ndarray | None  # (P, R) when replicate/main weight ratios are constant within PSU
    blocks: ReplicateBlocks | None = None  # replicates that differ from the weight only in blocks of rows


def _codes(values: pd.Series | np.ndarray, what: str) -> tuple[np.ndarray, np.ndarray]:
    s = pd.Series(values)
    if s.isna().any():
        raise InputError(
            f"design column {what!r} has {int(s.isna().sum())} missing value(s) (first at row "
            f"{int(np.flatnonzero(s.isna().to_numpy())[0])}); every respondent needs a {what}."
        )
    codes, uniq = pd.factorize(s.astype(str), sort=True)
    return codes.astype(np.int64), np.asarray(uniq, dtype=object)


class Design:
    """Stratified cluster design (ultimate cluster, with replacement; optional first-stage FPC)."""

    def __init__(
        self,
        df: pd.DataFrame,
        stratum: str | None = None,
        psu: str | None = None,
        weight: str | None = None,  # the analysis weight column (required; the design record names it)
        fpc: str | None = None,
        replicate_weights=None,
        replicate_factors=None,  # (code, table): replicate weights w × table[code], as the weighting forms them
        replicate_method: str | None = None,
        scale: float | None = None,
        rscales=None,
        mse: bool = False,
        rho: float | None = None,
        lonely_psu: str = "fail",
        calibration=None,
        level: float = 0.95,
        variance_units=None,
    ):
        if lonely_psu not in V.LONELY_PSU:
            raise PipelineError(f"lonely_psu={lonely_psu!r} is not one of {V.LONELY_PSU}.")
        if weight is None:
            raise PipelineError("Design needs the analysis weight column (weight=…; the design record's `weight`).")
        if weight not in df.columns:
            raise InputError(f"weight column {weight!r} not in the data; columns: {list(df.columns)}.")
        self.df = df
        self.n = len(df)
        self._memo = PartitionMemo()  # the sparse cell matrices of the partitions asked for (domains.py)
        self.level = level
        self.lonely_psu = lonely_psu
        w = pd.to_numeric(df[weight], errors="coerce").to_numpy(dtype=float)
        bad = ~np.isfinite(w) | (w < 0)
        if bad.any():
            i = int(np.flatnonzero(bad)[0])
            raise InputError(
                f"weight column {weight!r}: {int(bad.sum())} missing, infinite or negative value(s), "
                f"first at row {i} (value {df[weight].iloc[i]!r}); weights must be finite and >= 0."
            )
        self.w = w
        h, self.stratum_labels = (
            _codes(df[stratum], stratum) if stratum else (np.zeros(self.n, np.int64), np.array(["all"], object))
        )
        if psu:
            # PSU labels are only unique within a stratum in many frames: nest them explicitly
            pc, puniq = _codes(df[psu], psu)
            # np.unique's codes without sorting the rows: the (stratum, PSU) pairs are counted over their range
            p = factorize_sorted(h * (len(puniq) + 1) + pc)[0]
        else:
            p = np.arange(self.n, dtype=np.int64)
        self.h, self.p = h, p
        self.P = int(p.max()) + 1 if self.n else 0
        self.H = len(self.stratum_labels)
        self.psu_stratum = np.zeros(self.P, np.int64)
        self.psu_stratum[p] = h
        self.n_psu = np.bincount(self.psu_stratum, minlength=self.H)
        self.fpc_f = self._fpc(df, fpc)
        self.replicates = self._replicates(replicate_weights, replicate_factors, replicate_method, scale, rscales,
                                           mse, rho)
        # grouped jackknife: the group of PSUs each row's PSU was dealt into (replicate df counts groups)
        self.psu_unit = None
        if variance_units is not None:
            units = np.asarray(variance_units, dtype=np.int64)
            self.psu_unit = np.zeros(self.P, np.int64)
            self.psu_unit[p] = units
            if not np.array_equal(self.psu_unit[p], units):
                raise InputError("variance_units must be constant within each PSU (one jackknife group per PSU).")
        self.calibration = (
            CalibrationProjector.build(df, calibration, w, p, self.P) if calibration else None
        )

    # ------------------------------------------------------------------ setup
    def _fpc(self, df, fpc) -> np.ndarray:
        if not fpc:
            return np.ones(self.H)
        vals = pd.to_numeric(df[fpc], errors="coerce").to_numpy(dtype=float)
        per = pd.DataFrame({"h": self.h, "v": vals}).groupby("h")["v"].agg(["min", "max"])
        if per.isna().any().any() or (per["min"] != per["max"]).any():
            raise InputError(
                f"fpc column {fpc!r} must be present and constant within each stratum "
                "(population PSU count, or first-stage sampling fraction)."
            )
        v = per["min"].reindex(range(self.H)).to_numpy()
        # R: values <= 1 everywhere are sampling fractions, otherwise population PSU counts
        pop = self.n_psu / v if np.all(v <= 1) else v
        if np.any(pop < self.n_psu - 1e-9):
            h = int(np.flatnonzero(pop < self.n_psu - 1e-9)[0])
            raise InputError(
                f"fpc column {fpc!r}: stratum {self.stratum_labels[h]!r} has {self.n_psu[h]} sampled PSUs "
                f"but a population of {pop[h]:g}; the population count must be at least the sample count."
            )
        return (pop - self.n_psu) / pop

    def _replicates(self, rw, factored, method, scale, rscales, mse, rho) -> Replicates | None:
        if rw is None and factored is None:
            return None
        if rw is not None and factored is not None:
            raise PipelineError("give the replicates once: replicate_weights or replicate_factors, not both.")
        if method is None:
            raise PipelineError("replicates given without replicate_method (JKn, bootstrap, BRR, Fay).")
        if factored is not None:
            return self._factored_replicates(factored, method, scale, rscales, mse, rho)
        if isinstance(rw, ReplicateBlocks):
            if len(rw.full) != self.n:
                raise InputError(f"replicate weights have {len(rw.full)} rows; the data have {self.n}.")
            if not all(np.isfinite(v).all() for v in rw.values):
                raise InputError("replicate weights contain missing or infinite values.")
            sc, rs = V.replicate_defaults(method, rw.n_replicates, rho, rscales, scale)
            if len(rs) != rw.n_replicates:
                raise InputError(f"rscales has {len(rs)} entries for {rw.n_replicates} replicates.")
            if len(rw.rows) == 1 and len(rw.cols[0]) == rw.n_replicates:  # one block of everything: the matrix
                mat = rw.values[0]
                return Replicates(mat, method, sc, rs, bool(mse), self._psu_factors(mat))
            return Replicates(None, method, sc, rs, bool(mse), None, rw)
        if isinstance(rw, (list, tuple)):
            missing = [c for c in rw if c not in self.df.columns]
            if missing:
                raise InputError(f"replicate weight columns {missing[:5]} not in the data.")
            # row-major, filled a block of columns at a time: the sparse products below read a row of
            # the matrix per entry, and an n × R column-major copy would be made again at every product
            mat = np.empty((self.n, len(rw)))
            for c in range(0, len(rw), 16):
                mat[:, c:c + 16] = self.df[list(rw[c:c + 16])].to_numpy(dtype=float)
        else:
            mat = np.ascontiguousarray(rw, dtype=float)
        if mat.shape[0] != self.n:
            raise InputError(f"replicate weights have {mat.shape[0]} rows; the data have {self.n}.")
        if not np.isfinite(mat).all():
            raise InputError("replicate weights contain missing or infinite values.")
        sc, rs = V.replicate_defaults(method, mat.shape[1], rho, rscales, scale)
        if len(rs) != mat.shape[1]:
            raise InputError(f"rscales has {len(rs)} entries for {mat.shape[1]} replicates.")
        return Replicates(mat, method, sc, rs, bool(mse), self._psu_factors(mat))

    def _factored_replicates(self, factored, method, scale, rscales, mse, rho) -> Replicates:
        """Replicate weights w[i] · table[code[i], :] (the weighting's factors per PSU, class or cell). When
        the factors are constant within every PSU (uncalibrated replicates) they are the design's (P, R)
        factors, found on the distinct (PSU, code) pairs: no n × R matrix is built, read or checked."""
        code, table = factored
        code = np.asarray(code, dtype=np.int64)
        table = np.asarray(table, dtype=float)
        if code.shape != (self.n,) or table.ndim != 2 or (self.n and (code.min() < 0 or code.max() >= len(table))):
            raise InputError(f"replicate_factors: codes for {code.shape} rows into a table of shape {table.shape}; "
                             f"the data have {self.n} rows and every code must be a row of the table.")
        if not np.isfinite(table).all():
            raise InputError("replicate factors contain missing or infinite values.")
        sc, rs = V.replicate_defaults(method, table.shape[1], rho, rscales, scale)
        if len(rs) != table.shape[1]:
            raise InputError(f"rscales has {len(rs)} entries for {table.shape[1]} replicates.")
        fac = None
        pos = np.flatnonzero(self.w > 0)
        if len(pos):
            # rows of zero weight are outside every domain: their factors are never used
            k = len(table)
            _, pairs = pd.factorize(self.p[pos] * k + code[pos])
            psu, row = np.divmod(np.asarray(pairs, dtype=np.int64), k)
            first = np.full(self.P, -1, dtype=np.int64)
            first[psu[::-1]] = row[::-1]
            have = first >= 0
            fac = np.zeros((self.P, table.shape[1]))
            fac[have] = table[first[have]]
            expected = fac[psu]
            if (np.abs(table[row] - expected) > 1e-12 + 1e-12 * np.abs(expected)).any():
                fac = None
        weights = None if fac is not None else expand_rows(self.w, table, code)
        return Replicates(weights, method, sc, rs, bool(mse), fac)

    def replicate_matrix(self) -> np.ndarray:
        """The (n, R) replicate weights (built from the PSU factors when the design was given those)."""
        rep = self.replicates
        if rep is None:
            raise PipelineError("the design has no replicate weights.")
        if rep.blocks is not None:
            return rep.blocks.replicate_matrix()
        return rep.weights if rep.weights is not None else expand_rows(self.w, rep.factors, self.p)

    def _psu_factors(self, mat: np.ndarray) -> np.ndarray | None:
        """(P, R) replicate factors if W_rep / w is constant within every PSU (uncalibrated replicates):
        then replicate sums need only the (domain × PSU) sums, not another pass over the rows.
        Checked (as np.allclose, rtol = atol = 1e-12) a block of rows at a time: the rows of a row-major
        matrix are contiguous, so each block is one sequential read and no n × R temporary is made."""
        pos = np.flatnonzero(self.w > 0)
        if not len(pos):
            return None
        first = np.full(self.P, -1, dtype=np.int64)
        first[self.p[pos][::-1]] = pos[::-1]  # first positive-weight row of each PSU
        have = first >= 0
        fac = np.zeros((self.P, mat.shape[1]))
        fac[have] = mat[first[have]] / self.w[first[have], None]
        step = max(1, (1 << 21) // max(mat.shape[1], 1))  # ~16 MiB of the matrix per block
        for a in range(0, self.n, step):
            w = self.w[a:a + step]
            expected = w[:, None] * fac[self.p[a:a + step]]
            err = np.abs(mat[a:a + step] - expected)
            err -= 1e-12 * np.abs(expected)
            # rows of zero weight are outside every domain: their replicate weights are never used
            if (err.max(axis=1, initial=-np.inf)[w > 0] > 1e-12).any():
                return None
        return fac

    # ------------------------------------------------------------------ public estimators
    def mean(self, var, by=None, variance=None, ci_method="wald"):
        return self._public(var, "mean", by, variance, ci_method)

    def proportion(self, var, by=None, variance=None, ci_method="logit"):
        return self._public(var, "proportion", by, variance, ci_method)

    def total(self, var, by=None, variance=None, ci_method="wald"):
        return self._public(var, "total", by, variance, ci_method)

    def degf(self) -> float:
        """Design df: PSUs − strata with positive weight, for linearisation and replicates alike (see
        `_chunk`: the replicate df is the same count, not the rank of the replicate weights)."""
        used = self.w > 0
        # counted over the PSU and stratum indices, not by sorting the rows
        return float(np.count_nonzero(np.bincount(self.p[used], minlength=self.P))
                     - np.count_nonzero(np.bincount(self.h[used], minlength=self.H)))

    def _public(self, var, statistic, by, variance, ci_method):
        part = partition_by(self.df, list(by) if by else None)
        res = self.estimate({var if isinstance(var, str) else "y": self._column(var, statistic)},
                            statistic, [part], variance=variance, ci_method=ci_method)
        out = pd.concat([part.labels.reset_index(drop=True), res.drop(columns=["variable", "partition", "domain_index"])],
                        axis=1)
        return out

    def _column(self, var, statistic) -> np.ndarray:
        s = self.df[var] if isinstance(var, str) else pd.Series(var)
        if isinstance(var, str) and var not in self.df.columns:
            raise InputError(f"variable {var!r} not in the data.")
        if statistic == "proportion":
            return to_binary(s, var if isinstance(var, str) else "values")
        return pd.to_numeric(s, errors="coerce").to_numpy(dtype=float)

    # ------------------------------------------------------------------ core
    def estimate(self, variables: dict[str, np.ndarray], statistic: str, partitions: list[Partition],
                 variance: str | None = None, ci_method: str = "logit") -> pd.DataFrame:
        """Estimates for every (variable × domain of every partition), in one pass per chunk of variables.

        Returns a long frame: variable, partition, domain_index, est, se, lci, uci, df, cv, deff, n, n_eff,
        ci_method, reliability, reason."""
        if statistic not in STATISTICS:
            raise ValueError(f"statistic {statistic!r} not in {STATISTICS}")
        method = variance or ("replicate" if self.replicates is not None else "taylor")
        if method == "replicate" and self.replicates is None:
            raise PipelineError("replicate variance requested but the design has no replicate weights.")
        names = list(variables)
        frames = []
        amat, dom_part, dom_index = self._cell_matrix(partitions)
        for start in range(0, len(names), CHUNK):
            chunk = names[start:start + CHUNK]
            # column-major: every per-variable pass below reads one contiguous column
            y = np.empty((self.n, len(chunk)), order="F")
            for k, v in enumerate(chunk):
                y[:, k] = variables[v]
            r = self._chunk(y, statistic, partitions, amat, method)
            prop = statistic == "proportion"
            lci, uci, why = interval(ci_method, r["est"], r["se"], r["n"], r["df"], self.level, proportion=prop,
                                     se_logit=r.get("se_logit"))
            if prop:
                rel, rwhy = proportion_reliability(r["est"], r["se"], r["n"], r["df"], r["deff"])
            else:
                rel, rwhy = mean_reliability(r["est"], r["se"], r["n"], r["df"], r["deff"], r["cv"])
            reason = np.where(why == "", rwhy, np.where(rwhy == "", why, why + "; " + rwhy))
            D, K = r["est"].shape
            frames.append(pd.DataFrame({
                "variable": np.repeat(np.array(chunk, dtype=object)[None, :], D, 0).T.ravel(),
                "partition": np.tile(dom_part, K), "domain_index": np.tile(dom_index, K),
                "est": r["est"].T.ravel(), "se": r["se"].T.ravel(), "lci": lci.T.ravel(), "uci": uci.T.ravel(),
                "df": r["df"].T.ravel(), "cv": r["cv"].T.ravel(), "deff": r["deff"].T.ravel(),
                "n": r["n"].T.ravel().astype(np.int64), "n_eff": r["n_eff"].T.ravel(),
                "ci_method": ci_method if prop else "wald", "variance_method": method,
                "reliability": rel.T.ravel(), "reason": reason.T.ravel(),
            }))
        return pd.concat(frames, ignore_index=True)

    def _cell_matrix(self, partitions):
        amat, dom_part, dom_index = self._memo.get("cells", partitions, lambda: self._build_cell_matrix(partitions))
        self._n_domains = sum(p.size for p in partitions)
        return amat, dom_part, dom_index

    def _build_cell_matrix(self, partitions):
        """The (domain × PSU) cell of every row in every partition, as one sparse (cells × rows) matrix
        in compressed-column form: row i of the data is column i, with one entry per partition (rows
        outside every domain of a partition, or of zero weight, go to that partition's dump cell). The
        columns need no sorting to build, and a product with it adds the rows up in data order, exactly
        as np.bincount does, but for all columns of a chunk in one pass over the rows."""
        cells, keep, dom_part, dom_index, offset = [], [], [], [], 0
        for t, part in enumerate(partitions):
            c = np.asarray(part.codes)
            size = part.size * self.P
            cells.append(offset + np.where((c >= 0) & (self.w > 0), c * self.P + self.p, size))
            keep.append(offset + np.arange(size))
            offset += size + 1
            dom_part.append(np.full(part.size, t))
            dom_index.append(np.arange(part.size))
        T = len(partitions)
        index = np.int32 if offset < 2 ** 31 and T * self.n < 2 ** 31 else np.int64
        indices = np.empty((self.n, T), dtype=index)
        for t, c in enumerate(cells):
            indices[:, t] = c
        amat = sparse.csc_matrix((np.ones(self.n * T), indices.ravel(), np.arange(0, self.n * T + 1, T, dtype=index)),
                                 shape=(offset, self.n))
        return (amat, np.concatenate(keep)), np.concatenate(dom_part), np.concatenate(dom_index)

    def _grouped(self, amat, columns: np.ndarray) -> np.ndarray:
        """Σ of every column over the (domain × PSU) cells of every partition: (n, m) → (D, P, m)."""
        mat, keep = amat
        return (mat @ columns)[keep].reshape(self._n_domains, self.P, columns.shape[1])

    def _chunk(self, y, statistic, partitions, amat, method):
        D, K = self._n_domains, y.shape[1]
        pos = self.w > 0
        mask = np.isfinite(y) & pos[:, None]  # column-major, as y
        y0 = np.where(mask, y, 0.0)
        # variables usually share their missingness (all scores missing for an unscored respondent):
        # the weight and count sums are computed once per distinct mask
        which, distinct = distinct_columns(mask)
        # row-major (n × columns): the sparse product reads one contiguous row of it per data row
        M = len(distinct)
        cols = np.empty((self.n, 2 * K + 2 * M))
        np.multiply(self.w[:, None], y0, out=cols[:, :K])
        np.multiply(cols[:, :K], y0, out=cols[:, K:2 * K])
        for j, k in enumerate(distinct):
            cols[:, 2 * K + j] = self.w * mask[:, k]
            cols[:, 2 * K + M + j] = mask[:, k]
        sums = self._grouped(amat, cols)
        del cols
        g = np.concatenate([sums[..., :2 * K], sums[..., 2 * K + which], sums[..., 2 * K + M + which]], axis=2)
        s1, s2, s0, cnt = g[..., :K], g[..., K:2 * K], g[..., 2 * K:3 * K], g[..., 3 * K:]
        t1, t2, t0, n = s1.sum(1), s2.sum(1), s0.sum(1), cnt.sum(1)
        with np.errstate(divide="ignore", invalid="ignore"):
            if statistic == "total":
                est = t1
                z = s1
            else:
                est = t1 / t0
                z = (s1 - est[:, None, :] * s0) / t0[:, None, :]
        has = cnt > 0  # (D, P, K) PSUs with domain members
        present = V.stratum_sums(has.astype(float), self.psu_stratum, self.H) > 0
        if method == "taylor":
            if self.calibration is not None:
                z = self.calibration.residualise(z, y0, mask, partitions, est, t0, statistic, D, self.w)
            z = np.nan_to_num(z)
            var = V.stratum_variance(z, self.psu_stratum, self.n_psu, self.fpc_f, present,
                                     self.lonely_psu, self.stratum_labels)
        else:
            var, se_logit = self._replicate_var(s1, s0, y0, mask, amat, est, statistic, partitions)
        # df per domain: PSUs with domain members − strata with domain members, for replicate variance
        # too. R's degf (rank of the replicate weights − 1) needs a numerical tolerance, and with
        # re-calibrated replicates the rank of unit-level weights grows with the respondents (a county
        # of 12 PSUs would get ~160 df from 161 re-raked replicates); the count is tolerance-free, equals
        # R's rank for uncalibrated JKn and bootstrap designs, and costs nothing.
        units = has.sum(1)
        if method == "replicate" and self.psu_unit is not None:
            # a grouped jackknife replicates groups of PSUs: count the groups with domain members
            units = (V.stratum_sums(has.astype(float), self.psu_unit, int(self.psu_unit.max()) + 1) > 0).sum(1)
        df = (units - present.sum(1)).astype(float)
        var = np.where(n > 0, var, np.nan)
        se = np.sqrt(var)
        extra = {"se_logit": se_logit} if method == "replicate" and statistic == "proportion" else {}
        with np.errstate(divide="ignore", invalid="ignore"):
            # R's deff=TRUE: SRS without replacement with the domain's weights,
            # s² = Σw(y−ȳ)²/Σw · n/(n−1), Var_srs(mean) = s²(N̂−n)/(N̂ n); totals scale by N̂².
            ybar = t1 / t0
            s2w = (t2 - ybar * t1) / t0 * n / (n - 1)
            vsrs = s2w * (t0 - n) / (t0 * n)
            if statistic == "total":
                vsrs = vsrs * t0 * t0
            # one respondent has no SRS variance (n − 1 = 0): whatever rounding leaves of Σw(y−ȳ)², not ±inf
            vsrs = np.where((t0 >= n) & (n > 1), vsrs, np.nan)
            # undefined rather than infinite: a constant variable in the domain has no SRS variance
            deff = np.where(vsrs > 0, var / vsrs, np.nan)
            cv = np.where(est != 0, se / np.abs(est), np.nan)
            n_eff = np.where(deff > 0, n / deff, np.nan)
            if statistic == "proportion":
                # p = 0 or 1: no variance to divide by; NCHS 2017 sets the effective n to n
                n_eff = np.where((n > 0) & ((est <= 0) | (est >= 1)), n, n_eff)
        est = np.where(n > 0, est, np.nan)
        return {"est": est, "se": se, "df": df, "n": n, "deff": deff, "cv": cv, "n_eff": n_eff, **extra}

    # ------------------------------------------------------------------ replicates
    def _replicate_var(self, s1, s0, y0, mask, amat, est, statistic, partitions):
        rep = self.replicates
        if rep.factors is not None:
            D, P, K = s1.shape
            # one GEMM each: (D·K × P) @ (P × R)
            r1 = (np.ascontiguousarray(s1.transpose(0, 2, 1)).reshape(D * K, P) @ rep.factors).reshape(D, K, -1)
            r0 = (np.ascontiguousarray(s0.transpose(0, 2, 1)).reshape(D * K, P) @ rep.factors).reshape(D, K, -1)
        elif rep.blocks is not None:
            r1, r0 = self._block_sums(s1, s0, y0, mask, partitions)
        else:
            # replicate weights that vary within PSUs (re-calibrated replicates): the rows are summed per
            # atom (the rows that share their domain in every partition) once, so each row enters one
            # product per variable instead of one per partition, and the atoms are then added up per domain
            atoms, dmat = self._atom_matrices(partitions)
            K, R = y0.shape[1], rep.weights.shape[1]
            which, distinct = distinct_columns(mask)
            # one product for all variables: the rows of an atom are read once from memory and
            # then from cache for every variable (rows of the product: atom-major, variable-minor)
            r1 = self._per_domain(dmat, self._stacked(atoms, y0) @ rep.weights, K, R)
            r0 = self._per_domain(dmat, self._stacked(atoms, mask[:, distinct].astype(np.float64)) @ rep.weights,
                                  len(distinct), R)[:, which, :]
        with np.errstate(divide="ignore", invalid="ignore"):
            theta = r1 if statistic == "total" else r1 / r0
            var = V.replicate_variance(theta, est, rep.scale, rep.rscales, rep.mse)
            se_logit = None
            if statistic == "proportion":
                # svyciprop(method="logit") on a replicate design refits the intercept per replicate
                lg = np.log(theta / (1 - theta))
                lv = V.replicate_variance(lg, np.log(est / (1 - est)), rep.scale, rep.rscales, rep.mse)
                se_logit = np.where(np.isfinite(lg).all(axis=-1), np.sqrt(lv), np.nan)
        return var, se_logit

    def _block_sums(self, s1, s0, y0, mask, partitions):
        """Replicate sums when each replicate differs from the weight only in blocks of rows: in a block's
        replicates, the block's rows summed with the replicate weights plus every other block's rows with
        the weight (rows summed per atom, the atoms per domain). Only the stored entries are read, about
        n × R / blocks of them. The other blocks' sums are added, not the block's own subtracted from the
        total, so a domain that a replicate deletes sums to exactly 0, as on the matrix."""
        B = self.replicates.blocks
        R, K = B.n_replicates, y0.shape[1]
        atoms, dmat = self._atom_matrices(partitions)
        atoms = atoms.tocsc()
        which, distinct = distinct_columns(mask)
        M = len(distinct)

        def block(b):
            """(D, K + M) sums of block b with the weight; (D, K + M, m_b) with its replicates (or None)."""
            rows, vals = B.rows[b], B.values[b]
            sub = atoms[:, rows].tocsr()
            x1, x0 = self._stacked(sub, y0[rows]), self._stacked(sub, mask[rows][:, distinct].astype(np.float64))
            w = self.w[rows, None]
            own = np.concatenate([self._per_domain(dmat, x1 @ w, K, 1)[..., 0],
                                  self._per_domain(dmat, x0 @ w, M, 1)[..., 0]], axis=1)
            return own, None if not vals.shape[1] else np.concatenate(
                [self._per_domain(dmat, x1 @ vals, K, vals.shape[1]),
                 self._per_domain(dmat, x0 @ vals, M, vals.shape[1])], axis=1)

        # the sparse products release the GIL: blocks on two threads, results kept in block order
        with ThreadPoolExecutor(max_workers=WORKERS) as pool:
            done = list(pool.map(block, range(len(B.rows))))
        own, stored = [d[0] for d in done], [d[1] for d in done]
        nb = len(own)
        before = np.zeros((nb + 1, *own[0].shape)) if nb else np.zeros((1, s1.shape[0], K + M))
        after = np.zeros_like(before)
        for b in range(nb):
            before[b + 1] = before[b] + own[b]
            after[nb - b - 1] = after[nb - b] + own[nb - b - 1]
        full = before[nb]
        out = np.repeat(full[:, :, None], R, axis=2)
        for b, (cols, sums) in enumerate(zip(B.cols, stored, strict=True)):
            if sums is not None:
                out[:, :, cols] = (before[b] + after[b + 1])[:, :, None] + sums
        r1, r0 = out[:, :K], out[:, K:][:, which, :]
        return r1, r0

    @staticmethod
    def _stacked(atoms, values):
        """(atoms·m × rows) sparse matrix: row a·m + k holds variable k's values on the rows of atom a,
        so one product gives every atom's sums of every variable. The rows of each (atom, variable) are
        in data order, as in the atom matrix itself."""
        m = values.shape[1]
        starts, sizes = atoms.indptr[:-1], np.diff(atoms.indptr)
        atom = np.repeat(np.arange(len(sizes)), sizes)  # atom of every entry of the atom matrix
        within = np.arange(len(atom)) - starts[atom]
        dest = (m * starts[atom] + within)[:, None] + sizes[atom][:, None] * np.arange(m)[None, :]
        index = atoms.indices.dtype
        indices = np.empty(len(atom) * m, dtype=index)
        data = np.empty(len(atom) * m)
        indices[dest] = atoms.indices[:, None]
        data[dest] = values[atoms.indices]
        indptr = np.append((m * starts[:, None] + sizes[:, None] * np.arange(m)[None, :]).ravel(), len(atom) * m)
        return sparse.csr_matrix((data, indices, indptr.astype(index)), shape=(len(sizes) * m, atoms.shape[1]))

    @staticmethod
    def _per_domain(dmat, by_atom, m, R):
        """(atoms·m × R) atom sums → (domains, m, R) domain sums."""
        return (dmat @ by_atom.reshape(dmat.shape[1], m * R)).reshape(dmat.shape[0], m, R)

    def _atom_matrices(self, partitions):
        return self._memo.get("atoms", partitions, lambda: self._build_atom_matrices(partitions))

    def _build_atom_matrices(self, partitions):
        """The rows (of positive weight) grouped by the domain they fall in in every partition: a sparse
        (atoms × rows) indicator and the sparse (domains × atoms) map of atoms into domains. Codes are
        combined one partition at a time and re-factorised by hashing, so the key never overflows."""
        pos = np.flatnonzero(self.w > 0)
        key = np.zeros(len(pos), np.int64)
        for part in partitions:
            c = np.asarray(part.codes)[pos]
            key = pd.factorize(key * (part.size + 1) + (c + 1))[0].astype(np.int64)
        A = int(key.max()) + 1 if len(key) else 0
        first = np.full(A, -1, np.int64)
        first[key[::-1]] = pos[::-1]  # a row of each atom: its domains are the atom's
        rows, cols, offset = [], [], 0
        for part in partitions:
            c = np.asarray(part.codes)[first]
            inside = np.flatnonzero(c >= 0)
            rows.append(offset + c[inside])
            cols.append(inside)
            offset += part.size
        rows, cols = np.concatenate(rows), np.concatenate(cols)
        dmat = sparse.csr_matrix((np.ones(len(rows)), (rows, cols)), shape=(offset, A))
        atoms = sparse.csr_matrix((np.ones(len(pos)), (key, pos)), shape=(A, self.n))
        return atoms, dmat

def to_binary(s: pd.Series, name: str) -> np.ndarray:
    """A 0/1 float vector with NaN for missing; booleans, 0/1 numbers accepted, anything else refused."""
    if pd.api.types.is_bool_dtype(s.dtype) or s.dtype == object or str(s.dtype) == "boolean":
        vals = s.astype("boolean") if not pd.api.types.is_numeric_dtype(s.dtype) or str(s.dtype) == "boolean" else s
        out = pd.array(vals, dtype="Float64").to_numpy(dtype=float, na_value=np.nan)
    else:
        out = pd.to_numeric(s, errors="coerce").to_numpy(dtype=float)
    bad = np.isfinite(out) & (out != 0) & (out != 1)
    if bad.any():
        raise InputError(
            f"proportion variable {name!r} must be 0/1 or true/false (missing allowed); found "
            f"{sorted(set(out[bad].tolist()))[:5]}."
        )
    return out
