"""Literacy rules (the registry SCORING_RULES) and the score classes (levels).

A rule is a function (dimension scores, total, dimension maxima, params) → boolean verdict per
respondent. Adding a rule is one function here, one registry line and one hand-worked test.

Scores are sums of fractional points (1.25, 2.5, partial credit), so a total that is exactly 70 on
paper can come out as 69.99999999999999 in binary floating point. Every score is rounded to
SCORE_DECIMALS before it is compared with a cut-off or written, which removes that noise while being
far finer than any real point value.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import numpy as np

from pipeline.errors import SpecError
from pipeline.instruments.model import ScoringRule

SCORE_DECIMALS = 9

RuleFn = Callable[[Mapping[str, np.ndarray], np.ndarray, Mapping[str, float], Mapping[str, Any], str], np.ndarray]


def exact(x: np.ndarray) -> np.ndarray:
    """Scores with floating-point noise removed (see the module note)."""
    return np.round(x, SCORE_DECIMALS) + 0.0  # + 0.0 turns −0.0 into 0.0


def _number(value: Any, name: str, where: str) -> float:
    try:
        out = float(value)
    except (TypeError, ValueError):
        raise SpecError(f"{where}: params.{name} must be a number, found {value!r}.") from None
    if not np.isfinite(out):
        raise SpecError(f"{where}: params.{name} must be finite, found {value!r}.")
    return out


def threshold_total(dims: Mapping[str, np.ndarray], total: np.ndarray, dim_max: Mapping[str, float],
                    params: Mapping[str, Any], where: str = "scoring.yaml") -> np.ndarray:
    """2024 rule: literate iff total ≥ params.cutoff (inclusive)."""
    if "cutoff" not in params:
        raise SpecError(f"{where}: rule threshold_total needs params.cutoff (e.g. params: {{cutoff: 70}}).")
    cutoff = _number(params["cutoff"], "cutoff", where)
    return exact(total) >= exact(np.float64(cutoff))


def all_dimensions(dims: Mapping[str, np.ndarray], total: np.ndarray, dim_max: Mapping[str, float],
                   params: Mapping[str, Any], where: str = "scoring.yaml") -> np.ndarray:
    """Miller-style rule of the earlier waves: literate only if every listed dimension passes.

    params.cutoffs maps a dimension to the share of its points needed (e.g. {knowledge: 0.6,
    methods: 0.6, spirit: 0.6}); dimensions not listed do not count.
    """
    cutoffs = params.get("cutoffs")
    if not isinstance(cutoffs, Mapping) or not cutoffs:
        raise SpecError(f"{where}: rule all_dimensions needs params.cutoffs, a mapping dimension → share "
                        "of the dimension's points, e.g. {knowledge: 0.6, methods: 0.6, spirit: 0.6}.")
    unknown = [d for d in cutoffs if d not in dims]
    if unknown:
        raise SpecError(f"{where}: params.cutoffs names {unknown}, which are not dimensions of the "
                        f"instrument ({sorted(dims)}).")
    ok = np.ones(total.shape, dtype=bool)
    for dim, cut in cutoffs.items():
        share = _number(cut, f"cutoffs.{dim}", where)
        if not 0 <= share <= 1:
            raise SpecError(f"{where}: params.cutoffs.{dim} = {share} is a share of the dimension's points "
                            "and must lie in [0, 1].")
        # Compare points with points (share × maximum), both rounded, so 12/20 passes a 0.6 cut-off.
        ok &= exact(dims[dim]) >= exact(np.float64(share * dim_max[dim]))
    return ok


SCORING_RULES: dict[str, RuleFn] = {
    "threshold_total": threshold_total,
    "all_dimensions": all_dimensions,
}


def rule_function(rule: ScoringRule, where: str = "scoring.yaml") -> RuleFn:
    try:
        return SCORING_RULES[rule.rule]
    except KeyError:
        raise SpecError(f"{where}: rule {rule.rule!r} is not known; use one of {sorted(SCORING_RULES)}.") from None


def check_levels(rule: ScoringRule, where: str = "scoring.yaml") -> None:
    cuts = [c for _, c in rule.levels]
    if not cuts:
        raise SpecError(f"{where}: levels is empty; list the classes from the highest cut-off down.")
    if cuts != sorted(cuts, reverse=True) or len(set(cuts)) != len(cuts):
        raise SpecError(f"{where}: level cut-offs {cuts} must strictly decrease from the first class down.")
    if cuts[-1] > 0:
        raise SpecError(f"{where}: the lowest class ({rule.levels[-1][0]}) starts at {cuts[-1]:g}; it must "
                        "start at 0 so that every total falls in a class.")


def classify(total: np.ndarray, levels: tuple[tuple[str, float], ...]) -> np.ndarray:
    """Class label per total (object array; None where the total is missing). Cut-offs are inclusive."""
    t = exact(total)
    out = np.full(t.shape, None, dtype=object)
    done = np.isnan(t)
    for label, cut in levels:
        hit = ~done & (t >= exact(np.float64(cut)))
        out[hit] = label
        done |= hit
    return out
