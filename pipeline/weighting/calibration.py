"""Calibration of a weight matrix to census margins: raking, post-stratification, linear (GREG),
logit and truncated-linear bounded calibration (the calfuns of R survey's calibrate()).

Every method here writes the calibrated weight as w_i = d_i * g(cell_i), where the cell is the joint
category of all margin variables, so the whole problem is solved on the cell × replicate table of
summed starting weights (a few thousand rows at most) and mapped back to units once. This is exact,
not an approximation: g depends on a unit only through the dummies of its categories.

On that table the calibration equations are solved by cyclic block updates of the dual (one block per
margin). Categories of a margin are disjoint, so each block is a set of independent one-dimensional
equations, one per category and replicate. With the exponential calfun the update is the classical
IPF step T/S; with the linear calfun it is exact per block; logit and truncated linear take damped
Newton steps. The solution is the one of Deville & Särndal's calibration (R's grake), because the
dual is convex and the cyclic scheme converges to its optimum.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace

import numpy as np

from pipeline.errors import PipelineError
from pipeline.survey_design.codes import gather_multiply, group_sums
from pipeline.survey_design.replicate_blocks import ReplicateBlocks
from pipeline.weighting.grouped import cells


@dataclass(frozen=True)
class Margin:
    """One calibration margin: each unit's category code and the control total of each category."""

    name: str
    codes: np.ndarray  # (n,) int in [0, K)
    totals: np.ndarray  # (K,)
    labels: tuple[str, ...]  # category labels, for messages and diagnostics

    @property
    def k(self) -> int:
        return len(self.totals)


@dataclass(frozen=True)
class CalibrationResult:
    weights: np.ndarray  # (n,) or (n, R)
    iterations: int
    max_error: float  # largest relative margin error over margins, categories and columns
    achieved: tuple[np.ndarray, ...]  # per margin: (K,) or (K, R) weighted totals
    empty_in_replicates: int  # (category, replicate) pairs skipped because the replicate has no member
    method: str
    infeasible_replicates: int = 0  # replicates whose margins cannot all be met: best weights kept, reported
    infeasible_max_error: float = 0.0  # largest margin error left in those replicates


# A column whose largest margin error fell by less than 10% over the last 20 sweeps has stalled.
STALL_WINDOW, STALL_RATIO = 20, 0.9


# --- calfuns: g = F(eta), dF/deta; eta = 0 gives g = 1 --------------------------------------------

def _exp(eta, bounds):
    return np.exp(eta), np.exp(eta)


def _linear(eta, bounds):
    return 1.0 + eta, np.ones_like(eta)


def _truncated_linear(eta, bounds):
    lo, hi = bounds
    g = 1.0 + eta
    inside = (g > lo) & (g < hi)
    return np.clip(g, lo, hi), inside.astype(np.float64)


def _logit(eta, bounds):
    # g = (L(U-1) + U(1-L)e^{Au}) / (U-1 + (1-L)e^{Au}), A = (U-L)/((U-1)(1-L)) (R's cal.logit);
    # written with the logistic function so large |Au| neither overflows nor loses g's bounds, and
    # dg/du = A (g-L)(U-g)/(U-L).
    lo, hi = bounds
    a = (hi - lo) / ((hi - 1.0) * (1.0 - lo))
    c = np.log((1.0 - lo) / (hi - 1.0))  # g(0) = 1
    s = 0.5 * (1.0 + np.tanh(0.5 * (a * eta + c)))  # logistic(a*eta + c), stable
    g = lo + (hi - lo) * s
    dg = a * (g - lo) * (hi - g) / (hi - lo)
    return g, dg


def margin_errors(achieved: np.ndarray, totals: np.ndarray) -> np.ndarray:
    """Relative error |achieved - control| / control (absolute where the control is below 1)."""
    t = totals if achieved.ndim == 1 else totals[:, None]
    return np.abs(achieved - t) / np.maximum(np.abs(t), 1.0)


def _category_counts(members: np.ndarray, cat: list[np.ndarray], margins: list[Margin]) -> list[np.ndarray]:
    """Sample members per category of each margin, from the members of each cell."""
    per_cell = members.astype(np.float64)
    return [np.bincount(c, weights=per_cell, minlength=m.k).astype(np.int64) for c, m in zip(cat, margins, strict=True)]


