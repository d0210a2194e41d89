"""Classical item analysis: difficulty, discrimination, reliability and key checks.

Population: the scored respondents, with their in-allowance missing items at 0 points, i.e. exactly
the scores that are reported. Every statistic comes from one covariance matrix of the item scores
(points), so a million respondents cost one k × k matrix product.

- point_biserial: corrected item–rest correlation, corr(item credit, total of all other items in
  points). Credit and points differ by a positive factor, so it equals corr(points, rest).
- alpha (per dimension and whole test): Cronbach's alpha of the item scores in points, i.e. the
  reliability of the score as reported: k/(k−1) · (1 − Σ var(x_j) / var(Σ x_j)).
- alpha_if_deleted: alpha of the item's own dimension without the item.
- kr20: Kuder–Richardson 20 on right/wrong (unit-weighted) items: k/(k−1) · (1 − Σ p_j q_j / σ²_X),
  σ²_X the population variance of the number right. Only defined when every item of the set is
  dichotomous (no partial credit); NaN otherwise. It differs from alpha when item points differ.
- flag_key_error: among high scorers (rest score at or above its 73rd percentile: the classical top
  27%, ties included so the group does not depend on row order), a non-key option is chosen more
  often than the key, and it separates high from low scorers (bottom 27%) better than the key does;
  see key_check.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
import pandas as pd

from pipeline.scoring.items import ItemSet

HIGH_GROUP_QUANTILE = 0.73
MAX_PLAIN_SLOTS = 66  # items of up to 6 options count every answer code; larger ones only those found


def covariance(x: np.ndarray, overwrite: bool = False) -> np.ndarray:
    """Sample covariance (ddof = 1) of the columns of x, centred first for accuracy; with `overwrite`,
    centred in place (x is then spent), so a million-row matrix is not held twice."""
    n = x.shape[0]
    if n < 2:
        return np.full((x.shape[1], x.shape[1]), np.nan)
    if overwrite:
        x -= x.mean(axis=0)
        xc = x
    else:
        xc = x - x.mean(axis=0)
    return (xc.T @ xc) / (n - 1)


def alpha_from_cov(cov: np.ndarray) -> float:
    m = cov.shape[0]
    total_var = cov.sum()
    if m < 2 or not total_var > 0:
        return float("nan")
    return float(m / (m - 1) * (1 - np.trace(cov) / total_var))


def cronbach_alpha(x: np.ndarray) -> float:
    return alpha_from_cov(covariance(np.asarray(x, dtype=np.float64)))


def kr20(c: np.ndarray) -> float:
    """KR-20 of a 0/1 matrix (respondents × items)."""
    c = np.asarray(c, dtype=np.float64)
    n, m = c.shape
    if m < 2 or n < 2:
        return float("nan")
    p = c.mean(axis=0)
    var_total = c.sum(axis=1).var()  # population variance, as in Kuder & Richardson (1937)
    if not var_total > 0:
        return float("nan")
    return float(m / (m - 1) * (1 - (p * (1 - p)).sum() / var_total))


def item_rest_correlation(cov: np.ndarray) -> np.ndarray:
    """corr(x_i, T − x_i) for every item i, from the covariance matrix of the items."""
    rowsum = cov.sum(axis=1)
    d = np.diag(cov)
    cov_rest = rowsum - d
    var_rest = cov.sum() - 2 * rowsum + d
    with np.errstate(invalid="ignore", divide="ignore"):
        r = cov_rest / np.sqrt(d * var_rest)
    return np.where((d > 0) & (var_rest > 0), r, np.nan)


def alpha_if_deleted(cov: np.ndarray, groups: np.ndarray) -> np.ndarray:
    """Alpha of each item's group (dimension) with that item left out."""
    k = cov.shape[0]
    out = np.full(k, np.nan)
    for g in np.unique(groups):
        idx = np.flatnonzero(groups == g)
        sub = cov[np.ix_(idx, idx)]
        m = idx.size - 1
        if m < 2:
            continue
        rowsum = sub.sum(axis=1)
        d = np.diag(sub)
        var_rest = sub.sum() - 2 * rowsum + d
        sum_var = np.trace(sub) - d
        with np.errstate(invalid="ignore", divide="ignore"):
            a = m / (m - 1) * (1 - sum_var / var_rest)
        out[idx] = np.where(var_rest > 0, a, np.nan)
    return out


def _parts(iset: ItemSet, groups: np.ndarray) -> Iterator[tuple[str, np.ndarray]]:
    """(name, item positions) of every dimension in first-seen order, then of the whole test ('total')."""
    for g in [*dict.fromkeys(groups.tolist()), "total"]:
        yield str(g), np.arange(iset.k) if g == "total" else np.flatnonzero(groups == g)


