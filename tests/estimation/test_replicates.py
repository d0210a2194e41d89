"""Replicate designs: the row-level path (re-calibrated replicates) agrees with the PSU-factor path,
and its per-domain df never exceeds the domain's PSU count."""

from pathlib import Path

import numpy as np
import pandas as pd

from pipeline.estimation import Design
from pipeline.estimation.domains import partition_by

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
