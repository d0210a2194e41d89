"""Replicate weights as blocks: each replicate differs from the full-sample weight only where it was changed.

A jackknife replicate deletes one PSU and re-weights its stratum; when the non-response classes, the
calibration margins and the trimming groups are all nested in counties (as every wave's are), the
replicate's weights outside the county of that PSU are the full sample's, bit for bit. A million
respondents and 1,533 JKn replicates are 12 GiB as an n × R matrix, but 1.5 GiB as blocks.

    full      (n,)          the full-sample weight (column 0 of the weighting's matrix)
    block     (n,)          the block of each unit
    rows[b]   (n_b,)        the units of block b, ascending
    cols[b]   (m_b,)        the replicates (0-based, ascending) whose weights block b stores
    values[b] (n_b, m_b)    those replicate weights; every other replicate weight of a unit of block b
                            equals its full-sample weight

A block's columns hold every replicate that differs anywhere in the block, so the representation is
exact, not an approximation. One block with every unit and every replicate is the plain matrix (a
bootstrap replicate changes every stratum, so its blocks merge into that).

On disk: weights.parquet holds each respondent's `replicate_block`; replicate_weights.parquet holds the
stored weights, one row group per block (its respondents in weights.parquet's order), the block's
replicates in slots slot_0000 … in the order the design record's `replicates.blocks` lists them (slots
past a block's own are null). A block's row group is read as one dense array; the n × R matrix is never
written or read, only formed for people's files (export, notebooks) by `replicate_columns`.
"""

from __future__ import annotations

from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from pipeline.errors import InputError
from pipeline.survey_design.codes import CHUNK_ELEMENTS, WORKERS, gather_multiply, group_sums

BLOCK_COLUMN = "replicate_block"  # weights.parquet: each respondent's block
REPLICATE_FILE = "replicate_weights.parquet"
SLOT = "slot_"


def slot_names(m: int) -> list[str]:
    return [f"{SLOT}{j:04d}" for j in range(m)]