def check_margins(margins: list[Margin], where: str = "", counts: list[np.ndarray] | None = None) -> None:
    """A control total for a category with no sample member cannot be met: refuse it by name.
    `counts`: the members per category of each margin, when the caller has counted them already."""
    for j, m in enumerate(margins):
        count = np.bincount(m.codes, minlength=m.k) if counts is None else counts[j]
        bad = np.flatnonzero((count == 0) & (m.totals > 0))
        if bad.size:
            cats = ", ".join(f"{m.labels[i]} (control {m.totals[i]:,.0f})" for i in bad[:5])
            raise PipelineError(
                f"{where}calibration margin {m.name!r}: {bad.size} categor{'y has' if bad.size == 1 else 'ies have'} "
                f"a control total but no sample member: {cats}. Add a collapse rule for this margin in "
                "design.yaml (weighting.calibration.collapse) or merge the categories in the controls."
            )
        zero = np.flatnonzero((count > 0) & (m.totals <= 0))
        if zero.size:
            cats = ", ".join(f"{m.labels[i]} ({count[i]} respondents)" for i in zero[:5])
            raise PipelineError(
                f"{where}calibration margin {m.name!r}: categor{'y' if zero.size == 1 else 'ies'} {cats} "
                f"ha{'s' if zero.size == 1 else 've'} sample members but a control total of 0, which would give them "
                "zero weight. Check the respondents' category labels and the control table."
            )


def generalized_raking(d: np.ndarray, margins: list[Margin], calfun: str = "raking",
                       bounds: tuple[float, float] | None = None, tol: float = 1e-8, max_iter: int = 100,
                       inplace: bool = False, where: str = "", strict_replicates: bool = False) -> CalibrationResult:
    """Calibrate starting weights `d` ((n,) or (n, R)) so each margin's weighted totals hit its controls."""
    # the cells' categories and members come from the encoding: the check needs no pass over the units
    c = cells([m.codes for m in margins], [m.k for m in margins])
    check_margins(margins, where, _category_counts(c.members, c.cats, margins))
    dd = d if d.ndim == 2 else d[:, None]
    g, res = rake_cells(c.sums(dd), c.cats, margins, calfun, bounds, tol, max_iter, where, strict_replicates)
    w = gather_multiply(dd, c.spread(g), c.code, inplace=inplace)
    if d.ndim == 1:
        return replace(res, weights=w[:, 0], achieved=tuple(a[:, 0] for a in res.achieved))
    return replace(res, weights=w)


