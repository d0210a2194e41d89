"""Trimming to bounds relative to the median weight within a group (e.g. county), alternated with
re-calibration so that, at the end, the margins hold and the bounds hold too.

Each round caps weights above upper × median and raises weights below lower × median, then
re-calibrates. Calibration moves weights again, so the rounds repeat until no weight is outside its
bounds by more than `slack` (relative). If that does not happen within the allowed rounds the bounds
and the margins conflict, and the error says which group still violates them.
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from functools import partial

import numpy as np

from pipeline.errors import PipelineError
from pipeline.survey_design.codes import WORKERS
from pipeline.survey_design.replicate_blocks import ReplicateBlocks
from pipeline.weighting.grouped import group_counts, grouped_order_stats

SELECT_COLUMNS = 16  # replicate columns per selection task (_order_stats)


@dataclass(frozen=True)
class TrimResult:
    weights: np.ndarray  # (n,) or (n, R)
    rounds: int
    trimmed: np.ndarray  # (k,) units of the full sample (column 0) trimmed in any round, per group
    recalibration: object | None  # last calibration result
    replicates_outside: int  # replicate columns whose bounds still fail after the last round
    worst_ratio: float  # largest weight / upper bound (or lower bound / weight) left in those replicates


@dataclass(frozen=True)
class _Check:
    full_ok: bool  # column 0 (the full sample) within its bounds
    bad: np.ndarray  # (k, R) groups and columns with a weight outside its bounds
    bad_cols: np.ndarray  # (R,) columns with a weight outside its bounds
    worst: float  # largest weight / upper bound or lower bound / weight among those
    flagged: np.ndarray  # (n,) units of column 0 outside their bounds


def _check(w0: np.ndarray, codes: np.ndarray, lo_g, hi_g, top: np.ndarray, bottom: np.ndarray,
           slack: float) -> _Check:
    """Which columns have a weight outside its group's bounds (lo_g, hi_g: (k, R) or None), from each
    group's largest and smallest positive weight (top, bottom: (k, R)), so the check costs k × R, not
    n × R; only the full-sample column `w0` is compared unit by unit (the units flagged for trimming)."""
    bad = np.zeros(top.shape, dtype=bool)
    worst = 1.0
    flagged = np.zeros(len(w0), dtype=bool)
    pos = w0 > 0
    for bound_g, upper in ((hi_g, True), (lo_g, False)):
        if bound_g is None:
            continue
        out = top > bound_g * (1 + slack) if upper else bottom < bound_g * (1 - slack)
        if out[:, 1:].any():
            ratio = np.where(out, top / bound_g if upper else bound_g / bottom, 0.0)
            worst = max(worst, float(ratio[:, 1:].max()))
        bad |= out
        b = bound_g[codes, 0]
        flagged |= pos & ((w0 > b * (1 + slack)) if upper else (w0 < b * (1 - slack)))
    return _Check(not flagged.any(), bad, bad.any(axis=0), worst, flagged)


def _clip(W: np.ndarray, order: np.ndarray, stops: np.ndarray, lo_g, hi_g, slack: float, bad: np.ndarray) -> None:
    """Move the weights outside their bounds onto the bound, in place, only in the groups and columns
    the check found outside (`bad`, (k, R); after the first rounds a few replicates in a few groups):
    a group's bound is one number per column, and where its largest and smallest positive weight are
    inside, no weight of the group is outside. `order`, `stops`: the rows sorted by group and where
    each group's run ends."""
    start = 0
    for g in range(len(stops)):
        rows = order[start:stops[g]]
        start = stops[g]
        cols = np.flatnonzero(bad[g])
        if not len(cols) or not len(rows):
            continue
        run = rows[-1] - rows[0] == len(rows) - 1  # the group's rows are one run: slices, not gathers
        where = (slice(rows[0], rows[-1] + 1), cols) if run else np.ix_(rows, cols)
        block = W[where]
        for bound_g, upper in ((hi_g, True), (lo_g, False)):
            if bound_g is None:
                continue
            bound = bound_g[g, cols]
            out = (block > bound * (1 + slack)) if upper else ((block > 0) & (block < bound * (1 - slack)))
            np.copyto(block, np.broadcast_to(bound, block.shape), where=out)
        W[where] = block


def _clip_block(B: ReplicateBlocks, blocks: list[tuple], lo_g, hi_g, slack: float, bad: np.ndarray, b: int) -> None:
    """_clip on block b's stored replicates (their columns of the (k, 1 + R) bounds and findings)."""
    (_, ob, sb, _), c = blocks[b], B.cols[b]
    _clip(B.values[b], ob, sb, None if lo_g is None else lo_g[:, 1 + c], None if hi_g is None else hi_g[:, 1 + c],
          slack, bad[:, 1 + c])


def _per_block(codes: np.ndarray, k: int, B: ReplicateBlocks) -> list[tuple]:
    """Each block's trimming codes, their order and run ends, and the groups present in it."""
    out = []
    for r in B.rows:
        cb = codes[r]
        counts = group_counts(cb, k)
        out.append((cb, np.argsort(cb, kind="stable"), np.cumsum(counts), np.flatnonzero(counts)))
    return out


