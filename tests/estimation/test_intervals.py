"""CI methods at ordinary values (hand-worked) and at the edges (p = 0/1, se = 0, df <= 0, empty)."""

import numpy as np
import pytest

from pipeline.estimation.intervals import (
    REASON_DF,
    REASON_EDGE,
    REASON_EMPTY,
    REASON_SE0,
    korn_graubard,
    logit,
    wald,
)


def test_logit_hand_worked():
    # p = .2, se = .04, df huge (t = 1.959964): SE(logit) = .04/(.2·.8) = .25, logit(.2) = −1.386294;
    # bounds −1.386294 ∓ .489991 → expit(−1.876285) = .13282, expit(−.896303) = .28981
    lci, uci, why = logit([0.2], [0.04], [500], [1e9])
    assert lci[0] == pytest.approx(0.13282, abs=2e-5)
    assert uci[0] == pytest.approx(0.28981, abs=2e-5)
    assert why[0] == ""


def test_korn_graubard_at_zero_is_clopper_pearson_with_n():
    # p = 0, n = 30, df = 29 = n − 1 (no df adjustment): upper = 1 − .025^(1/30) = 1 − .884297 = .115703
    lci, uci, why = korn_graubard([0.0], [0.0], [30], [29])
    assert lci[0] == 0.0
    assert uci[0] == pytest.approx(0.115703, abs=1e-6)
    assert "effective n = n" in why[0]


def test_logit_at_zero_and_one_falls_back_to_korn_graubard_with_reason():
    lci, uci, why = logit([0.0, 1.0], [0.0, 0.0], [30, 30], [29, 29])
    assert lci[0] == 0.0 and uci[0] == pytest.approx(0.115703, abs=1e-6)
    assert uci[1] == 1.0 and lci[1] == pytest.approx(1 - 0.115703, abs=1e-6)
    assert list(why) == [REASON_EDGE, REASON_EDGE]


def test_zero_se_interior_collapses_with_reason():
    for fn in (logit, korn_graubard):
        lci, uci, why = fn([0.3], [0.0], [50], [10])
        assert lci[0] == uci[0] == 0.3
        assert why[0] == REASON_SE0


@pytest.mark.parametrize("fn", [logit, korn_graubard, wald])
def test_no_df_gives_nan_with_reason(fn):
    lci, uci, why = fn([0.3], [0.05], [50], [0])
    assert np.isnan(lci[0]) and np.isnan(uci[0])
    assert why[0] == REASON_DF


@pytest.mark.parametrize("fn", [logit, korn_graubard, wald])
def test_empty_domain_gives_nan_with_reason(fn):
    lci, uci, why = fn([np.nan], [np.nan], [0], [3])
    assert np.isnan(lci[0]) and why[0] == REASON_EMPTY


def test_every_nan_bound_has_a_reason():
    rng = np.random.default_rng(1)
    est = np.r_[rng.uniform(0, 1, 50), 0, 1, np.nan, 0.5]
    se = np.r_[rng.uniform(0, 0.1, 50), 0, 0, np.nan, np.nan]
    n = np.r_[rng.integers(0, 100, 50), 10, 10, 0, 10]
    df = np.r_[rng.integers(-1, 30, 50), 5, 5, 3, 5]
    for fn in (logit, korn_graubard, wald):
        lci, uci, why = fn(est, se, n, df)
        bad = ~np.isfinite(lci) | ~np.isfinite(uci)
        assert (why[bad] != "").all(), fn.__name__


def test_wald_proportion_clipped():
    lci, uci, _ = wald([0.02], [0.02], [100], [50])
    assert lci[0] == 0.0 and uci[0] > 0.02
