"""Respondent scores: dimensions, total, benchmark shares, class and literacy verdict.

Missing items (refused, skipped, no row). A respondent with more missing items than
max_missing_items (or a larger missing share than max_missing_share, when set) is unscored: scored is
False and every score is missing, so that the respondent is never counted as a zero. A scored
respondent's missing items within that allowance earn 0 points, as the national survey treats an
unanswered test question; n_missing says how many there were. The item-level table keeps those
cells missing (score and correct are NaN) so the distinction is not lost.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
import pandas as pd

from pipeline.errors import SpecError
from pipeline.instruments.model import Frameworks, ScoringRule
from pipeline.scoring.items import ItemSet
from pipeline.scoring.rules import check_levels, classify, exact, rule_function

BLOCK_ROWS = 1 << 15  # rows scored at a time: the block's float matrix stays in cache


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
    codes: np.ndarray  # (n, k) answer codes (pipeline.scoring.items), all rows, scored or not
    raw_total: np.ndarray  # (n,) points before rounding, missing cells 0: what item statistics rank by


def missing_counts(iset: ItemSet, codes: np.ndarray) -> np.ndarray:
    """Missing items (refused, skipped, no row) per respondent, from the answer codes."""
    missing = np.isnan(iset.flat_credit)
    out = np.empty(codes.shape[0], dtype=np.int64)
    for r in range(0, codes.shape[0], BLOCK_ROWS):
        out[r:r + BLOCK_ROWS] = np.count_nonzero(missing[codes[r:r + BLOCK_ROWS]], axis=1)
    return out


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


def score(iset: ItemSet, codes: np.ndarray, respondent_ids: np.ndarray, rule: ScoringRule,
          frameworks: Frameworks | None = None, where: str = "scoring.yaml") -> Scored:
    """Score every respondent from the answer codes (see pipeline.scoring.items.answer_codes).

    Points are worked out a block of rows at a time, so no n × k float matrix is ever held; each row's
    sum is the same sum over the same row of points as one whole-matrix pass."""
    check_levels(rule, where)
    fn = rule_function(rule, where)
    n, k = codes.shape
    dims_order = dimension_order(iset, frameworks)
    incidence = np.array([[it.dimension == d for d in dims_order] for it in iset.items], dtype=np.float64)
    dim_max = dict(zip(dims_order, iset.points @ incidence, strict=True))
    if frameworks is not None:
        for d in frameworks.dimensions:
            if d.id in dim_max and abs(dim_max[d.id] - d.points) > 1e-9:
                raise SpecError(f"{where}: dimension {d.id} carries {dim_max[d.id]:g} points in the instrument "
                                f"but {d.points:g} in frameworks.yaml; correct the item points.")
    bench_ids = (sorted({b.id for b in frameworks.benchmarks}) if frameworks is not None
                 else sorted({b for it in iset.items for b in it.benchmarks}))
    b_inc = np.array([[b in it.benchmarks for b in bench_ids] for it in iset.items], dtype=np.float64)
    b_max = iset.points @ b_inc
    flat_earned = iset.flat_earned()
    n_missing = missing_counts(iset, codes)
    raw_total = np.empty(n)
    # per dimension and benchmark one contiguous row, so rounding and writing read it in order
    dim_points = np.empty((len(dims_order), n))
    shares = np.empty((len(bench_ids), n))
    has_points = b_max > 0
    b_div = np.where(has_points, b_max, 1.0)
    for r in range(0, n, BLOCK_ROWS):
        block = codes[r:r + BLOCK_ROWS]
        earned = flat_earned[block]
        raw_total[r:r + BLOCK_ROWS] = earned.sum(axis=1)
        dim_points[:, r:r + BLOCK_ROWS] = (earned @ incidence).T
        shares[:, r:r + BLOCK_ROWS] = np.where(has_points, (earned @ b_inc) / b_div, np.nan).T
    ok = scored_mask(n_missing, k, rule)
    nan = np.where(ok, 0.0, np.nan)  # adds NaN to unscored rows
    dims = {d: exact(dim_points[j]) + nan for j, d in enumerate(dims_order)}
    total = exact(raw_total) + nan
    verdict = fn(dims, np.where(ok, total, 0.0), dim_max, dict(rule.params), where)
    literate = np.where(ok, verdict, None).astype(object)
    bench = {b: exact(shares[j]) + nan for j, b in enumerate(bench_ids)}
    return Scored(respondent_ids=respondent_ids, scored=ok, n_missing=n_missing, dims=dims, total=total,
                  level=classify(total, rule.levels), literate=literate, bench=bench, codes=codes,
                  raw_total=raw_total)


def scores_frame(s: Scored) -> pd.DataFrame:
    """The SCORES table (pipeline.schemas.SCORES)."""
    n = s.scored.size
    columns = {
        "respondent_id": pd.array(s.respondent_ids, dtype="str"),
        "scored": s.scored,
        "n_missing": s.n_missing,
        **{d: s.dims.get(d, np.full(n, np.nan)) for d in ("knowledge", "methods", "spirit", "ability")},
        "total": s.total,
        "level": pd.array(s.level, dtype="str"),
        "literate": pd.array(s.literate, dtype="boolean"),
        **{f"bench_{b:02d}": v for b, v in s.bench.items()},
    }
    return pd.DataFrame(columns, copy=False)  # the arrays are the frame's own: no copy into blocks


def item_scores_frame(s: Scored, iset: ItemSet) -> pd.DataFrame:
    """The ITEM_SCORES table in one piece (see item_scores_pieces)."""
    return next(item_scores_pieces(iset, s.codes, s.respondent_ids, max(s.codes.size, 1)))


def item_scores_pieces(iset: ItemSet, codes: np.ndarray, respondent_ids: np.ndarray,
                       rows: int) -> Iterator[pd.DataFrame]:
    """The ITEM_SCORES table, long, in key order, in pieces of `rows` rows (the last one shorter), each
    made from the answer codes when it is asked for, so the 68-million-row table is never held whole.

    Ids are categorical with sorted categories: a 60-million-row table then checks its order on integer
    codes and is written dictionary-encoded, instead of materialising 60 million strings.
    """
    n, k = codes.shape
    ids = respondent_ids.astype(str)
    i_order = np.argsort(np.array(iset.ids, dtype=str), kind="stable")
    r_order = None if n < 2 or bool(np.all(ids[:-1] < ids[1:])) else np.argsort(ids, kind="stable")
    ids_sorted = ids if r_order is None else ids[r_order]  # run_score hands rows over sorted already
    rid_type = pd.CategoricalDtype(pd.Index(ids_sorted, dtype="str"))
    iid_type = pd.CategoricalDtype(pd.Index(np.array(iset.ids, dtype=str)[i_order], dtype="str"))
    # codes made in range and in the width pandas gives them (which the file's index type follows), so
    # from_codes need not check them again piece by piece; the piece writer still refuses a missing id
    rid_codes, iid_codes = (pd.Categorical.from_codes(np.zeros(0, dtype=np.int32), dtype=t).codes.dtype
                            for t in (rid_type, iid_type))
    # a cell's score is a function of its answer code alone, so it is looked up, rounded once per code
    sizes = np.diff(np.append(iset.offsets, iset.flat_credit.size))
    flat_score = exact(iset.flat_credit * np.repeat(iset.points, sizes))
    for start in range(0, max(n * k, 1), rows):
        stop = min(start + rows, n * k)
        r0, r1 = start // k, -(-stop // k)  # the respondents the piece's rows belong to
        cut = slice(start - r0 * k, stop - r0 * k)
        block = codes[r0:r1] if r_order is None else codes[r_order[r0:r1]]
        cell = block[:, i_order].ravel()[cut]
        rid = pd.Categorical.from_codes(np.repeat(np.arange(r0, r1, dtype=rid_codes), k)[cut], dtype=rid_type,
                                        validate=False)
        iid = pd.Categorical.from_codes(np.tile(np.arange(k, dtype=iid_codes), r1 - r0)[cut], dtype=iid_type,
                                        validate=False)
        # copy=False: the piece's fresh arrays become its columns as they are, not copied into one block
        yield pd.DataFrame({"respondent_id": rid, "item_id": iid, "score": flat_score[cell],
                            "correct": iset.flat_credit[cell]}, copy=False)