def kr20_by_group(iset: ItemSet, correct01: np.ndarray, groups: np.ndarray) -> dict[str, float]:
    """KR-20 per dimension and for the whole test ('total'); NaN where an item gives partial credit."""
    out = {}
    for g, idx in _parts(iset, groups):
        if not bool(iset.dichotomous[idx].all()):
            out[g] = float("nan")
            continue
        # a dimension's items usually stand together: a view of their columns instead of a copy
        together = idx.size > 0 and bool((np.diff(idx) == 1).all())
        out[g] = kr20(correct01[:, idx[0]:idx[-1] + 1] if together else correct01[:, idx])
    return out


def reliability(iset: ItemSet, cov: np.ndarray, groups: np.ndarray,
                kr20s: dict[str, float]) -> dict[str, dict[str, float]]:
    """Alpha (from the covariance of the item scores) and KR-20 (kr20_by_group) per dimension and total."""
    out: dict[str, dict[str, float]] = {}
    for g, idx in _parts(iset, groups):
        out[g] = {"alpha": alpha_from_cov(cov[np.ix_(idx, idx)]), "kr20": kr20s[g], "n_items": float(idx.size)}
    return out


def quantile_of_counts(values: np.ndarray, counts: np.ndarray, q: float) -> float:
    """np.quantile (method 'linear') of the sample that holds values[i] counts[i] times (values sorted
    ascending), to the last bit: the same virtual index, neighbours and interpolation as NumPy's."""
    cum = np.cumsum(counts)
    n = int(cum[-1])
    virtual = (n - 1) * np.float64(q)
    if virtual >= n - 1:
        return float(values[np.searchsorted(cum, n - 1, side="right")])
    prev = np.floor(virtual)
    a = values[np.searchsorted(cum, int(prev), side="right")]
    b = values[np.searchsorted(cum, int(prev) + 1, side="right")]
    gamma = virtual - prev
    diff = b - a
    return float(b - diff * (1 - gamma) if gamma >= 0.5 else a + diff * gamma)


def item_major(a: np.ndarray, block: int = 4096) -> np.ndarray:
    """a.T as a C-ordered copy, transposed in row blocks that stay in cache (several times faster than
    numpy's one-shot copy on a million-row matrix)."""
    out = np.empty((a.shape[1], a.shape[0]), dtype=a.dtype)
    for r in range(0, a.shape[0], block):
        out[:, r:r + block] = a[r:r + block].T
    return out


@dataclass(frozen=True)
class ItemCells:
    """One item's respondents counted by (grouping codes, total score, answer slot): the answer slots are
    the item's answer codes that occur, so a million respondents become a few thousand cells."""

    counts: np.ndarray  # (3,) * n_groupings + (T, S) int64; grouping code + 1 (0 neither, 1 reference, 2 focal)
    rest: np.ndarray  # (T, S) total minus the item's points: the rest score of the cell
    mask: np.ndarray  # (S,) options chosen (0 for don't know and missing)
    credit: np.ndarray  # (S,) credit, missing as 0


def item_cells(iset: ItemSet, codes: np.ndarray, total: np.ndarray,
               focal: list[np.ndarray] | tuple[np.ndarray, ...] = ()) -> Iterator[ItemCells]:
    """ItemCells of every item in instrument order. total: each respondent's points (unrounded);
    focal: per grouping 0 reference, 1 focal, −1 in neither."""
    n, k = codes.shape
    values, t_code = np.unique(total, return_inverse=True)
    shape = (3,) * len(focal)
    g = np.zeros(n, dtype=np.int64)  # the grouping codes, outermost first: cell = ((g1 · 3 + g2) · T + t) · S + slot
    for f in focal:
        g = g * 3 + (np.asarray(f, dtype=np.int64) + 1)
    base = g * values.size + t_code.astype(np.int64).ravel()
    flat_earned, flat_credit = iset.flat_earned(), np.fmax(iset.flat_credit, 0.0)
    by_item = item_major(codes)
    scaled: dict[int, np.ndarray] = {}  # base · S, shared by the items with S answer slots
    for j in range(k):
        size = (1 << int(iset.n_options[j])) + 2
        local = by_item[j] - by_item.dtype.type(iset.offsets[j])  # the item's own codes 0 … size − 1
        if size <= MAX_PLAIN_SLOTS:  # every code its own slot: the empty slots count nothing
            present = np.arange(size)
        else:  # many options: only the codes that occur get a slot
            present = np.flatnonzero(np.bincount(local, minlength=size))
            slot = np.zeros(size, dtype=local.dtype)
            slot[present] = np.arange(present.size)
            local = slot[local]
        if present.size not in scaled:
            scaled[present.size] = base * present.size
        counts = np.bincount(np.add(scaled[present.size], local, dtype=np.int64),
                             minlength=3 ** len(focal) * values.size * present.size)
        at = int(iset.offsets[j]) + present
        mask = np.where(present < size - 2, present, 0)
        yield ItemCells(counts.reshape(*shape, values.size, present.size),
                        values[:, None] - flat_earned[at][None, :], mask, flat_credit[at])


