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

import numpy as np
import pandas as pd

from pipeline.scoring.items import ANSWERED, DONT_KNOW, ItemSet

HIGH_GROUP_QUANTILE = 0.73


def covariance(x: np.ndarray) -> np.ndarray:
    """Sample covariance (ddof = 1) of the columns of x, centred first for accuracy."""
    n = x.shape[0]
    if n < 2:
        return np.full((x.shape[1], x.shape[1]), np.nan)
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


def reliability(iset: ItemSet, earned: np.ndarray, correct01: np.ndarray, cov: np.ndarray,
                groups: np.ndarray) -> dict[str, dict[str, float]]:
    """Alpha and KR-20 per dimension and for the whole test ('total')."""
    out: dict[str, dict[str, float]] = {}
    for g in [*dict.fromkeys(groups.tolist()), "total"]:
        idx = np.arange(iset.k) if g == "total" else np.flatnonzero(groups == g)
        dich = bool(iset.dichotomous[idx].all())
        out[str(g)] = {
            "alpha": alpha_from_cov(cov[np.ix_(idx, idx)]),
            "kr20": kr20(correct01[:, idx]) if dich else float("nan"),
            "n_items": float(idx.size),
        }
    return out


def item_major(a: np.ndarray, block: int = 2048) -> np.ndarray:
    """a.T as a C-ordered copy, transposed in row blocks that stay in cache (about twice as fast as
    numpy's one-shot copy on a million-row matrix)."""
    out = np.empty((a.shape[1], a.shape[0]), dtype=a.dtype)
    for r in range(0, a.shape[0], block):
        out[:, r:r + block] = a[r:r + block].T
    return out


def _option_shares(chosen: np.ndarray, m: int) -> np.ndarray:
    """Share of the group choosing each of the m options (don't know and missing choose none)."""
    if chosen.size == 0:
        return np.full(m, np.nan)
    per_mask = np.bincount(chosen, minlength=2**m)[: 2**m]  # chosen is 0 unless answered
    masks = np.arange(2**m)
    return np.array([per_mask[(masks >> j) & 1 == 1].sum() for j in range(m)]) / chosen.size


def key_check(iset: ItemSet, chosen: np.ndarray, status: np.ndarray, earned: np.ndarray) -> pd.DataFrame:
    """Option choice in the high and low groups and the likely-key-error flag, one row per item.

    An item is flagged when some non-key option is (a) chosen by more high scorers than the key and
    (b) discriminates better than the key: its high-minus-low share exceeds the key's. (a) is the
    classical sign of a key error; (b) keeps very hard items whose key still works from being
    flagged: on a hard true/false item most high scorers who miss it land on the one other option,
    yet the key is chosen far more by high than by low scorers. When the key is wrong the true
    answer rises steeply with the rest score and the key does not. For multiple-answer items the
    key's share is that of its least-chosen key option.
    """
    n, k = earned.shape
    rows = []
    total = earned.sum(axis=1)
    # item-major copies: every per-item step below then reads contiguous memory; choices are zeroed
    # where the item was not answered (don't know, missing), so a choice always means an answer
    chosen_t = item_major(np.where(status == ANSWERED, chosen, 0))
    earned_t = item_major(earned)
    for i, it in enumerate(iset.items):
        m = len(it.options)
        rest = total - earned_t[i]
        if n:
            q_low, q_high = np.quantile(rest, [1 - HIGH_GROUP_QUANTILE, HIGH_GROUP_QUANTILE])
            high = rest >= q_high
            low = rest <= q_low
        else:
            high = low = np.zeros(0, dtype=bool)
        sh = _option_shares(chosen_t[i][high], m)
        sl = _option_shares(chosen_t[i][low], m)
        key_mask = np.array([(int(iset.key_bits[i]) >> j) & 1 for j in range(m)], dtype=bool)
        kj = int(np.flatnonzero(key_mask)[np.argmin(sh[key_mask])]) if n else 0
        distractors = np.flatnonzero(~key_mask)
        top = int(distractors[np.argmax(sh[distractors])]) if distractors.size and n else None
        suspects = [j for j in distractors if n and sh[j] > sh[kj] and sh[j] - sl[j] > sh[kj] - sl[kj]]
        flagged = max(suspects, key=lambda j: sh[j]) if suspects else None
        rows.append({
            "item_id": it.id,
            "n_high": int(high.sum()),
            "n_low": int(low.sum()),
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


def descriptives(iset: ItemSet, correct: np.ndarray, status: np.ndarray, weight: np.ndarray) -> pd.DataFrame:
    """n (answered incl. don't know), unweighted and design-weighted share correct, per item."""
    answered = status <= DONT_KNOW
    c = np.fmax(correct, 0.0)  # missing (NaN) → 0; don't know is already 0
    n = np.count_nonzero(answered, axis=0)
    # einsum casts in small buffers instead of materialising a float copy of the n × k mask
    w_ans = np.einsum("i,ij->j", weight, answered, casting="unsafe", dtype=np.float64)
    with np.errstate(invalid="ignore", divide="ignore"):
        p = np.where(n > 0, c.sum(axis=0) / np.maximum(n, 1), np.nan)
        pw = np.where(w_ans > 0, (weight @ c) / np.where(w_ans > 0, w_ans, 1.0), np.nan)
    n_dk = np.count_nonzero(status == DONT_KNOW, axis=0)
    return pd.DataFrame({
        "item_id": list(iset.ids),
        "n": n.astype(np.int64),
        "n_dont_know": n_dk.astype(np.int64),
        "n_missing": (status.shape[0] - n).astype(np.int64),
        "p_correct": p,
        "p_correct_weighted": pw,
    })
