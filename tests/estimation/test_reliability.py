"""NCHS 2017 decision steps for proportions and the CV rule for means, one case per branch."""

import numpy as np

from pipeline.estimation.reliability import mean_reliability, proportion_reliability


def _one(p, n, df, deff=1.0):
    se = np.sqrt(p * (1 - p) / n * deff)
    rel, why = proportion_reliability([p], [se], [n], [df], [deff])
    return rel[0], why[0]


def test_effective_sample_size_below_30_suppressed():
    assert _one(0.5, 50, 40, deff=2.0) == ("suppressed", "effective sample size < 30 (NCHS 2017 criterion 1)")


def test_wide_interval_suppressed():
    # n = 40, p = .5: Clopper–Pearson width ≈ .32 ≥ .30
    rel, why = _one(0.5, 40, 39)
    assert rel == "suppressed" and "criterion 2" in why


def test_relative_width_rule():
    # p = .03, n = 200: CP ≈ (.011, .064), width .053 > .05 and width/p ≈ 1.77 > 1.30 → suppressed
    rel, why = _one(0.03, 200, 199)
    assert rel == "suppressed" and "criterion 3" in why
    # same share with n = 2000: width ≈ .016 ≤ .05 → presented
    assert _one(0.03, 2000, 1999) == ("ok", "")


def test_small_df_caution_and_ok():
    assert _one(0.5, 100, 99)[0] == "ok"
    rel, why = _one(0.5, 1000, 5)
    assert rel == "caution" and "df < 8" in why


def test_zero_estimate():
    rel, why = proportion_reliability([0.0], [0.0], [100], [50], [np.nan])
    assert rel[0] == "caution" and "0% or 100%" in why[0]
    rel, _ = proportion_reliability([0.0], [0.0], [20], [10], [np.nan])
    assert rel[0] == "suppressed"


def test_deff_below_one_does_not_inflate_n_eff():
    # deff .5 would make n_eff = 50 from n = 25; the standard caps n_eff at n → suppressed
    rel, _ = proportion_reliability([0.5], [0.07], [25], [20], [0.5])
    assert rel[0] == "suppressed"


def test_means_cv_rule():
    rel, why = mean_reliability([10, 10, 10, 10], [1, 4, 1, 1], [100, 100, 100, 20], [30, 30, 5, 30],
                                [1, 1, 1, 1], [0.1, 0.4, 0.1, 0.1])
    assert list(rel) == ["ok", "caution", "caution", "suppressed"]
    assert "CV" in why[1] and "df < 8" in why[2] and "effective" in why[3]