def rake_cells(D: np.ndarray, cat: list[np.ndarray], margins: list[Margin], calfun: str = "raking",
               bounds: tuple[float, float] | None = None, tol: float = 1e-8, max_iter: int = 100, where: str = "",
               strict_replicates: bool = False) -> tuple[np.ndarray, CalibrationResult]:
    """The calibration solved on the cell table: D (cells × columns) of summed starting weights and each
    cell's category per margin (`cat`) → the factor g of every cell and column, and the result
    (weights None: the caller maps g back to units, or keeps it aggregated)."""
    fn: Callable = {"raking": _exp, "linear": _linear, "truncated_linear": _truncated_linear,
                    "logit": _logit}[calfun]
    if calfun in ("truncated_linear", "logit") and bounds is None:
        raise PipelineError(f"{where}calibration method {calfun!r} needs bounds: [lower, upper] in design.yaml.")
    if calfun == "raking" and bounds is not None:
        raise PipelineError(f"{where}bounds are not used by raking; use method logit or truncated_linear.")

    ncell, R = D.shape
    eta = np.zeros((ncell, R))
    g = np.ones((ncell, R))

    # A replicate may have no member in a category (its PSUs were deleted or not drawn); that
    # category cannot be calibrated in that replicate and is left alone rather than failing.
    present = [group_sums(c, D, m.k) > 0 for c, m in zip(cat, margins, strict=True)]
    empty = [(~p) & (m.totals[:, None] > 0) for p, m in zip(present, margins, strict=True)]
    empty_rep = int(sum(e.sum() for e in empty))
    # With an empty category the other margins' controls generally cannot all be met (the missing
    # category's population has nowhere to go), so such replicates are calibrated as far as the
    # feasible columns need and their remaining error is reported; the full sample never gets here,
    # check_margins has refused empty categories already.
    feasible = ~np.logical_or.reduce([e.any(axis=0) for e in empty])

    def achieved_all(gmat):
        return [group_sums(c, D * gmat, m.k) for c, m in zip(cat, margins, strict=True)]

    inner = 1 if calfun in ("raking", "linear") else 8
    history: list[np.ndarray] = []
    it = 0
    err = np.inf
    while it < max_iter:
        it += 1
        for c, m, p in zip(cat, margins, present, strict=True):
            T = m.totals[:, None]
            for _ in range(inner):
                S = group_sums(c, D * g, m.k)
                if calfun == "raking":
                    ratio = np.divide(T, S, out=np.ones_like(S), where=p & (S > 0))
                    g *= ratio[c]
                    eta = None
                    break
                if np.max(np.where(p, margin_errors(S, m.totals), 0.0)) < 0.1 * tol:
                    break  # this block is solved; the next sweep will say whether the others are
                _, dg = fn(eta, bounds)
                slope = group_sums(c, D * dg, m.k)
                step = np.divide(T - S, slope, out=np.zeros_like(S), where=p & (slope > 0))
                if calfun == "logit":
                    step = np.clip(step, -50, 50)
                eta = eta + step[c]
                g, _ = fn(eta, bounds)
        ach = achieved_all(g)
        colerr = np.max([np.where(p, margin_errors(a, m.totals), 0.0).max(axis=0)
                         for a, m, p in zip(ach, margins, present, strict=True)], axis=0)  # (R,)
        err = float(np.max(np.where(feasible, colerr, 0.0)))
        if err < tol:
            break
        history.append(colerr)
        if it > STALL_WINDOW:
            # A replicate whose margins conflict stops improving; once every other column has
            # converged there is no point iterating on to max_iter for it. The full sample stalling
            # ends the loop too: it is then reported as not converged below.
            stalled = (colerr >= tol) & (colerr > STALL_RATIO * history[-STALL_WINDOW - 1])
            if stalled[0] or float(np.max(np.where(feasible & ~stalled, colerr, 0.0))) < tol:
                break
    failed = feasible & ~(colerr < tol)
    if failed[0] or (strict_replicates and failed.any()):
        worst = None
        for a, m, p in zip(ach, margins, present, strict=True):
            e = np.where(p & failed, margin_errors(a, m.totals), 0.0)
            if failed[0]:
                e[:, 1:] = 0.0  # name the full sample's worst category first
            i, j = np.unravel_index(int(np.argmax(e)), e.shape)
            if worst is None or e[i, j] > worst[0]:
                worst = (e[i, j], m.name, m.labels[i], j, a[i, j], m.totals[i])
        e, name, label, col, a, t = worst
        column = "the full sample" if col == 0 else f"replicate {col}"
        raise PipelineError(
            f"{where}{calfun} did not converge ({it} iterations{', no longer improving' if it < max_iter else ''}): "
            f"margin {name!r}, category {label}, "
            f"{column}: weighted total {a:,.4f} vs control {t:,.4f} (relative error {e:.3g} > tolerance {tol:g}). "
            "Raise weighting.calibration.max_iter, widen the bounds, or collapse sparse categories in design.yaml."
        )
    # Replicates whose margins cannot all be met (a category they lack, or members so concentrated
    # that the margins conflict) keep the best weights found; they are counted and their error is
    # reported, never passed off as converged.
    feasible &= ~failed
    err = float(np.max(np.where(feasible, colerr, 0.0)))
    infeasible_err = max(float(np.max(np.where(p & ~feasible, margin_errors(a, m.totals), 0.0), initial=0.0))
                         for a, m, p in zip(ach, margins, present, strict=True))
    return g, CalibrationResult(None, it, float(err), tuple(ach), empty_rep, calfun, int((~feasible).sum()),
                                infeasible_err)


