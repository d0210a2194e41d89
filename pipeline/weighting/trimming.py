"""Trimming to bounds relative to the median weight within a group (e.g. county), alternated with
re-calibration so that, at the end, the margins hold and the bounds hold too.

Each round caps weights above upper × median and raises weights below lower × median, then
re-calibrates. Calibration moves weights again, so the rounds repeat until no weight is outside its
bounds by more than `slack` (relative). If that does not happen within the allowed rounds the bounds
and the margins conflict, and the error says which group still violates them.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from pipeline.errors import PipelineError
from pipeline.weighting.grouped import group_counts, grouped_median_positive


@dataclass(frozen=True)
class TrimResult:
    weights: np.ndarray  # (n,) or (n, R)
    rounds: int
    trimmed: np.ndarray  # (k,) units of the full sample (column 0) trimmed in any round, per group
    recalibration: object | None  # last calibration result
    replicates_outside: int  # replicate columns whose bounds still fail after the last round
    worst_ratio: float  # largest weight / upper bound (or lower bound / weight) left in those replicates


# Rows per pass of the bound checks: the bounds of a chunk are gathered, compared and applied in
# place, so no n × R bound, mask or result matrix is ever built.
_ROWS = 1 << 16


@dataclass(frozen=True)
class _Check:
    full_ok: bool  # column 0 (the full sample) within its bounds
    bad_cols: np.ndarray  # (R,) columns with a weight outside its bounds
    worst: float  # largest weight / upper bound or lower bound / weight among those
    flagged: np.ndarray  # (n,) units of column 0 outside their bounds


def _check(W: np.ndarray, codes: np.ndarray, lo_g, hi_g, slack: float, clip: bool) -> _Check:
    """Compare every weight with its group's bounds (lo_g, hi_g: (k, R) or None), chunk by chunk;
    with `clip`, move the weights outside onto their bound in place."""
    n, r = W.shape
    bad = np.zeros(r, dtype=bool)
    flagged = np.zeros(n, dtype=bool)
    worst = 1.0
    for start in range(0, n, _ROWS):
        stop = min(n, start + _ROWS)
        block = W[start:stop]
        pos = block > 0
        c = codes[start:stop]
        for bound_g, upper in ((hi_g, True), (lo_g, False)):
            if bound_g is None:
                continue
            bound = bound_g[c]
            out = pos & ((block > bound * (1 + slack)) if upper else (block < bound * (1 - slack)))
            if not out.any():
                continue
            hit = out.any(axis=0)
            if hit[1:].any():
                ratio = np.where(out, block / bound if upper else bound / np.where(pos, block, 1.0), 0.0)
                worst = max(worst, float(ratio[:, 1:].max()))
            bad |= hit
            flagged[start:stop] |= out[:, 0]
            if clip:
                np.copyto(block, bound, where=out)
    return _Check(not flagged.any(), bad, worst, flagged)


def trim_and_recalibrate(w: np.ndarray, codes: np.ndarray, labels: tuple[str, ...], lower: float | None,
                         upper: float | None, recalibrate: Callable[[np.ndarray], object], max_rounds: int = 20,
                         slack: float = 1e-6, overwrite: bool = False) -> TrimResult:
    """Alternate trimming and `recalibrate(weights) -> CalibrationResult` until the bounds hold.

    Weights are clipped in place; with `overwrite` that place may be `w` itself (a national-size
    weight matrix is not copied once more), otherwise `w` is left as it was."""
    W = w if w.ndim == 2 else w[:, None]
    if not overwrite:
        W = W.copy()
    k = len(labels)
    trimmed = np.zeros(W.shape[0], dtype=bool)
    last = None
    best, stalled = None, 0
    for rnd in range(max_rounds + 1):
        med = grouped_median_positive(W, codes, k)  # (k, R)
        lo_g = None if lower is None else lower * med
        hi_g = None if upper is None else upper * med
        chk = _check(W, codes, lo_g, hi_g, slack, clip=False)
        n_bad = int(chk.bad_cols.sum())
        stalled = stalled + 1 if best is not None and n_bad >= best else 0
        best = n_bad if best is None else min(best, n_bad)
        if chk.full_ok and (rnd == max_rounds or stalled >= 5 or n_bad == 0):
            # Replicates re-run the full sample's trimming rule on a sample with one PSU fewer; when their
            # bounds and margins cannot both hold, the margins win (last step is a re-calibration) and the
            # replicates left outside the bounds are reported, never hidden.
            out = W if w.ndim == 2 else W[:, 0]
            worst = chk.worst if chk.bad_cols.any() else 1.0
            counts = group_counts(codes[trimmed], k) if trimmed.any() else np.zeros(k, np.int64)
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
        trimmed |= _check(W, codes, lo_g, hi_g, slack, clip=True).flagged
        last = recalibrate(W)
        W = last.weights if last.weights.ndim == 2 else last.weights[:, None]
    raise AssertionError("unreachable")
