"""Replicate weights: JKn against R survey (every replicate re-raked), and properties of JKn and the
Rao–Wu rescaled bootstrap."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pipeline.errors import PipelineError
from pipeline.weighting.calibration import calibrate
from pipeline.weighting.replicates import bootstrap_factors, grouped_jkn_factors, jkn_factors, replicate_names
from tests.weighting.conftest import margin_from, read_golden


def test_jkn_reraked_replicates_match_r(apistrat, apipop_margins):
    """apistrat as a stratified design (each school its own PSU), JKn replicates each raked to
    sch.wide and awards: R's rake() on as.svrepdesign(type="JKn")."""
    golden = read_golden("apistrat_jkn_raked.csv")
    df = apistrat.merge(golden[["cds", "w_full"] + [c for c in golden if c.startswith("r")]], on="cds")
    assert len(df) == 200
    rep = jkn_factors(df["stype"].to_numpy())  # PSU i = row i
    W = df["pw"].to_numpy()[:, None] * np.hstack([np.ones((200, 1)), rep.factors])
    margins = [margin_from(df["sch.wide"], "sch.wide", apipop_margins),
               margin_from(df["awards"], "awards", apipop_margins)]
    res = calibrate("raking", W, margins, tol=1e-13, max_iter=1000)
    ours = res.weights
    rcols = [c for c in golden if c.startswith("r")]
    theirs = df[rcols].to_numpy()
    assert np.max(np.abs(ours[:, 0] - df["w_full"]) / df["w_full"]) < 1e-8
    # R orders replicates by stratum of first appearance; match them by the school each deletes.
    r_deleted = np.argmax(theirs == 0, axis=0)
    assert ((theirs == 0).sum(axis=0) == 1).all()
    our_col = {int(p): j for j, p in enumerate(rep.deleted_psu)}
    mapped = ours[:, 1:][:, [our_col[int(p)] for p in r_deleted]]
    nz = theirs > 0
    assert (mapped[~nz] == 0).all()
    assert np.max(np.abs(mapped[nz] - theirs[nz]) / theirs[nz]) < 1e-8
    rs = read_golden("apistrat_jkn_rscales.csv")
    # R's design carries the fpc (N_h in apistrat$fpc): rscales (n_h - 1)/n_h * (1 - n_h/N_h)
    with_fpc = jkn_factors(df["stype"].to_numpy(), psu_fpc=df["fpc"].to_numpy())
    np.testing.assert_allclose(with_fpc.rscales[[our_col[int(p)] for p in r_deleted]], rs["rscales"], rtol=1e-12)
    np.testing.assert_array_equal(with_fpc.factors, rep.factors)
    n_h = df.groupby("stype")["cds"].transform("size").to_numpy()
    np.testing.assert_allclose(rep.rscales, (n_h[rep.deleted_psu] - 1) / n_h[rep.deleted_psu])
    assert rep.scale == 1.0 == rs["scale"].iloc[0]


@st.composite
def designs(draw):
    n_strata = draw(st.integers(1, 5))
    sizes = [draw(st.integers(2, 6)) for _ in range(n_strata)]
    psu_stratum = np.repeat(np.arange(n_strata), sizes)
    units = np.array([draw(st.integers(1, 4)) for _ in range(len(psu_stratum))])
    unit_psu = np.repeat(np.arange(len(psu_stratum)), units)
    return psu_stratum, unit_psu


@settings(max_examples=60, deadline=None)
@given(designs())
def test_each_jkn_replicate_zeroes_exactly_one_psu(design):
    psu_stratum, unit_psu = design
    rep = jkn_factors(psu_stratum.astype(str))
    F = rep.factors[unit_psu]  # unit-level factors
    n_h = np.bincount(psu_stratum)
    assert rep.n_replicates == len(psu_stratum)
    for_psu = rep.deleted_psu
    zero = F == 0
    # the zero units of replicate r are exactly the units of its deleted PSU
    assert (zero == (unit_psu[:, None] == for_psu[None, :])).all()
    same = psu_stratum[unit_psu][:, None] == psu_stratum[for_psu][None, :]
    expected = np.where(same, (n_h / (n_h - 1))[psu_stratum[for_psu]][None, :], 1.0)
    np.testing.assert_allclose(F[~zero], expected[~zero])
    np.testing.assert_allclose(rep.rscales, (n_h[psu_stratum[for_psu]] - 1) / n_h[psu_stratum[for_psu]])


@settings(max_examples=30, deadline=None)
@given(designs(), st.integers(0, 2**31))
def test_bootstrap_factors_sum_to_stratum_size_and_average_one(design, seed):
    psu_stratum, _ = design
    R = 1500
    rep = bootstrap_factors(psu_stratum.astype(str), R, seed)
    n_h = np.bincount(psu_stratum)
    # n_h - 1 draws each worth n_h/(n_h - 1): the factors of a stratum sum to n_h in every replicate
    sums = np.zeros((len(n_h), R))
    np.add.at(sums, psu_stratum, rep.factors)
    np.testing.assert_allclose(sums, n_h[:, None].astype(float) * np.ones((1, R)))
    # E[factor] = 1, var = (n/(n-1))^2 (n-1)(1/n)(1-1/n) = 1 - 1/n... per PSU: mean over R within 6 SE
    nh = n_h[psu_stratum].astype(float)
    se = np.sqrt((nh / (nh - 1)) ** 2 * (nh - 1) * (1 / nh) * (1 - 1 / nh) / R)
    assert (np.abs(rep.factors.mean(axis=1) - 1) < 6 * se).all()
    assert rep.scale == pytest.approx(1 / (R - 1)) and (rep.rscales == 1).all()


