"""Replicate designs: the row-level path (re-calibrated replicates) agrees with the PSU-factor path,
and its per-domain df never exceeds the domain's PSU count."""

from pathlib import Path

import numpy as np
import pandas as pd

from pipeline.estimation import Design
from pipeline.estimation.domains import Partition, partition_by
from pipeline.estimation.regression import linear

GOLD = Path(__file__).resolve().parent.parent / "data" / "golden" / "estimation"
API = Path(__file__).resolve().parent.parent / "data" / "api"


def _jkn():
    df = pd.read_csv(API / "apistrat.csv")
    df["hi"] = (df["api00"] > 650).astype(float)
    w = pd.read_csv(GOLD / "repw_jkn.csv").to_numpy(float)
    info = pd.read_csv(GOLD / "repinfo_jkn.csv")
    return df, w, info["rscales"].to_numpy()


def test_row_level_path_equals_psu_factor_path():
    df, w, rs = _jkn()
    fast = Design(df, stratum="stype", weight="pw", replicate_weights=w, replicate_method="JKn", rscales=rs)
    slow = Design(df, stratum="stype", weight="pw", replicate_weights=w, replicate_method="JKn", rscales=rs)
    assert fast.replicates.factors is not None
    object.__setattr__(slow.replicates, "factors", None)  # force the row-level path
    parts = [partition_by(df, None), partition_by(df, ["sch.wide"]), partition_by(df, ["stype", "awards"])]
    a = fast.estimate({"api00": df["api00"].to_numpy(float), "hi": df["hi"].to_numpy()}, "mean", parts)
    b = slow.estimate({"api00": df["api00"].to_numpy(float), "hi": df["hi"].to_numpy()}, "mean", parts)
    np.testing.assert_allclose(a["se"], b["se"], rtol=1e-10)
    np.testing.assert_array_equal(a["df"], b["df"])


def test_recalibrated_replicates_df_bounded_by_psus():
    df = pd.read_csv(API / "apiclus1.csv")
    w = pd.read_csv(GOLD / "repw_boot.csv").to_numpy(float)
    scale = float(pd.read_csv(GOLD / "repinfo_boot.csv")["scale"].iloc[0])
    # a row-level adjustment like re-raking: ratios no longer constant within PSUs (districts)
    rng = np.random.default_rng(5)
    w2 = w * (1 + 0.01 * rng.standard_normal(w.shape))
    d = Design(df, psu="dnum", weight="pw", replicate_weights=w2, replicate_method="bootstrap", scale=scale)
    assert d.replicates.factors is None
    r = d.mean("api00", by=["stype"])
    psus = df.groupby("stype")["dnum"].nunique().to_numpy()
    assert (r["df"].to_numpy() <= psus - 1).all()
    assert (r["df"].to_numpy() > 0).all()


def test_grouped_jackknife_df_counts_groups():
    """12 PSUs in 2 strata dealt into 2 groups per stratum: replicate df = groups with domain members −
    strata with domain members (hand count), while linearisation still counts PSUs."""
    from pipeline.weighting.replicates import grouped_jkn_factors

    psu_stratum = np.array(["a"] * 6 + ["b"] * 6)
    rep = grouped_jkn_factors(psu_stratum, groups=2, seed=3)
    psu = np.repeat(np.arange(12), 5)
    df = pd.DataFrame({"h": psu_stratum[psu], "psu": psu, "w": 1.0 + (psu % 3), "y": (np.arange(60) % 4 == 0) * 1.0})
    df["dom"] = np.where(np.isin(psu, [0, 1, 6]), "small", "rest")
    d = Design(df, stratum="h", psu="psu", weight="w", replicate_weights=df["w"].to_numpy()[:, None] * rep.factors[psu],
               replicate_method="JKn", rscales=rep.rscales, variance_units=rep.psu_group[psu])
    r = d.estimate({"y": df["y"].to_numpy()}, "mean", [partition_by(df, None), partition_by(df, ["dom"])])
    g = rep.psu_group
    small_groups = len(set(g[[0, 1, 6]]))
    assert r["df"].tolist() == [4 - 2, 4 - 2, small_groups - 2]
    t = d.estimate({"y": df["y"].to_numpy()}, "mean", [partition_by(df, None), partition_by(df, ["dom"])],
                   variance="taylor")
    assert t["df"].tolist() == [12 - 2, 9 - 2, 3 - 2]


def _recalibrated(seed=11, n=900):
    """Rows in 30 PSUs of 3 strata, replicate weights that vary within PSUs (as re-raked ones do), a few
    rows of zero weight and a variable with missing values."""
    rng = np.random.default_rng(seed)
    psu = rng.integers(0, 30, n)
    df = pd.DataFrame({"h": psu % 3, "psu": psu, "w": rng.uniform(1, 5, n), "sex": rng.choice(["f", "m"], n),
                       "age": rng.choice(["a", "b", "c"], n), "farmer": rng.random(n) < 0.3,
                       "y": rng.normal(10, 3, n)})
    df.loc[rng.random(n) < 0.05, "y"] = np.nan
    df.loc[:4, "w"] = 0.0
    R = 40
    W = df["w"].to_numpy()[:, None] * rng.uniform(0.5, 1.5, (30, R))[psu] * (1 + 0.05 * rng.standard_normal((n, R)))
    return df, W


