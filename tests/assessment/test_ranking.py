"""County ranking uncertainty: seeded, exact when counties are far apart, even when they are not."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from pipeline.assessment.ranking import rank_distribution, rank_table


def _rows(est, se):
    return pd.DataFrame({"wave": 2025, "domain": [f"c{i}" for i in range(len(est))], "est": est, "se": se})


def test_far_apart_counties_have_certain_ranks():
    # 30%, 20%, 10% with SE 0.1 points: any draw keeps the order, so every rank interval is one place
    t = rank_table(_rows([0.10, 0.30, 0.20], [0.001] * 3), draws=2000, seed=1, interval=0.9)
    assert t["domain"].tolist() == ["c1", "c2", "c0"]
    assert t["rank_lo"].tolist() == [1, 2, 3] and t["rank_hi"].tolist() == [1, 2, 3]
    assert t["p_first"].tolist() == [1.0, 0.0, 0.0]


def test_indistinguishable_counties_share_first_place():
    # two equal estimates with equal SEs: each is first half of the time (binomial SE 0.005 at 10,000 draws)
    t = rank_table(_rows([0.15, 0.15], [0.02, 0.02]), draws=10000, seed=7, interval=0.9)
    assert t["p_first"].to_numpy() == pytest.approx([0.5, 0.5], abs=0.02)
    assert (t["rank_lo"] == 1).all() and (t["rank_hi"] == 2).all()
    assert t["p_top3"].tolist() == [1.0, 1.0]


def test_seeded_and_ranks_are_permutations():
    a = rank_distribution([0.1, 0.12, 0.11, 0.2], [0.02, 0.02, 0.02, 0.02], 500, 3)
    b = rank_distribution([0.1, 0.12, 0.11, 0.2], [0.02, 0.02, 0.02, 0.02], 500, 3)
    assert np.array_equal(a, b)
    assert (np.sort(a, axis=1) == np.arange(1, 5)).all()
