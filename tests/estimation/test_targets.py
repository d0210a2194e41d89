"""Wave differences (hand-worked) and the verdict rules on constructed rows."""

import numpy as np
import pandas as pd
import pytest

from pipeline.estimation import verdicts, wave_difference


def test_wave_difference_hand_worked():
    a = pd.DataFrame({"estimand_id": ["literate"], "domain_type": ["overall"], "domain": ["全市"],
                      "est": [0.15], "se": [0.01], "df": [20.0]})
    b = a.assign(est=[0.18], se=[0.02], df=[30.0])
    r = wave_difference(a, b).iloc[0]
    # se = √(.0001 + .0004) = .0223607; Satterthwaite df = .0005² / (.0001²/20 + .0004²/30)
    #    = 2.5e-7 / (5e-10 + 5.33333e-9) = 42.857; t = .03 / .0223607 = 1.341641
    assert r["diff"] == pytest.approx(0.03)
    assert r["se"] == pytest.approx(0.0223607, rel=1e-6)
    assert r["df"] == pytest.approx(42.857, rel=1e-4)
    assert r["t"] == pytest.approx(1.341641, rel=1e-6)
    assert 0.18 < r["p_value"] < 0.19  # two-sided t(42.9) tail at 1.34 ≈ .187
    assert wave_difference(a, b, df_method="min").iloc[0]["df"] == 20


def _rows(est, lci, uci, rel="ok", df=30.0, n=400):
    k = len(est)
    return pd.DataFrame({"wave": 2024, "domain_type": "county", "domain": [f"d{i}" for i in range(k)],
                         "n": n, "est": est, "se": 0.02, "lci": lci, "uci": uci, "df": df,
                         "reliability": rel, "reason": pd.array([pd.NA] * k, dtype="string")})


def test_verdict_rules():
    t = verdicts(_rows([0.25, 0.10, 0.17, 0.30], [0.20, 0.06, 0.13, np.nan], [0.30, 0.15, 0.21, np.nan]), 0.16)
    assert list(t["verdict"]) == ["met", "not met", "undetermined", "undetermined"]
    assert "contains the target" in t["reason"].iloc[2]
    assert "no confidence interval" in t["reason"].iloc[3]
    assert list(t["publish"]) == ["estimate", "estimate", "estimate", "none"]


@pytest.mark.parametrize("policy, verdict, publish", [
    ("verdict", ["not met", "undetermined", "met"], ["verdict"] * 3),
    ("caution", ["not met", "undetermined", "met"], ["caution"] * 3),
    ("none", ["undetermined"] * 3, ["none"] * 3),
])
def test_suppressed_cells_follow_the_publication_policy(policy, verdict, publish):
    # 安溪县 2024: estimate 7.6%, CI 3.9–14.3% wholly below 16%, suppressed for the width of its interval
    rows = _rows([0.076, 0.15, 0.30], [0.039, 0.08, 0.17], [0.143, 0.25, 0.45], rel="suppressed").assign(
        n_eff=[201.5, 90.0, 60.0], reason="relative Korn-Graubard CI width > 130% (NCHS 2017 criterion 3)")
    t = verdicts(rows, 0.16, suppressed=policy)
    assert list(t["verdict"]) == verdict and list(t["publish"]) == publish
    assert t["reason"].str.startswith("suppressed cell").all()
    assert t["n_eff"].tolist() == [201.5, 90.0, 60.0]
    with pytest.raises(ValueError, match="suppressed policy"):
        verdicts(rows, 0.16, suppressed="always")


def test_no_interval_publishes_nothing_whatever_the_policy():
    rows = _rows([np.nan], [np.nan], [np.nan], rel="suppressed", n=0)
    t = verdicts(rows, 0.16, suppressed="verdict")
    assert t["verdict"].iloc[0] == "undetermined" and t["publish"].iloc[0] == "none"


def test_p_value_on_logit_scale():
    # build a logit interval with known SE(logit) = .2 around p = .2 at df 30, then test H0: p <= .16
    from scipy import stats
    p, s, df = 0.2, 0.2, 30.0
    eta, t = np.log(p / (1 - p)), stats.t.ppf(0.975, df)
    lo, hi = 1 / (1 + np.exp(-(eta - t * s))), 1 / (1 + np.exp(-(eta + t * s)))
    r = verdicts(_rows([p], [lo], [hi], df=df), 0.16).iloc[0]
    expect = stats.t.sf((eta - np.log(0.16 / 0.84)) / s, df)
    assert r["p_value"] == pytest.approx(expect, rel=1e-10)
    z = verdicts(_rows([0.0], [0.0], [0.05]), 0.16).iloc[0]
    assert z["p_value"] == 1.0 and z["verdict"] == "not met"
