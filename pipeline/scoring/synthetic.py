"""Synthetic answers from a two-parameter logistic (2PL) model, for tests, benchmarks and studies.

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
import pandas as pd

from pipeline.scoring.items import ANSWERED, DONT_KNOW, REFUSED, SKIPPED, ItemSet
from pipeline.vocabulary import counties


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
             unscored_share: float = 0.0, b_override: Mapping[str, float] | None = None) -> Simulated:
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
    ids = np.array([f"R{j:07d}" for j in range(n)], dtype=object)
    return Simulated(ids, theta, a, b, chosen, status)


def respondents_frame(ids: np.ndarray, seed: int, wave: int = 2024) -> pd.DataFrame:
    """A respondents table satisfying the RESPONDENTS contract, with sex and urban drawn at random."""
    rng = np.random.default_rng(seed)
    n = len(ids)
    unit = counties().units[0]  # every respondent in one county-level unit
    age = rng.integers(18, 70, size=n)
    bands = np.array(["18-29", "30-39", "40-49", "50-59", "60-69"], dtype=object)
    return pd.DataFrame({
        "respondent_id": pd.array(np.asarray(ids, dtype=str), dtype="str"),
        "wave": np.full(n, wave, dtype=np.int64),
        "county_code": pd.array(np.full(n, unit.code), dtype="str"),
        "county": pd.array(np.full(n, unit.name_zh), dtype="str"),
        "stratum": pd.array(np.full(n, unit.code), dtype="str"),
        "psu": pd.array([f"P{j % 40:02d}" for j in range(n)], dtype="str"),
        "ssu": pd.array([f"S{j % 200:03d}" for j in range(n)], dtype="str"),
        "p_psu": rng.uniform(0.05, 0.5, size=n),
        "p_ssu": rng.uniform(0.1, 0.6, size=n),
        "p_hh": rng.uniform(0.005, 0.05, size=n),
        "n_adults": rng.integers(1, 6, size=n).astype(np.int64),
        "sex": pd.array(np.where(rng.random(n) < 0.5, "男", "女"), dtype="str"),
        "age": age.astype(np.int64),
        "age_band": pd.array(bands[np.minimum((age - 20) // 10, 4).clip(0)], dtype="str"),
        "education": pd.array(np.full(n, "初中"), dtype="str"),
        "urban": pd.array(np.where(rng.random(n) < 0.6, "城镇", "乡村"), dtype="str"),
        "occupation": pd.array(np.full(n, "生产制造、运输及建筑业人员"), dtype="str"),
        "hukou": pd.array(np.full(n, "本地农业户口"), dtype="str"),
        "interviewer_id": pd.array([f"I{j % 30:02d}" for j in range(n)], dtype="str"),
        "interview_minutes": rng.uniform(15, 60, size=n),
        "is_farmer": np.zeros(n, dtype=bool),
        "is_worker": np.ones(n, dtype=bool),
        "is_elderly": age >= 60,
        "is_official": np.zeros(n, dtype=bool),
    })