def _option_shares(per_mask: np.ndarray, size: int, m: int) -> np.ndarray:
    """Share of a group of `size` choosing each of the m options, from its count per option mask."""
    if size == 0:
        return np.full(m, np.nan)
    masks = np.arange(2**m)
    return np.array([per_mask[(masks >> j) & 1 == 1].sum() for j in range(m)]) / size


def key_check(iset: ItemSet, cells: list[ItemCells]) -> pd.DataFrame:
    """Option choice in the high and low groups and the likely-key-error flag, one row per item.

    An item is flagged when some non-key option is (a) chosen by more high scorers than the key and
    (b) discriminates better than the key: its high-minus-low share exceeds the key's. (a) is the
    classical sign of a key error; (b) keeps very hard items whose key still works from being
    flagged: on a hard true/false item most high scorers who miss it land on the one other option,
    yet the key is chosen far more by high than by low scorers. When the key is wrong the true
    answer rises steeply with the rest score and the key does not. For multiple-answer items the
    key's share is that of its least-chosen key option. Groups and shares come from the item's cells
    (item_cells): the high group is every cell whose rest score reaches the quantile, so the counts
    are those of the respondents.
    """
    rows = []
    for i, (it, cell) in enumerate(zip(iset.items, cells, strict=True)):
        m = len(it.options)
        counts = cell.counts.reshape(-1, *cell.rest.shape).sum(axis=0)  # (T, S)
        n = int(counts.sum())
        if n:
            order = np.argsort(cell.rest, axis=None, kind="stable")
            values, weights = cell.rest.ravel()[order], counts.ravel()[order]
            q_low = quantile_of_counts(values, weights, 1 - HIGH_GROUP_QUANTILE)
            q_high = quantile_of_counts(values, weights, HIGH_GROUP_QUANTILE)
            high, low = cell.rest >= q_high, cell.rest <= q_low
        else:
            high = low = np.zeros(cell.rest.shape, dtype=bool)
        per_mask = {}
        for name, group in (("high", high), ("low", low)):
            per_mask[name] = np.zeros(2**m, dtype=np.int64)
            np.add.at(per_mask[name], cell.mask, (counts * group).sum(axis=0))
        n_high, n_low = int((counts * high).sum()), int((counts * low).sum())
        sh = _option_shares(per_mask["high"], n_high, m)
        sl = _option_shares(per_mask["low"], n_low, m)
        key_mask = np.array([(int(iset.key_bits[i]) >> j) & 1 for j in range(m)], dtype=bool)
        kj = int(np.flatnonzero(key_mask)[np.argmin(sh[key_mask])]) if n else 0
        distractors = np.flatnonzero(~key_mask)
        top = int(distractors[np.argmax(sh[distractors])]) if distractors.size and n else None
        suspects = [j for j in distractors if n and sh[j] > sh[kj] and sh[j] - sl[j] > sh[kj] - sl[kj]]
        flagged = max(suspects, key=lambda j: sh[j]) if suspects else None
        rows.append({
            "item_id": it.id,
            "n_high": n_high,
            "n_low": n_low,
            "high_share_key": sh[kj] if n else np.nan,
            "low_share_key": sl[kj] if n else np.nan,
            "top_distractor": None if top is None else it.options[top][0],
            "high_share_top_distractor": np.nan if top is None else sh[top],
            "low_share_top_distractor": np.nan if top is None else sl[top],
            "flag_key_error": flagged is not None,
            "key_error_option": None if flagged is None else it.options[flagged][0],
        })
    out = pd.DataFrame(rows)
    for col in ("top_distractor", "key_error_option"):
        out[col] = pd.array(out[col], dtype="Int64")
    return out


def descriptives(iset: ItemSet, codes: np.ndarray, correct01: np.ndarray, weight: np.ndarray) -> pd.DataFrame:
    """n (answered incl. don't know), unweighted and design-weighted share correct, per item.
    correct01: the credit matrix with missing as 0 (the same rows as codes)."""
    answered = ~np.isnan(iset.flat_credit)[codes]
    n = np.count_nonzero(answered, axis=0)
    # einsum casts in small buffers instead of materialising a float copy of the n × k mask
    w_ans = np.einsum("i,ij->j", weight, answered, casting="unsafe", dtype=np.float64)
    with np.errstate(invalid="ignore", divide="ignore"):
        p = np.where(n > 0, correct01.sum(axis=0) / np.maximum(n, 1), np.nan)
        pw = np.where(w_ans > 0, (weight @ correct01) / np.where(w_ans > 0, w_ans, 1.0), np.nan)
    n_dk = np.count_nonzero(codes == iset.dont_know_codes.astype(codes.dtype), axis=0)
    return pd.DataFrame({
        "item_id": list(iset.ids),
        "n": n.astype(np.int64),
        "n_dont_know": n_dk.astype(np.int64),
        "n_missing": (codes.shape[0] - n).astype(np.int64),
        "p_correct": p,
        "p_correct_weighted": pw,
    })