def test_row_level_path_equals_a_sum_over_each_domain():
    """The atom sums of the row-level path against the definition: for every domain (overlapping ones
    included) and replicate, θ_r = Σ_domain W_r y / Σ_domain W_r over its scored rows of positive weight,
    and var = scale Σ_r (θ_r − mean θ)²."""
    df, W = _recalibrated()
    d = Design(df, stratum="h", psu="psu", weight="w", replicate_weights=W, replicate_method="bootstrap")
    assert d.replicates.factors is None
    farmer = df["farmer"].to_numpy()
    parts = [partition_by(df, None), partition_by(df, ["sex", "age"]),
             Partition(np.where(farmer, 0, -1), pd.DataFrame([{"g": "farmer"}])),
             Partition(np.where(farmer, partition_by(df, ["sex"]).codes, -1), pd.DataFrame({"g": ["f", "m"]}))]
    y = df["y"].to_numpy()
    got = d.estimate({"y": y}, "mean", parts)
    want = []
    use = np.isfinite(y) & (df["w"].to_numpy() > 0)
    for part in parts:
        for j in range(part.size):
            sel = use & (np.asarray(part.codes) == j)
            theta = (W[sel] * y[sel, None]).sum(0) / W[sel].sum(0)
            want.append(np.sqrt(((theta - theta.mean()) ** 2).sum() / (W.shape[1] - 1)))
    np.testing.assert_allclose(got["se"], want, rtol=1e-12)


def test_psu_factors_found_only_when_constant_within_psus():
    df, W = _recalibrated()
    f = np.random.default_rng(3).uniform(0.5, 1.5, (30, 8))
    exact = df["w"].to_numpy()[:, None] * f[df["psu"].to_numpy()]
    d = Design(df, stratum="h", psu="psu", weight="w", replicate_weights=exact, replicate_method="bootstrap")
    np.testing.assert_allclose(d.replicates.factors[d.p], f[df["psu"].to_numpy()], rtol=1e-14)  # the design's PSU order
    # the rows of zero weight are never used: what their replicate weights hold does not matter
    junk = exact.copy()
    junk[:5] = 7.0
    assert Design(df, stratum="h", psu="psu", weight="w", replicate_weights=junk,
                  replicate_method="bootstrap").replicates.factors is not None
    # one used row off by a millionth: not a PSU factor any more
    off = exact.copy()
    off[500, 3] *= 1 + 1e-6
    assert Design(df, stratum="h", psu="psu", weight="w", replicate_weights=off,
                  replicate_method="bootstrap").replicates.factors is None


def test_cell_sums_are_the_bincounts_bit_for_bit():
    """The one sparse product per chunk adds the rows of every (domain × PSU) cell in data order, as
    np.bincount does: the sums are the same floating-point numbers, not merely close."""
    df, _ = _recalibrated()
    d = Design(df, stratum="h", psu="psu", weight="w")
    parts = [partition_by(df, None), partition_by(df, ["sex", "age"]), partition_by(df, ["age"])]
    amat, _, _ = d._cell_matrix(parts)
    cols = np.column_stack([d.w * np.nan_to_num(df["y"].to_numpy()), d.w])
    got = d._grouped(amat, cols)
    row = 0
    for part in parts:
        c = np.asarray(part.codes)
        cell = np.where((c >= 0) & (d.w > 0), c * d.P + d.p, part.size * d.P)
        for k in range(cols.shape[1]):
            want = np.bincount(cell, cols[:, k], minlength=part.size * d.P + 1)[:-1].reshape(part.size, d.P)
            assert np.array_equal(got[row:row + part.size, :, k], want)
        row += part.size


def test_factors_from_the_weighting_equal_the_replicate_weight_matrix():
    """Replicates given as the weighting's factors (code, table) estimate what the n × R matrix does;
    factors constant within PSUs stay PSU factors (no matrix), others are expanded to the rows."""
    rng = np.random.default_rng(3)
    n, P, R = 600, 24, 24
    psu = rng.integers(0, P, n)
    df = pd.DataFrame({"h": psu % 3, "psu": psu, "w": rng.uniform(1, 5, n), "y": rng.normal(10, 3, n),
                       "sex": rng.choice(["f", "m"], n)})
    df.loc[:3, "w"] = 0.0
    df.loc[rng.random(n) < 0.05, "y"] = np.nan
    w = df["w"].to_numpy()
    parts = [partition_by(df, None), partition_by(df, ["sex"])]
    common = dict(stratum="h", psu="psu", weight="w", replicate_method="bootstrap", scale=1 / (R - 1))
    table = rng.uniform(0.5, 1.5, (P, R))
    # cells finer than PSUs (PSU × sex) with the same factors: still constant within PSUs
    cell = psu * 2 + (df["sex"] == "m").to_numpy()
    fine = table[np.arange(2 * P) // 2]
    for code, tab in ((psu, table), (cell, fine)):
        d = Design(df, replicate_factors=(code, tab), **common)
        assert d.replicates.factors is not None and d.replicates.weights is None
        m = Design(df, replicate_weights=w[:, None] * tab[code], **common)
        a = d.estimate({"y": df["y"].to_numpy()}, "mean", parts, variance="replicate")
        b = m.estimate({"y": df["y"].to_numpy()}, "mean", parts, variance="replicate")
        np.testing.assert_allclose(a[["est", "se"]].to_numpy(), b[["est", "se"]].to_numpy(), rtol=1e-12)
        np.testing.assert_allclose(d.replicate_matrix(), w[:, None] * tab[code], rtol=1e-15)
        # the regression's replicate path builds the matrix from the factors
        fa, fb = (linear(x, "y ~ sex", variance="replicate") for x in (d, m))
        np.testing.assert_allclose(fa[["est", "se"]].to_numpy(), fb[["est", "se"]].to_numpy(), rtol=1e-12)
    varying = fine * rng.uniform(0.9, 1.1, fine.shape)  # the two sexes of a PSU differ: rows needed
    d = Design(df, replicate_factors=(cell, varying), **common)
    assert d.replicates.factors is None
    np.testing.assert_array_equal(d.replicates.weights, w[:, None] * varying[cell])
