"""Calibration against R survey (goldens from tests/data/golden/weighting/make_golden.R)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from pipeline.errors import PipelineError
from pipeline.weighting.calibration import CALIBRATION_METHODS, Margin, calibrate
from tests.weighting.conftest import margin_from, read_golden

TOL = 1e-8


@pytest.fixture(scope="module")
def clus1(apiclus1, apipop_margins):
    golden = read_golden("apiclus1_weights.csv")
    df = apiclus1.merge(golden, on="cds", suffixes=("", "_golden"))
    assert len(df) == len(apiclus1) == 183
    margins = [margin_from(df["stype"], "stype", apipop_margins),
               margin_from(df["sch.wide"], "sch.wide", apipop_margins)]
    return df, margins


def _bounds():
    b = pd.read_csv(__import__("tests.weighting.conftest", fromlist=["GOLDEN"]).GOLDEN / "apiclus1_bounds.csv",
                    header=None, index_col=0)[1]
    return b


def assert_close(ours, theirs, tol=TOL):
    rel = np.max(np.abs(ours - theirs) / np.abs(theirs))
    assert rel < tol, f"largest relative difference to R {rel:.3g}"


def test_rake_matches_r(clus1):
    df, margins = clus1
    res = calibrate("raking", df["pw"].to_numpy(), margins, tol=1e-13, max_iter=1000)
    assert_close(res.weights, df["rake"].to_numpy())
    assert res.max_error < 1e-13
    for a, m in zip(res.achieved, margins, strict=True):
        np.testing.assert_allclose(a, m.totals, rtol=1e-12)


def test_poststratify_matches_r_and_one_margin_raking(clus1):
    df, margins = clus1
    ps = calibrate("poststratify", df["pw"].to_numpy(), margins[:1])
    assert_close(ps.weights, df["poststratify"].to_numpy())
    rk = calibrate("raking", df["pw"].to_numpy(), margins[:1], tol=1e-13)
    assert_close(rk.weights, df["rake_one_margin"].to_numpy())
    np.testing.assert_allclose(rk.weights, ps.weights, rtol=1e-13)
    assert rk.iterations == 1


def test_linear_calibration_matches_r(clus1):
    df, margins = clus1
    res = calibrate("linear", df["pw"].to_numpy(), margins, tol=1e-13, max_iter=5000)
    assert_close(res.weights, df["linear"].to_numpy())


def test_bounded_calibration_matches_r(clus1):
    df, margins = clus1
    b = _bounds()
    d = df["pw"].to_numpy()
    tl = calibrate("linear", d, margins, tol=1e-13, max_iter=5000,
                   bounds=(b["truncated_linear_lower"], b["truncated_linear_upper"]))
    assert_close(tl.weights, df["truncated_linear"].to_numpy())
    g = tl.weights / d
    # the bounds bind at both ends in this example, so the test exercises the truncation
    assert np.isclose(g.min(), b["truncated_linear_lower"]) and np.isclose(g.max(), b["truncated_linear_upper"])
    lg = calibrate("logit", d, margins, tol=1e-13, max_iter=5000, bounds=(b["logit_lower"], b["logit_upper"]))
    assert_close(lg.weights, df["logit"].to_numpy())
    assert (lg.weights / d > b["logit_lower"]).all() and (lg.weights / d < b["logit_upper"]).all()


def test_calibrate_raking_equals_rake(clus1):
    df, margins = clus1
    res = CALIBRATION_METHODS["raking"](df["pw"].to_numpy(), margins, tol=1e-13, max_iter=1000)
    assert_close(res.weights, df["calibrate_raking"].to_numpy())


def test_two_way_raking_table():
    """A 3 x 2 table raked by R's rake(): sample counts, population margins and raked cell weights."""
    tab = read_golden("two_way_raking.csv")
    units = tab.loc[tab.index.repeat(tab["n"])].reset_index(drop=True)
    ages, sexes = ["18-34", "35-54", "55+"], ["M", "F"]
    m_age = Margin("age", pd.Categorical(units["age"], ages).codes.astype(np.int64), np.array([300.0, 420, 280]),
                   tuple(ages))
    m_sex = Margin("sex", pd.Categorical(units["sex"], sexes).codes.astype(np.int64), np.array([490.0, 510]),
                   tuple(sexes))
    res = calibrate("raking", np.ones(len(units)), [m_age, m_sex], tol=1e-14, max_iter=1000)
    assert_close(res.weights, units["raked"].to_numpy())


def test_empty_category_with_control_is_refused(clus1):
    df, margins = clus1
    m = margins[0]
    m2 = Margin(m.name, m.codes, np.append(m.totals, 10.0), m.labels + ("X",))
    with pytest.raises(PipelineError, match="'stype'.*no sample member: X"):
        calibrate("raking", df["pw"].to_numpy(), [m2, margins[1]])


def test_non_convergence_names_the_margin(clus1):
    df, margins = clus1
    with pytest.raises(PipelineError, match=r"did not converge \(1 iterations\): margin 'stype'"):
        calibrate("raking", df["pw"].to_numpy(), margins, tol=1e-14, max_iter=1)


def test_raking_rakes_a_matrix_column_by_column(clus1):
    """All columns of a weight matrix rake together; each equals raking that column alone."""
    df, margins = clus1
    rng = np.random.default_rng(1)
    W = df["pw"].to_numpy()[:, None] * rng.uniform(0.5, 1.5, size=(len(df), 4))
    res = calibrate("raking", W, margins, tol=1e-12, max_iter=1000)
    for j in range(4):
        one = calibrate("raking", W[:, j], margins, tol=1e-12, max_iter=1000)
        np.testing.assert_allclose(res.weights[:, j], one.weights, rtol=1e-10)


def test_sample_in_a_zero_control_category_is_refused(clus1):
    df, margins = clus1
    m = margins[0]
    zeroed = Margin(m.name, m.codes, np.where(np.arange(m.k) == 1, 0.0, m.totals), m.labels)
    with pytest.raises(PipelineError, match=r"'stype': category H \(14 respondents\) has sample members but a control total of 0"):
        calibrate("raking", df["pw"].to_numpy(), [zeroed, margins[1]])