def poststratify(d: np.ndarray, margins: list[Margin], tol: float = 1e-8, where: str = "",
                 inplace: bool = False, **_) -> CalibrationResult:
    """Post-stratification: one margin, closed form g = N_k / N̂_k."""
    if len(margins) != 1:
        raise PipelineError(
            f"{where}poststratify takes exactly one margin, found {[m.name for m in margins]}: cross the "
            "variables into one control table, or use method raking."
        )
    check_margins(margins, where)
    m = margins[0]
    dd = d if d.ndim == 2 else d[:, None]
    S = group_sums(m.codes, dd, m.k)
    g = np.divide(m.totals[:, None], S, out=np.ones_like(S), where=S > 0)
    empty = int(((S == 0) & (m.totals[:, None] > 0)).sum())
    w = gather_multiply(dd, g, m.codes, inplace=inplace)
    ach = group_sums(m.codes, w, m.k)
    err = float(np.max(np.where(S > 0, margin_errors(ach, m.totals), 0.0)))
    if d.ndim == 1:
        w, ach = w[:, 0], ach[:, 0]
    return CalibrationResult(w, 1, err, (ach,), empty, "poststratify")


def _method(calfun: str):
    def run(d, margins, tol=1e-8, max_iter=100, bounds=None, where="", inplace=False, strict_replicates=False):
        fun = "truncated_linear" if calfun == "linear" and bounds is not None else calfun
        return generalized_raking(d, margins, fun, bounds, tol, max_iter, inplace, where, strict_replicates)

    run.__name__ = calfun
    return run


# name in design.yaml (weighting.calibration.method) -> function(d, margins, tol, max_iter, bounds, where)
CALIBRATION_METHODS: dict[str, Callable[..., CalibrationResult]] = {
    "raking": _method("raking"),
    "poststratify": poststratify,
    "linear": _method("linear"),  # with bounds: truncated linear, as R calibrate(calfun="linear", bounds=)
    "truncated_linear": _method("truncated_linear"),
    "logit": _method("logit"),
}


def _known(method: str) -> None:
    if method not in CALIBRATION_METHODS:
        raise PipelineError(
            f"calibration method {method!r} is unknown; design.yaml weighting.calibration.method must be one of "
            f"{sorted(CALIBRATION_METHODS)}."
        )


def calibrate(method: str, d: np.ndarray, margins: list[Margin], **kw) -> CalibrationResult:
    _known(method)
    return CALIBRATION_METHODS[method](d, margins, **kw)


def calibrate_blocks(method: str, B: ReplicateBlocks, margins: list[Margin], tol: float = 1e-8,
                     max_iter: int = 100, bounds=None, where: str = "", strict_replicates: bool = False,
                     **_) -> CalibrationResult:
    """`calibrate` on replicate blocks whose every calibration cell lies within one block (the blocks
    were formed so): the cell table is summed from the blocks, solved as always, and the cells' factors
    multiply the blocks in place. The result's weights are the blocks."""
    c = cells([m.codes for m in margins], [m.k for m in margins])
    code = c.compact()
    g, res = calibrate_cells(method, B.sums(code, len(c)), c.cats, margins, tol=tol, max_iter=max_iter,
                             bounds=bounds, where=where, strict_replicates=strict_replicates)
    B.multiply(g, code)
    return replace(res, weights=B)


def calibrate_cells(method: str, D: np.ndarray, cat: list[np.ndarray], margins: list[Margin], tol: float = 1e-8,
                    max_iter: int = 100, bounds=None, where: str = "",
                    strict_replicates: bool = False) -> tuple[np.ndarray, CalibrationResult]:
    """`calibrate` on the cell table: D (cells × columns) of summed starting weights, `cat` the category of
    each cell per margin. Returns each cell's factor g (cells × columns) and the result without unit
    weights. Every method's g depends on a unit only through its cell, so this is the same solution."""
    _known(method)
    check_margins(margins, where)
    if method != "poststratify":
        fun = "truncated_linear" if method == "linear" and bounds is not None else method
        return rake_cells(D, cat, margins, fun, bounds, tol, max_iter, where, strict_replicates)
    if len(margins) != 1:
        poststratify(D, margins, where=where)  # its message
    m, c = margins[0], cat[0]
    S = group_sums(c, D, m.k)
    g = np.divide(m.totals[:, None], S, out=np.ones_like(S), where=S > 0)[c]
    ach = group_sums(c, D * g, m.k)
    empty = int(((S == 0) & (m.totals[:, None] > 0)).sum())
    err = float(np.max(np.where(S > 0, margin_errors(ach, m.totals), 0.0)))
    return g, CalibrationResult(None, 1, err, (ach,), empty, "poststratify")
