"""Design object: vectorised domains equal a direct per-domain computation; inputs are checked."""

import numpy as np
import pandas as pd
import pytest

from pipeline.errors import InputError, PipelineError
from pipeline.estimation import Design
from pipeline.estimation.domains import partition_by, partition_flag


def _data(seed=3, n=600):
    rng = np.random.default_rng(seed)
    h = rng.integers(0, 5, n)
    df = pd.DataFrame({
        "h": h.astype(str), "psu": [f"{a}-{b}" for a, b in zip(h, rng.integers(0, 4, n), strict=True)],
        "w": rng.uniform(1, 10, n), "g": rng.choice(["a", "b", "c"], n), "k": rng.choice(["x", "y"], n),
        "y": rng.normal(50, 10, n), "flag": rng.random(n) < 0.3,
    })
    df.loc[rng.random(n) < 0.1, "y"] = np.nan
    df["b"] = np.where(df["y"].isna(), np.nan, (df["y"] > 55).astype(float))
    return df


def _naive_mean(df, mask):
    """Domain mean and linearised variance written out directly: zero weight outside the domain."""
    obs = mask & df["y"].notna().to_numpy()
    w = df["w"].to_numpy() * obs
    y = df["y"].fillna(0).to_numpy()
    W = w.sum()
    ybar = (w * y).sum() / W
    z = pd.Series(w * (y - ybar) / W)
    tot = z.groupby([df["h"], df["psu"]]).sum()
    v = 0.0
    for _, zh in tot.groupby(level=0):
        nh = len(zh)
        v += nh / (nh - 1) * ((zh - zh.mean()) ** 2).sum()
    used = df[obs]
    dfree = used["psu"].nunique() - used["h"].nunique()
    return ybar, np.sqrt(v), dfree, int(obs.sum())


def test_all_domains_in_one_pass_match_direct_computation():
    df = _data()
    d = Design(df, stratum="h", psu="psu", weight="w")
    res = d.mean("y", by=["g", "k"])
    assert len(res) == 6
    for _, row in res.iterrows():
        m = ((df["g"] == row["g"]) & (df["k"] == row["k"])).to_numpy()
        est, se, dfree, n = _naive_mean(df, m)
        assert row["est"] == pytest.approx(est, rel=1e-12)
        assert row["se"] == pytest.approx(se, rel=1e-10)
        assert row["df"] == dfree and row["n"] == n


def test_overlapping_partitions_and_flags():
    df = _data()
    d = Design(df, stratum="h", psu="psu", weight="w")
    parts = [partition_by(df, None), partition_by(df, ["g"]), partition_flag(df["flag"].to_numpy(), {"x": 1})]
    r = d.estimate({"y": df["y"].to_numpy()}, "mean", parts, ci_method="logit")
    assert len(r) == 1 + 3 + 1
    flag_row = r[r["partition"] == 2].iloc[0]
    est, se, _, _ = _naive_mean(df, df["flag"].to_numpy())
    assert flag_row["est"] == pytest.approx(est, rel=1e-12)
    assert flag_row["se"] == pytest.approx(se, rel=1e-10)


def test_missing_values_leave_the_domain_not_the_design():
    df = _data()
    d = Design(df, stratum="h", psu="psu", weight="w")
    full = d.mean("y")
    kept = Design(df[df["y"].notna()], stratum="h", psu="psu", weight="w").mean("y")
    # dropping rows is only equivalent when no PSU loses all its rows; check the design kept all rows
    assert full["n"].iloc[0] == df["y"].notna().sum()
    assert full["est"].iloc[0] == pytest.approx(kept["est"].iloc[0], rel=1e-12)


