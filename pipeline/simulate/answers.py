"""Synthetic answers from a two-parameter logistic (2PL) model, for tests, benchmarks and studies
(the demo delivery's answers are pipeline/simulate/literacy.py's; the respondents who give these are
pipeline.simulate.synthetic's).

P(right | θ) = 1 / (1 + exp(−a (θ − b))). A respondent who gets an item right picks the true answer
(the key, unless `true_keys` plants a different one, which is how a key error is simulated); otherwise
a single/true-false item gets a uniformly drawn other option and a multiple-answer item the true set
with each option flipped with probability 0.3 (at least one flip). Some wrong answers are "不知道" and a
few cells are refused or skipped. Everything is vectorised and driven by one seeded generator.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from pipeline.scoring.items import ANSWERED, DONT_KNOW, REFUSED, SKIPPED, ItemSet


@dataclass(frozen=True)
class Simulated:
    respondent_ids: np.ndarray
    theta: np.ndarray
    a: np.ndarray
    b: np.ndarray
    chosen: np.ndarray  # (n, k) option masks
    status: np.ndarray  # (n, k)


def simulate(iset: ItemSet, n: int, seed: int, *, true_keys: Mapping[str, Sequence[int]] | None = None,
             theta_shift: np.ndarray | None = None, p_dont_know: float = 0.08, p_missing: float = 0.01,
             a_range: tuple[float, float] = (0.8, 2.0), b_range: tuple[float, float] = (-2.0, 1.0),
             unscored_share: float = 0.0, b_override: Mapping[str, float] | None = None,
             respondent_ids: Sequence[str] | None = None) -> Simulated:
    """Answers of n respondents to the items of `iset`; `respondent_ids` names them (R0000000 … by
    default), e.g. those of synthetic.scoring_respondents(n, …), without changing a single draw."""
    rng = np.random.default_rng(seed)
    k = iset.k
    theta = rng.standard_normal(n) + (0.0 if theta_shift is None else theta_shift)
    a = rng.uniform(*a_range, size=k)
    b = rng.uniform(*b_range, size=k)
    for item_id, value in (b_override or {}).items():
        b[iset.ids.index(item_id)] = value
    p = 1.0 / (1.0 + np.exp(-a * (theta[:, None] - b)))
    right = rng.random((n, k)) < p
    chosen = np.zeros((n, k), dtype=np.int32)
    true_keys = dict(true_keys or {})
    for i, it in enumerate(iset.items):
        m = len(it.options)
        codes = list(it.option_codes)
        truth = sum(1 << codes.index(c) for c in true_keys.get(it.id, it.key))
        if it.type == "multiple":
            flips = (rng.random((n, m)) < 0.3) @ (1 << np.arange(m))
            none = flips == 0
            flips[none] = 1 << rng.integers(0, m, size=int(none.sum()))
            wrong = truth ^ flips
        else:
            true_bit = truth.bit_length() - 1
            other = rng.integers(0, m - 1, size=n)
            other = np.where(other >= true_bit, other + 1, other)
            wrong = 1 << other
        chosen[:, i] = np.where(right[:, i], truth, wrong)
    status = np.full((n, k), ANSWERED, dtype=np.int8)
    dk = ~right & (rng.random((n, k)) < p_dont_know)
    status[dk] = DONT_KNOW
    miss = rng.random((n, k)) < p_missing
    status[miss] = np.where(rng.random(int(miss.sum())) < 0.5, REFUSED, SKIPPED)
    if unscored_share > 0:
        heavy = rng.random(n) < unscored_share
        status[heavy, : max(1, k // 4)] = SKIPPED
    chosen[status != ANSWERED] = 0
    if respondent_ids is None:
        ids = np.array([f"R{j:07d}" for j in range(n)], dtype=object)
    else:
        ids = np.asarray(respondent_ids, dtype=object)
        if ids.shape != (n,):
            raise ValueError(f"{ids.size} respondent ids for {n} respondents")
    return Simulated(ids, theta, a, b, chosen, status)
