"""Property tests: calibrated weights stay positive and finite and meet their margins; grouped
medians agree with pandas; trimming leaves weights inside their bounds or says it cannot."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pipeline.errors import PipelineError
from pipeline.survey_design.codes import group_sums
from pipeline.weighting.calibration import Margin, calibrate
from pipeline.weighting.grouped import grouped_median_positive
from pipeline.weighting.trimming import trim_and_recalibrate


@st.composite
def raking_problems(draw):
    seed = draw(st.integers(0, 2**31))
    rng = np.random.default_rng(seed)
    n = draw(st.integers(40, 300))
    k1, k2 = draw(st.integers(1, 5)), draw(st.integers(1, 4))
    # every category present: the first k rows cycle through the categories
    c1 = np.concatenate([np.arange(k1), rng.integers(0, k1, n - k1)])
    c2 = np.concatenate([np.arange(k2), rng.integers(0, k2, n - k2)])
    w = rng.lognormal(3, 1, size=(n, draw(st.integers(1, 4))))
    # controls are the totals of some positive reweighting x of the sample, so a raking solution
    # exists (raking meets margins exactly when a positive weighting with the same support does)
    x = w[:, 0] * rng.uniform(0.3, 3, n)
    t1 = np.bincount(c1, x, k1)
    t2 = np.bincount(c2, x, k2)
    return w, [Margin("a", c1, t1, tuple(map(str, range(k1)))), Margin("b", c2, t2, tuple(map(str, range(k2))))]


@settings(max_examples=60, deadline=None)
@given(raking_problems())
def test_raking_weights_positive_finite_and_on_margin(problem):
    w, margins = problem
    res = calibrate("raking", w, margins, tol=1e-9, max_iter=5000)
    assert np.isfinite(res.weights).all() and (res.weights > 0).all()
    for m in margins:
        np.testing.assert_allclose(group_sums(m.codes, res.weights, m.k), np.repeat(m.totals[:, None], w.shape[1], 1),
                                   rtol=1e-8)
    # raking multiplies the design weights by a factor that is constant within each joint cell
    g = res.weights / w
    cell = margins[0].codes * 10 + margins[1].codes
    for c in np.unique(cell):
        assert np.ptp(g[cell == c], axis=0).max() <= 1e-9 * g[cell == c].max()


@settings(max_examples=40, deadline=None)
@given(st.integers(0, 2**31), st.integers(1, 6), st.integers(1, 5))
def test_grouped_median_matches_pandas(seed, k, r):
    rng = np.random.default_rng(seed)
    n = 200
    codes = np.concatenate([np.arange(k), rng.integers(0, k, n - k)])
    w = rng.lognormal(0, 1, (n, r)) * (rng.random((n, r)) > 0.2)  # zeros: units outside a replicate
    med = grouped_median_positive(w, codes, k)
    for j in range(r):
        s = pd.Series(np.where(w[:, j] > 0, w[:, j], np.nan)).groupby(codes).median()
        np.testing.assert_allclose(med[:, j], s.reindex(range(k)).to_numpy(), rtol=1e-14, equal_nan=True)


@settings(max_examples=40, deadline=None)
@given(st.integers(0, 2**31), st.integers(1, 6), st.integers(1, 5), st.booleans(), st.sampled_from([0.0, 0.2, 0.9]))
def test_grouped_order_stats_match_pandas(seed, k, r, sorted_rows, outside):
    """Median, largest and smallest positive weight per group and column, against pandas, with units
    in group order (each group one run of rows) or scattered, and columns with none, some or most units
    outside the replicate (weight 0)."""
    from pipeline.weighting.grouped import grouped_order_stats

    rng = np.random.default_rng(seed)
    n = 200
    codes = np.concatenate([np.arange(k), rng.integers(0, k, n - k)])
    if sorted_rows:
        codes = np.sort(codes)
    w = rng.lognormal(0, 1, (n, r)) * (rng.random((n, r)) >= outside)
    med, top, bottom = grouped_order_stats(w, codes, k)
    for j in range(r):
        g = pd.Series(np.where(w[:, j] > 0, w[:, j], np.nan)).groupby(codes)
        for got, want, empty in ((med, g.median(), np.nan), (top, g.max(), 0.0), (bottom, g.min(), np.inf)):
            np.testing.assert_array_equal(got[:, j], want.reindex(range(k)).fillna(empty).to_numpy())


def _problem(seed=0, n=400):
    rng = np.random.default_rng(seed)
    county = rng.integers(0, 3, n)
    sex = rng.integers(0, 2, n)
    w = rng.lognormal(5, 1.2, n)
    w[:3] *= 40  # a few very large weights
    m1 = Margin("county", county, np.array([3e5, 2e5, 1e5]), ("a", "b", "c"))
    m2 = Margin("sex", sex, np.array([2.9e5, 3.1e5]), ("m", "f"))
    return w, county, [m1, m2]


def test_trimming_then_recalibration_meets_bounds_and_margins():
    w, county, margins = _problem()
    res = calibrate("raking", w, margins)
    assert (res.weights / np.median(res.weights) > 5).any()

    def recal(W):
        return calibrate("raking", W, margins, tol=1e-10, max_iter=500)

    tr = trim_and_recalibrate(res.weights, county, ("a", "b", "c"), 0.2, 5.0, recal, max_rounds=100, slack=1e-4)
    wf = tr.weights
    med = pd.Series(wf).groupby(county).transform("median").to_numpy()
    assert (wf <= 5 * med * (1 + 1e-4)).all() and (wf >= 0.2 * med * (1 - 1e-4)).all()
    for m in margins:
        np.testing.assert_allclose(group_sums(m.codes, wf, m.k), m.totals, rtol=1e-9)
    assert tr.trimmed.sum() >= 3 and tr.rounds >= 1


def test_trimming_that_cannot_hold_says_so():
    w, _, _ = _problem()
    # units 0 and 1 are alone in their margin categories, whose controls differ a hundredfold, and
    # they form one trimming group: re-calibration always restores them, no bound of 0.9-1.1 x the
    # median can hold.
    codes = np.full(len(w), 2, dtype=np.int64)
    codes[:2] = [0, 1]
    pinned = Margin("pinned", codes, np.array([1e2, 1e4, 5e5]), ("u0", "u1", "rest"))
    grp = np.where(np.arange(len(w)) < 2, 0, 1)

    def recal(W):
        return calibrate("raking", W, [pinned], tol=1e-10, max_iter=500)

    with pytest.raises(PipelineError, match="trimming: after 5 rounds.*still lie outside.*most in 'g0'"):
        trim_and_recalibrate(recal(w).weights, grp, ("g0", "g1"), 0.9, 1.1, recal, max_rounds=5)


def test_group_sums_paths_agree():
    """The bincount path and the sparse path for large matrices give the same sums."""
    from pipeline.survey_design import codes as grouped

    rng = np.random.default_rng(2)
    codes = rng.integers(0, 37, 50_000)
    w = rng.random((50_000, 90))  # 4.5e6 elements: the sparse path
    assert w.size >= grouped.SPARSE_ELEMENTS
    big = grouped.group_sums(codes, w, 40)
    small = np.vstack([grouped.group_sums(codes, w[:, j], 40) for j in range(90)]).T
    np.testing.assert_allclose(big, small, rtol=1e-12)
    assert (big[37:] == 0).all()


@settings(max_examples=80, deadline=None)
@given(st.integers(0, 2**31), st.lists(st.integers(1, 400), min_size=1, max_size=5), st.integers(1, 3000),
       st.sampled_from([1 << 4, 1 << 8, 1 << 16]))
def test_cells_are_np_unique_of_the_code_tuples(seed, sizes, n, dense_range):
    """The cell encoder against np.unique on the rows of the code matrix: the same cells in the same
    order, the same margin codes per cell and the same unit counts, whichever way the code is compacted
    (a small dense range forces compaction after every margin and, past 4n, hashing)."""
    from pipeline.weighting import grouped

    rng = np.random.default_rng(seed)
    # a few distinct values per margin, so that margins repeat each other's information like county does
    codes = [rng.choice(rng.integers(0, k, 3), n) if j % 2 else rng.integers(0, k, n) for j, k in enumerate(sizes)]
    tuples, inverse, counts = np.unique(np.column_stack(codes), axis=0, return_inverse=True, return_counts=True)
    old = grouped._DENSE_RANGE
    grouped._DENSE_RANGE = dense_range
    try:
        c = grouped.cells(codes, sizes)
        cell, cats = grouped.encode_cells(codes, sizes)
    finally:
        grouped._DENSE_RANGE = old
    assert len(c) == len(tuples)
    np.testing.assert_array_equal(cell, inverse.ravel())
    np.testing.assert_array_equal(c.members, counts)
    for j in range(len(sizes)):
        np.testing.assert_array_equal(cats[j], tuples[:, j])
        np.testing.assert_array_equal(c.cats[j], tuples[:, j])
    np.testing.assert_array_equal(c.compact(), cell)
    w = rng.random((n, 2))
    np.testing.assert_allclose(c.sums(w), group_sums(cell, w, len(tuples)), rtol=1e-15, atol=0)
    g = rng.random((len(tuples), 2))
    np.testing.assert_array_equal(c.spread(g)[c.code], g[cell])
