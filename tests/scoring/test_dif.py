"""Mantel–Haenszel DIF: a hand-worked 2×2×K example, R's mantelhaen.test, the ETS classes."""

from fractions import Fraction as F
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from pipeline.scoring import dif
from pipeline.scoring.item_stats import focal_codes

GOLDEN = Path(__file__).resolve().parents[1] / "data" / "golden" / "scoring"


def test_hand_worked_two_strata():
    # stratum 1: ref 10 right / 5 wrong, focal 6 / 9 (N 30); stratum 2: ref 8 / 2, focal 5 / 5 (N 20)
    tables = np.array([[10, 5, 6, 9], [8, 2, 5, 5]], dtype=float)
    res = dif.mantel_haenszel(tables)
    # α = Σ AD/N / Σ BC/N = (90/30 + 40/20) / (30/30 + 10/20) = 5 / 1.5
    assert res["alpha_mh"] == pytest.approx(10 / 3, abs=1e-12)
    # E(A1) = 15·16/30 = 8, Var(A1) = 15·15·16·14/(30²·29); E(A2) = 10·13/20 = 6.5, Var(A2) = 10·10·13·7/(20²·19)
    # ΣA − ΣE = 18 − 14.5 = 3.5; χ² = (3.5 − 0.5)² / (Var1 + Var2)
    var = F(15 * 15 * 16 * 14, 900 * 29) + F(10 * 10 * 13 * 7, 400 * 19)
    assert res["chi2"] == pytest.approx(float(F(9) / var), abs=1e-12)
    # RBG: P = (A+D)/N, Q = (B+C)/N, R = AD/N, S = BC/N
    p, q, r, s = [F(19, 30), F(13, 20)], [F(11, 30), F(7, 20)], [F(3), F(2)], [F(1), F(1, 2)]
    sr, ss = sum(r), sum(s)
    v = (sum(pi * ri for pi, ri in zip(p, r, strict=True)) / (2 * sr**2)
         + sum(pi * si + qi * ri for pi, si, qi, ri in zip(p, s, q, r, strict=True)) / (2 * sr * ss)
         + sum(qi * si for qi, si in zip(q, s, strict=True)) / (2 * ss**2))
    assert res["ln_alpha_se"] == pytest.approx(float(v) ** 0.5, abs=1e-12)
    out = dif.summarise(res)
    assert out["d_dif"] == pytest.approx(-2.35 * np.log(10 / 3), abs=1e-12)  # ≈ −2.83: harder for the focal group


@pytest.mark.parametrize("case, tables_file", [("simulated", "mh_tables.csv"), ("small", "mh_tables_small.csv")])
def test_against_r_mantelhaen(case, tables_file):
    """Golden numbers from R's mantelhaen.test (tests/data/golden/scoring/make_golden.R); the small case has
    |Σ A − Σ E(A)| < 0.5, where R drops the continuity correction."""
    tables = pd.read_csv(GOLDEN / tables_file)[["A", "B", "C", "D"]].to_numpy(dtype=float)
    gold = pd.read_csv(GOLDEN / "mh_golden.csv").set_index("case").loc[case]
    res = dif.mantel_haenszel(tables)
    for key in ("alpha_mh", "chi2", "p_value", "ln_alpha_se"):
        assert res[key] == pytest.approx(gold[key], abs=1e-8), key


def test_tables_from_respondents():
    # stratum 0: ref right, ref wrong, focal right; stratum 1: focal wrong ×2; a single-person stratum 2
    y = np.array([1, 0, 1, 0, 0, 1])
    focal = np.array([0, 0, 1, 1, 1, 0])
    strata = np.array([0, 0, 0, 1, 1, 2])
    t = dif.mh_tables(y, focal, strata)
    np.testing.assert_array_equal(t, [[1, 1, 1, 0], [0, 0, 0, 2], [1, 0, 0, 0]])


def test_dif_table_matches_item_by_item():
    rng = np.random.default_rng(3)
    n, k = 400, 5
    earned = (rng.random((n, k)) < 0.6) * np.array([1, 2, 1.25, 1, 2.5])
    full = earned > 0
    groups = rng.choice(np.array(["男", "女", "其他"], dtype=object), size=n, p=[0.45, 0.45, 0.1])
    f = focal_codes(groups, "男", "女")
    res = dif.dif_table(earned, full, f)
    use = f >= 0
    for i in range(k):
        strata = np.rint(earned[use].sum(axis=1) - earned[use, i]).astype(int)
        one = dif.dif_item(full[use, i], f[use], strata)
        assert res[i]["alpha_mh"] == pytest.approx(one["alpha_mh"], abs=1e-12)
        assert res[i]["chi2"] == pytest.approx(one["chi2"], abs=1e-12)
        assert res[i]["n"] == use.sum()


@pytest.mark.parametrize("d, se, p, expected", [
    (-0.9, 0.1, 0.001, "A"),  # |D| < 1
    (-1.2, 0.1, 0.20, "A"),  # not significant
    (-1.2, 0.1, 0.01, "B"),  # 1 ≤ |D| < 1.5, significant
    (-1.6, 0.2, 0.001, "C"),  # (1.6 − 1)/0.2 = 3 > 1.645
    (1.6, 0.5, 0.001, "B"),  # (1.6 − 1)/0.5 = 1.2 ≤ 1.645: not significantly above 1
    (1.5, 0.1, 0.001, "C"),  # |D| = 1.5 is inclusive
    (1.49, 0.01, 0.001, "B"),
    (float("nan"), 0.1, 0.01, None),
])
def test_ets_classes(d, se, p, expected):
    assert dif.ets_class(d, se, p) == expected


def test_planted_dif_reaches_class_c():
    """An item 1.2 logits harder for the focal group only, on a Rasch-type test of 20 items."""
    rng = np.random.default_rng(5)
    n, k = 4000, 20
    focal = (rng.random(n) < 0.5).astype(int)
    theta = rng.standard_normal(n) - 0.3 * focal
    b = np.linspace(-1.5, 1.5, k)
    logit = theta[:, None] - b
    logit[:, 4] -= 1.2 * focal
    right = rng.random((n, k)) < 1 / (1 + np.exp(-logit))
    res = dif.dif_table(right.astype(float), right, focal)
    classes = [r["class"] for r in res]
    assert classes[4] == "C" and res[4]["d_dif"] < -1.5
    assert classes.count("C") == 1