@dataclass
class ReplicateBlocks:
    full: np.ndarray
    n_replicates: int
    block: np.ndarray
    rows: list[np.ndarray]
    cols: list[np.ndarray]
    values: list[np.ndarray]

    @classmethod
    def dense(cls, full: np.ndarray, reps: np.ndarray) -> ReplicateBlocks:
        """The plain (n, R) matrix as one block (rows and columns all stored)."""
        full = np.ascontiguousarray(full, dtype=np.float64)
        n, r = reps.shape
        return cls(full, r, np.zeros(n, np.int64), [np.arange(n)], [np.arange(r)],
                   [np.ascontiguousarray(reps, dtype=np.float64)])

    @classmethod
    def from_factors(cls, w0: np.ndarray, code: np.ndarray, table: np.ndarray,
                     coupled: list[np.ndarray] = ()) -> ReplicateBlocks:
        """The matrix W[i, :] = w0[i] · table[code[i], :] (column 0 the full sample) as blocks.

        Units of a group (a row of `table`) share their replicates; units that share a value of any
        array in `coupled` (a trimming group, a calibration category: what a later step treats as one)
        must be in the same block. Blocks are the connected groups, merged when they store the same
        replicates."""
        from scipy.sparse import coo_matrix
        from scipy.sparse.csgraph import connected_components

        code = np.asarray(code, dtype=np.int64)
        G = len(table)
        # groups linked by a shared coupled value: a bipartite graph groups — values, one edge per pair
        edges_a, edges_b, offset = [], [], G
        for c in coupled:
            c = np.asarray(c, dtype=np.int64)
            k = int(c.max()) + 1 if len(c) else 0
            pairs = pd.unique(code * k + c) if k else np.zeros(0, np.int64)
            g, v = np.divmod(np.asarray(pairs, dtype=np.int64), max(k, 1))
            edges_a.append(g)
            edges_b.append(offset + v)
            offset += k
        a = np.concatenate(edges_a) if edges_a else np.zeros(0, np.int64)
        b = np.concatenate(edges_b) if edges_b else np.zeros(0, np.int64)
        graph = coo_matrix((np.ones(len(a)), (a, b)), shape=(offset, offset))
        _, comp = connected_components(graph, directed=False)
        group_comp = comp[:G]
        differs = table[:, 1:] != table[:, :1]  # (G, R) which replicates change each group
        # the replicates each component stores, then components with the same set merged into one block
        ncomp = int(group_comp.max()) + 1 if G else 0
        changed = np.zeros((ncomp, table.shape[1] - 1), dtype=bool)
        if G:  # an OR over each component's groups, as a reduction over runs (ufunc.at is unbuffered: slow)
            by = np.argsort(group_comp, kind="stable")
            starts = np.flatnonzero(np.r_[True, np.diff(group_comp[by]) != 0])
            changed[group_comp[by][starts]] = np.logical_or.reduceat(differs[by], starts, axis=0)
        _, comp_block = np.unique(np.packbits(changed, axis=1), axis=0, return_inverse=True)
        comp_block = np.asarray(comp_block).reshape(-1)
        unit_block = comp_block[group_comp][code]
        full = w0 * table[code, 0]
        nb = int(comp_block.max()) + 1 if ncomp else 0
        order = np.argsort(unit_block, kind="stable")
        stops = np.cumsum(np.bincount(unit_block, minlength=nb))
        rows = [order[a:b] for a, b in zip(np.concatenate([[0], stops[:-1]]), stops, strict=True)]
        cols = [np.flatnonzero(changed[np.flatnonzero(comp_block == blk)[0]]) for blk in range(nb)]

        def fill(blk: int) -> np.ndarray:
            r, c = rows[blk], cols[blk]
            v = np.empty((len(r), len(c)))
            step = max(1, CHUNK_ELEMENTS // max(len(c), 1))
            sub = table[:, 1 + c]
            for s in range(0, len(r), step):
                rr = r[s:s + step]
                np.take(sub, code[rr], axis=0, out=v[s:s + step])
                v[s:s + step] *= w0[rr, None]
            return v

        # the gathers release the GIL: blocks on two threads
        with ThreadPoolExecutor(max_workers=WORKERS) as pool:
            values = list(pool.map(fill, range(nb)))
        return cls(np.ascontiguousarray(full), table.shape[1] - 1, unit_block.astype(np.int64), rows, cols, values)

    # -------------------------------------------------------------- what the weighting steps need
    def sums(self, code: np.ndarray, k: int) -> np.ndarray:
        """(k, 1 + R) sums of every column by a unit code whose values each lie within one block
        (calibration cells, trimming groups): a block's codes take its stored columns' sums, every other
        column the full sample's, which is what the plain matrix gives, summed in the same order."""
        code = np.asarray(code, dtype=np.int64)
        out = np.empty((k, 1 + self.n_replicates))
        out[:] = np.bincount(code, weights=self.full, minlength=k)[:k, None]

        def one(b: int) -> tuple[np.ndarray, np.ndarray]:
            cb = code[self.rows[b]]
            present = np.flatnonzero(np.bincount(cb, minlength=k))
            return present, group_sums(cb, self.values[b], k)[present]

        # the sparse products release the GIL: blocks on two threads, written in block order
        todo = [b for b, c in enumerate(self.cols) if len(c)]
        with ThreadPoolExecutor(max_workers=WORKERS) as pool:
            for b, (present, sums) in zip(todo, pool.map(one, todo), strict=True):
                out[np.ix_(present, 1 + self.cols[b])] = sums
        return out

    def multiply(self, factors: np.ndarray, code: np.ndarray) -> None:
        """W[i, :] *= factors[code[i], :] in place, for a code whose values each lie within one block.
        A replicate whose factor differs from the full sample's on a block's codes joins that block first
        (its weights there are the full sample's until now), so the blocks stay exact."""
        code = np.asarray(code, dtype=np.int64)
        k = len(factors)

        def one(b: int) -> None:
            r, c = self.rows[b], self.cols[b]
            present = np.flatnonzero(np.bincount(code[r], minlength=k))
            f = factors[present]
            grow = (f[:, 1:] != f[:, :1]).any(axis=0)
            grow[c] = False
            if grow.any():
                new = np.flatnonzero(grow)
                allc = np.concatenate([c, new])
                keep = np.argsort(allc, kind="stable")
                v = np.concatenate([self.values[b], np.repeat(self.full[r][:, None], len(new), axis=1)], axis=1)
                self.cols[b], self.values[b] = allc[keep], np.ascontiguousarray(v[:, keep])
                c = self.cols[b]
            if len(c):
                gather_multiply(self.values[b], np.ascontiguousarray(factors[:, 1 + c]), code[r], inplace=True)

        # each block is its own arrays, and the gathers release the GIL: blocks on two threads
        with ThreadPoolExecutor(max_workers=WORKERS) as pool:
            list(pool.map(one, range(len(self.rows))))
        self.full *= factors[code, 0]

    # -------------------------------------------------------------- readers of the whole matrix
    def replicate_matrix(self) -> np.ndarray:
        """The (n, R) replicate weights (only for waves where n × R fits in memory: tests, export)."""
        out = np.repeat(self.full[:, None], self.n_replicates, axis=1)
        for r, c, v in zip(self.rows, self.cols, self.values, strict=True):
            if len(c):
                out[np.ix_(r, c)] = v
        return out

    def matrix(self) -> np.ndarray:
        """(n, 1 + R): the full sample, then the replicates."""
        return np.hstack([self.full[:, None], self.replicate_matrix()])

    def stored(self) -> int:
        return int(sum(v.size for v in self.values))

    def all_finite_nonnegative(self) -> bool:
        return bool(np.isfinite(self.full).all() and (self.full >= 0).all()
                    and all(np.isfinite(v).all() and (v >= 0).all() for v in self.values))

    def take(self, positions: np.ndarray) -> ReplicateBlocks:
        """The same weights for the units at `positions` (each unit once, any order): the rows of another
        table that holds the same respondents in its own order."""
        positions = np.asarray(positions, dtype=np.int64)
        where = np.full(len(self.full), -1, dtype=np.int64)
        where[positions] = np.arange(len(positions))
        rows, values = [], []
        for r, v in zip(self.rows, self.values, strict=True):
            new = where[r]
            inside = new >= 0
            order = np.argsort(new[inside], kind="stable")
            rows.append(new[inside][order])
            values.append(np.ascontiguousarray(v[inside][order]))
        return ReplicateBlocks(self.full[positions], self.n_replicates, self.block[positions], rows,
                               list(self.cols), values)

    # -------------------------------------------------------------- on disk
    def record(self) -> list[list[int]]:
        """`replicates.blocks` of the design record: the replicates (0-based) each block stores."""
        return [[int(x) for x in c] for c in self.cols]

    def pieces(self, ids: np.ndarray) -> Iterator[pd.DataFrame]:
        """replicate_weights.parquet, a block per piece (one row group each): respondent id, block, slots."""
        names = slot_names(max((len(c) for c in self.cols), default=0))
        for b, (r, v) in enumerate(zip(self.rows, self.values, strict=True)):
            # column-major: each slot is one contiguous run, which Arrow takes as it is; a frame built from
            # the columns of the row-major block would be stacked into a block of its own first (two copies)
            slots = np.full((len(r), len(names)), np.nan, order="F")
            slots[:, :v.shape[1]] = v
            frame = pd.DataFrame(slots, columns=names, copy=False)
            frame.insert(0, BLOCK_COLUMN, np.full(len(r), b, dtype=np.int64))
            frame.insert(0, "respondent_id", ids[r])
            yield frame


def write_blocks(blocks: ReplicateBlocks, ids: np.ndarray, path: Path) -> Path:
    """replicate_weights.parquet, a row group per block, through the stage's commit (tableio)."""
    from pipeline.schemas import REPLICATE_WEIGHTS
    from pipeline.tableio import write_table_pieces

    return write_table_pieces(_ahead(blocks.pieces(np.asarray(ids))), path, REPLICATE_WEIGHTS, dictionary=False)


def _ahead(pieces: Iterator[pd.DataFrame]) -> Iterator[pd.DataFrame]:
    """The pieces, each made on a second thread while the one before it is written (both release the GIL
    for most of their time: a copy into column order, and the parquet encoding)."""
    done = object()
    with ThreadPoolExecutor(max_workers=1) as pool:
        nxt = pool.submit(next, pieces, done)
        while (piece := nxt.result()) is not done:
            nxt = pool.submit(next, pieces, done)
            yield piece


def read_blocks(path: Path, blocks: list[list[int]], n_replicates: int, full: np.ndarray, block: np.ndarray,
                ids: np.ndarray) -> ReplicateBlocks:
    """replicate_weights.parquet as blocks, a row group at a time (never the n × R matrix). `full`, `block`,
    `ids`: weights.parquet's weight, block and respondent id columns. A row group whose respondents are not
    its block's, or a stored weight that is missing, is refused: the files and the record disagree."""
    import pyarrow.parquet as pq

    block = np.asarray(block, dtype=np.int64)
    nb = len(blocks)
    redo = f"{path.name}, weights.parquet and design.json disagree; re-run the weighting stage."
    if len(block) and (block.min() < 0 or block.max() >= nb):
        raise InputError(f"{path}: weights.parquet names a replicate block the design record does not list; {redo}")
    order = np.argsort(block, kind="stable")
    stops = np.cumsum(np.bincount(block, minlength=nb))
    rows = [order[a:b] for a, b in zip(np.concatenate([[0], stops[:-1]]), stops, strict=True)]
    cols = [np.asarray(c, dtype=np.int64) for c in blocks]
    if not path.exists():
        raise InputError(f"{path} does not exist: the weighting stage writes it beside weights.parquet. Run "
                         "`python -m pipeline weight --wave W` (or make) first.")
    pf = pq.ParquetFile(path)
    if pf.metadata.num_row_groups != nb:
        raise InputError(f"{path}: {pf.metadata.num_row_groups} row groups for {nb} replicate blocks; {redo}")
    values = []
    for b in range(nb):
        names = slot_names(len(cols[b]))
        t = pf.read_row_group(b, columns=["respondent_id", *names])
        got = t.column("respondent_id").to_numpy(zero_copy_only=False).astype(str)
        if len(got) != len(rows[b]) or (len(got) and not np.array_equal(got, np.asarray(ids)[rows[b]].astype(str))):
            raise InputError(f"{path}: row group {b} does not hold the respondents of replicate block {b}; {redo}")
        v = np.empty((len(got), len(names)))
        for j, name in enumerate(names):
            c = t.column(name)
            if c.null_count:
                raise InputError(f"{path}: block {b} lacks {c.null_count} stored weight(s) in {name}; {redo}")
            v[:, j] = c.to_numpy()
        values.append(v)
        del t
    return ReplicateBlocks(np.asarray(full, dtype=np.float64), int(n_replicates), block, rows, cols, values)


def replicate_columns(weights: pd.DataFrame, blocks: ReplicateBlocks, names: list[str]) -> pd.DataFrame:
    """`weights` with one column per replicate (`names`): for files made for people (export, notebooks),
    where n × R fits in memory."""
    reps = pd.DataFrame(blocks.replicate_matrix(), columns=list(names), index=weights.index)
    return pd.concat([weights.drop(columns=[c for c in names if c in weights.columns]), reps], axis=1)