def _order_stats(B: ReplicateBlocks, codes: np.ndarray, k: int, order: np.ndarray, blocks: list[tuple]):
    """Median, largest and smallest positive weight of every group and column, (k, 1 + R) each: a column
    a block does not store is the full sample's there, so its statistics are the full sample's."""
    stats = [np.repeat(s, 1 + B.n_replicates, axis=1) for s in grouped_order_stats(B.full[:, None], codes, k, order)]
    # a task is a block's rows and up to SELECT_COLUMNS of its columns: blocks differ tenfold in size, and
    # tasks that small keep both threads busy to the end
    todo = [(b, slice(j, j + SELECT_COLUMNS)) for b, ((_, _, _, present), c) in enumerate(zip(blocks, B.cols, strict=True))
            if len(present) for j in range(0, len(c), SELECT_COLUMNS)]

    def select(task):
        b, cols = task
        cb, ob = blocks[b][0], blocks[b][1]
        return grouped_order_stats(B.values[b][:, cols], cb, k, ob)

    # the selections release the GIL: two threads, written back in task order
    with ThreadPoolExecutor(max_workers=WORKERS) as pool:
        for (b, cols), found in zip(todo, pool.map(select, todo), strict=True):
            present, c = blocks[b][3], B.cols[b][cols]
            for out, s in zip(stats, found, strict=True):
                out[np.ix_(present, 1 + c)] = s[present]
    return stats


def trim_and_recalibrate(w, codes: np.ndarray, labels: tuple[str, ...], lower: float | None,
                         upper: float | None, recalibrate: Callable, max_rounds: int = 20,
                         slack: float = 1e-6, overwrite: bool = False) -> TrimResult:
    """Alternate trimming and `recalibrate(weights) -> CalibrationResult` until the bounds hold.

    `w`: replicate blocks (survey_design/replicate_blocks.py; every trimming group within one block),
    clipped in place and handed to `recalibrate` as such; or a plain (n,) or (n, 1 + R) array, left as it
    was unless `overwrite`, for which `recalibrate` takes and returns arrays."""
    plain = not isinstance(w, ReplicateBlocks)
    if plain:
        W2 = w if w.ndim == 2 else w[:, None]
        B = ReplicateBlocks.dense(W2[:, 0].copy(), W2[:, 1:])
        inner = recalibrate

        def recalibrate(Bm):  # noqa: F811 - the array caller's calibration, on the blocks
            res = inner(Bm.matrix())
            m = res.weights if res.weights.ndim == 2 else res.weights[:, None]
            return replace(res, weights=ReplicateBlocks.dense(m[:, 0].copy(), m[:, 1:]))
    else:
        B = w
    k = len(labels)
    codes = np.asarray(codes, dtype=np.int64)
    trimmed = np.zeros(len(B.full), dtype=bool)
    last = None
    best, stalled = None, 0
    order = np.argsort(codes, kind="stable")
    stops = np.cumsum(group_counts(codes, k))
    blocks = _per_block(codes, k, B)
    for rnd in range(max_rounds + 1):
        med, top, bottom = _order_stats(B, codes, k, order, blocks)  # (k, 1 + R) each
        lo_g = None if lower is None else lower * med
        hi_g = None if upper is None else upper * med
        chk = _check(B.full, codes, lo_g, hi_g, top, bottom, slack)
        n_bad = int(chk.bad_cols.sum())
        stalled = stalled + 1 if best is not None and n_bad >= best else 0
        best = n_bad if best is None else min(best, n_bad)
        if chk.full_ok and (rnd == max_rounds or stalled >= 5 or n_bad == 0):
            # Replicates re-run the full sample's trimming rule on a sample with one PSU fewer; when their
            # bounds and margins cannot both hold, the margins win (last step is a re-calibration) and the
            # replicates left outside the bounds are reported, never hidden.
            worst = chk.worst if chk.bad_cols.any() else 1.0
            counts = group_counts(codes[trimmed], k) if trimmed.any() else np.zeros(k, np.int64)
            if plain:
                m = B.matrix()
                out = m if w.ndim == 2 else m[:, 0]
                if overwrite:  # the caller's array holds the result, as it did when clipped in place
                    w[...] = out
                    out = w
                last = last if last is None else replace(last, weights=out)
            else:
                out = B
            return TrimResult(out, rnd, counts, last, n_bad, worst)
        if rnd == max_rounds:
            g = np.bincount(codes[chk.flagged], minlength=k)
            worst = int(np.argmax(g))
            raise PipelineError(
                f"trimming: after {max_rounds} rounds of trimming and re-calibration, {int(chk.flagged.sum())} full-sample weight(s) "
                f"still lie outside [{lower}, {upper}] x the median of their group (most in {labels[worst]!r}); "
                "the bounds conflict with the calibration margins. Widen weighting.trimming.upper/lower in "
                "design.yaml, raise max_rounds, or collapse the sparse margin cells of that group."
            )
        trimmed |= chk.flagged
        lo1 = None if lo_g is None else lo_g[:, :1]
        hi1 = None if hi_g is None else hi_g[:, :1]
        _clip(B.full[:, None], order, stops, lo1, hi1, slack, chk.bad[:, :1])
        # each block is its own array: two threads (the comparisons and copies release the GIL)
        with ThreadPoolExecutor(max_workers=WORKERS) as pool:
            list(pool.map(partial(_clip_block, B, blocks, lo_g, hi_g, slack, chk.bad),
                          [b for b, c in enumerate(B.cols) if len(c)]))
        last = recalibrate(B)
        B = last.weights
    raise AssertionError("unreachable")

