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


def _bounds(w: np.ndarray, codes: np.ndarray, k: int, lower: float | None, upper: float | None):
    med = grouped_median_positive(w, codes, k)  # (k, R)
    lo = None if lower is None else (lower * med)[codes]
    hi = None if upper is None else (upper * med)[codes]
    return lo, hi


def trim_and_recalibrate(w: np.ndarray, codes: np.ndarray, labels: tuple[str, ...], lower: float | None,
                         upper: float | None, recalibrate: Callable[[np.ndarray], object], max_rounds: int = 20,
                         slack: float = 1e-6) -> TrimResult:
    """Alternate trimming and `recalibrate(weights) -> CalibrationResult` until the bounds hold."""
    W = w if w.ndim == 2 else w[:, None]
    k = len(labels)
    pos = W > 0
    trimmed = np.zeros(W.shape[0], dtype=bool)
    last = None
    best, stalled = None, 0
    for rnd in range(max_rounds + 1):
        lo, hi = _bounds(W, codes, k, lower, upper)
        over = pos & (W > hi * (1 + slack)) if hi is not None else np.zeros_like(pos)
        under = pos & (W < lo * (1 - slack)) if lo is not None else np.zeros_like(pos)
        full_ok = not (over[:, 0].any() or under[:, 0].any())
        n_bad = int((over | under).any(axis=0).sum())
        stalled = stalled + 1 if best is not None and n_bad >= best else 0
        best = n_bad if best is None else min(best, n_bad)
        if full_ok and (rnd == max_rounds or stalled >= 5 or n_bad == 0):
            # Replicates re-run the full sample's trimming rule on a sample with one PSU fewer; when their
            # bounds and margins cannot both hold, the margins win (last step is a re-calibration) and the
            # replicates left outside the bounds are reported, never hidden.
            out = W if w.ndim == 2 else W[:, 0]
            bad_cols = (over | under).any(axis=0)
            worst = 1.0
            if bad_cols.any():
                r_hi = np.where(over, W / hi, 0).max() if hi is not None else 0.0
                r_lo = np.where(under, lo / np.where(W > 0, W, 1), 0).max() if lo is not None else 0.0
                worst = float(max(r_hi, r_lo))
            counts = group_counts(codes[trimmed], k) if trimmed.any() else np.zeros(k, np.int64)
            return TrimResult(out, rnd, counts, last, int(bad_cols.sum()), worst)
        if rnd == max_rounds:
            bad = (over | under)[:, :1]
            g = np.bincount(codes[bad.any(axis=1)], minlength=k)
            worst = int(np.argmax(g))
            raise PipelineError(
                f"trimming: after {max_rounds} rounds of trimming and re-calibration, {int(bad.sum())} full-sample weight(s) "
                f"still lie outside [{lower}, {upper}] x the median of their group (most in {labels[worst]!r}); "
                "the bounds conflict with the calibration margins. Widen weighting.trimming.upper/lower in "
                "design.yaml, raise max_rounds, or collapse the sparse margin cells of that group."
            )
        trimmed |= (over | under)[:, 0]
        if hi is not None:
            W = np.where(over, hi, W)
        if lo is not None:
            W = np.where(under, lo, W)
        last = recalibrate(W)
        W = last.weights if last.weights.ndim == 2 else last.weights[:, None]
    raise AssertionError("unreachable")