def test_bootstrap_mean_weight_tracks_full_sample_weight():
    rng = np.random.default_rng(5)
    psu_stratum = np.repeat(np.arange(6), [2, 3, 4, 5, 6, 8])
    unit_psu = rng.integers(0, len(psu_stratum), 3000)
    w = rng.uniform(100, 1000, 3000)
    rep = bootstrap_factors(psu_stratum.astype(str), 4000, seed=11)
    W = w[:, None] * rep.factors[unit_psu]
    rel = np.abs(W.mean(axis=1) / w - 1)
    assert rel.max() < 0.07
    assert np.median(rel) < 0.02


def test_bootstrap_is_reproducible_from_its_seed():
    s = np.repeat(np.arange(3), 4).astype(str)
    a, b, c = (bootstrap_factors(s, 20, seed) for seed in (1, 1, 2))
    assert (a.factors == b.factors).all() and not (a.factors == c.factors).all()


def test_lonely_psu_policy():
    s = np.array(["a", "a", "b"])
    with pytest.raises(PipelineError, match=r"\['b'\].*single PSU"):
        jkn_factors(s, "fail")
    rep = jkn_factors(s, "certainty")
    assert rep.n_replicates == 2 and rep.lonely_strata == ("b",) and (rep.factors[2] == 1).all()


def test_replicate_names():
    assert replicate_names(3) == ["w_rep_001", "w_rep_002", "w_rep_003"]
    assert replicate_names(1000)[-1] == "w_rep_1000"


def test_grouped_jackknife_hand_worked():
    """One stratum of 4 PSUs in 2 groups: replicate r deletes group r, the other group's PSUs get factor 2,
    rscale 1/2. For a total with unit weights, θ_1 = 2 G_2, θ_2 = 2 G_1 and their mean is G_1 + G_2, so
    v = ½[(G_2 − G_1)² + (G_1 − G_2)²] = (G_1 − G_2)²: the with-replacement variance of two group totals,
    2/(2 − 1) · Σ (G_i − Ḡ)² = 2 · 2 · ((G_1 − G_2)/2)²."""
    rep = grouped_jkn_factors(np.array(["a"] * 4), groups=2, seed=5)
    assert rep.n_replicates == 2 and rep.method == "JKn"
    np.testing.assert_allclose(rep.rscales, [0.5, 0.5])
    g = rep.psu_group
    assert sorted(np.bincount(g).tolist()) == [2, 2]
    y = np.array([3.0, 5.0, 11.0, 2.0])
    theta = y @ rep.factors
    v = rep.scale * np.sum(rep.rscales * (theta - theta.mean()) ** 2)
    g1, g2 = y[g == 0].sum(), y[g == 1].sum()
    assert v == pytest.approx((g1 - g2) ** 2, rel=1e-14)
    for r in range(2):  # the deleted group is 0, the other 2
        deleted = rep.factors[:, r] == 0
        assert len(set(g[deleted])) == 1 and (rep.factors[~deleted, r] == 2).all()


@given(st.lists(st.integers(1, 9), min_size=1, max_size=6), st.integers(2, 5), st.integers(0, 10_000))
@settings(max_examples=40, deadline=None)
def test_grouped_jackknife_properties(sizes, groups, seed):
    strata = np.repeat([f"s{i}" for i in range(len(sizes))], sizes)
    if all(n == 1 for n in sizes):
        with pytest.raises(PipelineError):
            grouped_jkn_factors(strata, groups, seed, lonely_psu="remove")
        return
    rep = grouped_jkn_factors(strata, groups, seed, lonely_psu="remove")
    want = sum(min(n, groups) for n in sizes if n > 1)
    assert rep.n_replicates == want
    for h, n in enumerate(sizes):
        rows = strata == f"s{h}"
        sizes_g = np.bincount(rep.psu_group[rows])
        sizes_g = sizes_g[sizes_g > 0]
        assert len(sizes_g) == min(n, groups) and sizes_g.max() - sizes_g.min() <= 1  # near-equal groups
    # each replicate: one group at 0, the rest of its stratum at G_h/(G_h − 1), other strata at 1
    for r in range(rep.n_replicates):
        col = rep.factors[:, r]
        zero = col == 0
        assert len(set(rep.psu_group[zero])) == 1
        h = strata[zero][0]
        g_h = len(set(rep.psu_group[strata == h]))
        np.testing.assert_allclose(col[(strata == h) & ~zero], g_h / (g_h - 1))
        np.testing.assert_allclose(col[strata != h], 1.0)
    # as many groups as PSUs: the ordinary JKn, replicates in another order
    full = grouped_jkn_factors(strata, max(sizes), seed, lonely_psu="remove")
    plain = jkn_factors(strata, lonely_psu="remove")
    key = lambda A: sorted(map(tuple, np.round(A.T, 12)))  # noqa: E731
    assert key(full.factors) == key(plain.factors)