def test_proportion_and_mean_of_binary_agree_and_zero_share_has_reason():
    df = _data()
    d = Design(df, stratum="h", psu="psu", weight="w")
    p = d.proportion("b", by=["g"])
    m = d.mean("b", by=["g"])
    np.testing.assert_allclose(p["est"], m["est"], rtol=1e-12)
    np.testing.assert_allclose(p["se"], m["se"], rtol=1e-12)
    df["never"] = np.where(df["b"].isna(), np.nan, 0.0)
    z = Design(df, stratum="h", psu="psu", weight="w").proportion("never")
    assert z["est"].iloc[0] == 0 and z["lci"].iloc[0] == 0 and 0 < z["uci"].iloc[0] < 0.02
    assert "Korn-Graubard" in z["reason"].iloc[0]


def test_total_equals_weighted_sum():
    df = _data()
    r = Design(df, stratum="h", psu="psu", weight="w").total("y")
    assert r["est"].iloc[0] == pytest.approx(np.nansum(df["w"] * df["y"]), rel=1e-12)


def test_bad_inputs_are_named():
    df = _data()
    bad = df.copy()
    bad.loc[5, "w"] = -1
    with pytest.raises(InputError, match=r"weight column 'w'.*row 5"):
        Design(bad, stratum="h", psu="psu", weight="w")
    with pytest.raises(InputError, match="domain column"):
        Design(df, stratum="h", psu="psu", weight="w").mean("y", by=["nope"])
    with pytest.raises(InputError, match="0/1 or true/false"):
        Design(df, stratum="h", psu="psu", weight="w").proportion("y")
    missing_psu = df.copy()
    missing_psu.loc[3, "psu"] = None
    with pytest.raises(InputError, match="psu"):
        Design(missing_psu, stratum="h", psu="psu", weight="w")
    with pytest.raises(PipelineError, match="lonely_psu"):
        Design(df, stratum="h", psu="psu", weight="w", lonely_psu="drop")
    f = df.assign(fpc=np.arange(len(df)))
    with pytest.raises(InputError, match="constant within each stratum"):
        Design(f, stratum="h", psu="psu", weight="w", fpc="fpc")


def test_psu_labels_nested_in_strata():
    # the same PSU label in two strata is two PSUs
    df = pd.DataFrame({"h": ["A", "A", "B", "B"], "psu": ["1", "2", "1", "2"], "w": [1.0] * 4,
                       "y": [1.0, 2.0, 3.0, 5.0]})
    r = Design(df, stratum="h", psu="psu", weight="w").mean("y")
    assert r["df"].iloc[0] == 2
    # hand: ybar = 11/4 = 2.75, z = (y − 2.75)/4 = −.4375, −.1875, .0625, .5625;
    # stratum A: 2·((−.125)² + .125²) = .0625; B: 2·(.25² + .25²) = .25; se = √.3125 = .559017
    assert r["se"].iloc[0] == pytest.approx(np.sqrt(0.3125), rel=1e-12)


def test_domain_equals_zero_weights_outside_and_row_order_is_irrelevant():
    from hypothesis import given, settings
    from hypothesis import strategies as st

    @settings(max_examples=12, deadline=None)
    @given(st.integers(0, 10_000))
    def check(seed):
        df = _data(seed, n=200)
        d = Design(df, stratum="h", psu="psu", weight="w")
        dom = d.mean("y", by=["g"]).set_index("g")
        for g in dom.index:
            zeroed = df.assign(w=np.where(df["g"] == g, df["w"], 0.0))
            r = Design(zeroed, stratum="h", psu="psu", weight="w").mean("y")
            assert r["est"].iloc[0] == pytest.approx(dom.loc[g, "est"], rel=1e-10)
            assert r["se"].iloc[0] == pytest.approx(dom.loc[g, "se"], rel=1e-9)
            assert r["df"].iloc[0] == dom.loc[g, "df"]
        shuffled = df.sample(frac=1.0, random_state=seed).reset_index(drop=True)
        s = Design(shuffled, stratum="h", psu="psu", weight="w").mean("y", by=["g"]).set_index("g")
        np.testing.assert_allclose(s["se"], dom["se"], rtol=1e-10)

    check()
