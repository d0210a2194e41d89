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
