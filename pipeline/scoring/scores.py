"""Respondent scores: dimensions, total, benchmark shares, class and literacy verdict.

Missing items (refused, skipped, no row). A respondent with more missing items than
max_missing_items (or a larger missing share than max_missing_share, when set) is unscored: scored is
False and every score is missing, so that the respondent is never counted as a zero. A scored
respondent's missing items within that allowance earn 0 points, as the national survey treats an
unanswered test question; n_missing says how many there were. The item-level table keeps those
cells missing (score and correct are NaN) so the distinction is not lost.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from pipeline.errors import SpecError
from pipeline.instruments.model import Frameworks, ScoringRule
from pipeline.scoring.items import REFUSED, ItemSet
from pipeline.scoring.rules import check_levels, classify, exact, rule_function


@dataclass(frozen=True)
class Scored:
    """Arrays of one scoring run, rows in the order of `respondent_ids`."""

    respondent_ids: np.ndarray
    scored: np.ndarray  # (n,) bool
    n_missing: np.ndarray  # (n,) int
    dims: dict[str, np.ndarray]  # dimension → points (NaN when unscored)
    total: np.ndarray
    level: np.ndarray  # object: label or None
    literate: np.ndarray  # object: True / False / None
    bench: dict[int, np.ndarray]  # benchmark id → share of its points earned
    earned: np.ndarray  # (n, k) points with missing cells = 0 (all rows, scored or not)
    correct: np.ndarray  # (n, k) credit 0–1, NaN when missing


def scored_mask(n_missing: np.ndarray, k: int, rule: ScoringRule) -> np.ndarray:
    ok = n_missing <= rule.max_missing_items
    if rule.max_missing_share is not None:
        ok &= n_missing / k <= float(rule.max_missing_share) + 1e-12
    return ok


def dimension_order(iset: ItemSet, frameworks: Frameworks | None) -> list[str]:
    used = list(dict.fromkeys(it.dimension for it in iset.items))
    if frameworks is None:
        return used
    order = [d.id for d in frameworks.dimensions]
    return [d for d in order if d in used] + [d for d in used if d not in order]


def score(iset: ItemSet, correct: np.ndarray, status: np.ndarray, respondent_ids: np.ndarray,
          rule: ScoringRule, frameworks: Frameworks | None = None, where: str = "scoring.yaml") -> Scored:
    """Score every respondent from the credit matrix (see pipeline.scoring.items.credit)."""
    check_levels(rule, where)
    fn = rule_function(rule, where)
    n, k = correct.shape
    n_missing = (status >= REFUSED).sum(axis=1).astype(np.int64)
    ok = scored_mask(n_missing, k, rule)
    earned = np.fmax(correct, 0.0)  # credit is ≥ 0, so this only turns missing (NaN) into 0, in one pass
    earned *= iset.points
    dims_order = dimension_order(iset, frameworks)
    incidence = np.array([[it.dimension == d for d in dims_order] for it in iset.items], dtype=np.float64)
    dim_points = earned @ incidence
    dim_max = dict(zip(dims_order, iset.points @ incidence, strict=True))
    if frameworks is not None:
        for d in frameworks.dimensions:
            if d.id in dim_max and abs(dim_max[d.id] - d.points) > 1e-9:
                raise SpecError(f"{where}: dimension {d.id} carries {dim_max[d.id]:g} points in the instrument "
                                f"but {d.points:g} in frameworks.yaml; correct the item points.")
    nan = np.where(ok, 0.0, np.nan)  # adds NaN to unscored rows
    dims = {d: exact(dim_points[:, j]) + nan for j, d in enumerate(dims_order)}
    total = exact(earned.sum(axis=1)) + nan
    verdict = fn(dims, np.where(ok, total, 0.0), dim_max, dict(rule.params), where)
    literate = np.where(ok, verdict, None).astype(object)
    bench_ids = (sorted({b.id for b in frameworks.benchmarks}) if frameworks is not None
                 else sorted({b for it in iset.items for b in it.benchmarks}))
    b_inc = np.array([[b in it.benchmarks for b in bench_ids] for it in iset.items], dtype=np.float64)
    b_max = iset.points @ b_inc
    b_earned = earned @ b_inc
    with np.errstate(invalid="ignore", divide="ignore"):
        shares = np.where(b_max > 0, b_earned / np.where(b_max > 0, b_max, 1.0), np.nan)
    bench = {b: exact(shares[:, j]) + nan for j, b in enumerate(bench_ids)}
    return Scored(respondent_ids=respondent_ids, scored=ok, n_missing=n_missing, dims=dims, total=total,
                  level=classify(total, rule.levels), literate=literate, bench=bench, earned=earned,
                  correct=correct)


def scores_frame(s: Scored) -> pd.DataFrame:
    """The SCORES table (pipeline.schemas.SCORES)."""
    out = pd.DataFrame({
        "respondent_id": pd.array(s.respondent_ids.astype(str), dtype="str"),
        "scored": s.scored,
        "n_missing": s.n_missing,
    })
    for d in ("knowledge", "methods", "spirit", "ability"):
        out[d] = s.dims.get(d, np.full(len(out), np.nan))
    out["total"] = s.total
    out["level"] = pd.array(s.level, dtype="str")
    out["literate"] = pd.array(s.literate, dtype="boolean")
    for b, v in s.bench.items():
        out[f"bench_{b:02d}"] = v
    return out


def item_scores_frame(s: Scored, iset: ItemSet) -> pd.DataFrame:
    """The ITEM_SCORES table, long, built already in key order.

    Ids are categorical with sorted categories: a 60-million-row table then sorts on integer codes and
    is written dictionary-encoded, instead of materialising and sorting 60 million strings.
    """
    n, k = s.correct.shape
    ids = s.respondent_ids.astype(str)
    i_order = np.argsort(np.array(iset.ids, dtype=str), kind="stable")
    if n < 2 or bool(np.all(ids[:-1] < ids[1:])):  # run_score hands rows over sorted already
        r_order = np.arange(n)
        correct = s.correct[:, i_order]
    else:
        r_order = np.argsort(ids, kind="stable")
        correct = s.correct[np.ix_(r_order, i_order)]
    ids_sorted = ids[r_order]
    items_sorted = np.array(iset.ids, dtype=str)[i_order]
    rid = pd.Categorical.from_codes(np.repeat(np.arange(n, dtype=np.int32), k),
                                    categories=pd.Index(ids_sorted, dtype="str"))
    iid = pd.Categorical.from_codes(np.tile(np.arange(k, dtype=np.int32), n),
                                    categories=pd.Index(items_sorted, dtype="str"))
    c = correct.ravel()
    pts = np.tile(iset.points[i_order], n)
    return pd.DataFrame({"respondent_id": rid, "item_id": iid, "score": exact(c * pts), "correct": c})
