"""The weighted trend, its projection SE and the mid-term status rules, against hand-worked numbers."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from pipeline.assessment.projection import (
    AT_RISK,
    OFF_TRACK,
    ON_TRACK,
    UNDETERMINED,
    expit,
    fit_trend,
    logit,
    project,
    status_of,
)


def test_equal_se_line_and_projection_se():
    # years 2021–2023, shares 12, 13, 14%, se 1 point each: weights 1e4, centre 2022, X'WX = 1e4·diag(3, 2)
    # β = (0.13, 0.01); at 2025 x0 = (1, 3): value 0.16, var = 1e-4·(1/3 + 9/2) = 29/60000, se = 0.0219848
    t = fit_trend([2021, 2022, 2023], [0.12, 0.13, 0.14], [0.01, 0.01, 0.01])
    assert t.centre == pytest.approx(2022)
    assert t.slope == pytest.approx(0.01)
    assert t.chi2 == pytest.approx(0.0, abs=1e-18)
    assert t.inflation == 1.0
    value, se = t.at(2025)
    assert value == pytest.approx(0.16)
    assert se == pytest.approx(math.sqrt(29 / 60000))
    assert se == pytest.approx(0.0219848, abs=1e-7)


def test_unequal_se_and_birge_inflation():
    # y = 0.10, 0.14, 0.12 with se 0.01, 0.02, 0.01 → w = 1e4, 2500, 1e4; centre 2022 (symmetric)
    # X'Wy = (2550, 200) → β0 = 2550/22500 = 0.113333, β1 = 200/20000 = 0.01
    # residuals −0.003333, 0.026667, −0.003333 → X² = 2·1e4·0.003333² + 2500·0.026667² = 0.2222 + 1.7778 = 2
    # k − 2 = 1 → inflation 2; at 2025: 0.113333 + 0.03 = 0.143333, var = 2·(1/22500 + 9/20000) = 0.000988889
    t = fit_trend([2021, 2022, 2023], [0.10, 0.14, 0.12], [0.01, 0.02, 0.01])
    assert t.intercept == pytest.approx(2550 / 22500)
    assert t.slope == pytest.approx(0.01)
    assert t.chi2 == pytest.approx(2.0)
    assert t.inflation == pytest.approx(2.0)
    value, se = t.at(2025)
    assert value == pytest.approx(0.143333, abs=1e-6)
    assert se == pytest.approx(math.sqrt(0.000988889), rel=1e-6)


def test_inflation_never_deflates_and_two_waves_are_exact():
    # two waves fit exactly: no residual df, so no inflation; the slope SE is sqrt(se1² + se2²) / 1 year
    t = fit_trend([2021, 2022], [0.12, 0.13], [0.003, 0.004])
    assert t.inflation == 1.0
    assert math.sqrt(t.cov[1, 1]) == pytest.approx(0.005)
    with pytest.raises(ValueError):
        fit_trend([2021], [0.12], [0.01])
    with pytest.raises(ValueError):
        fit_trend([2021, 2022], [0.12, 0.13], [0.01, 0.0])


@pytest.mark.parametrize(("lower", "upper", "comparison", "expected"), [
    (0.161, 0.20, ">", ON_TRACK),
    (0.16, 0.20, ">", AT_RISK),     # "above 16%": a lower bound of exactly 16% is not above it
    (0.16, 0.20, ">=", ON_TRACK),   # "at least": it is
    (0.10, 0.16, ">", OFF_TRACK),   # even the optimistic bound fails "above 16%"
    (0.10, 0.16, ">=", AT_RISK),
    (0.10, 0.159, ">=", OFF_TRACK),
])
def test_status_rule_boundaries(lower, upper, comparison, expected):
    assert status_of(lower, upper, 0.16, comparison) == expected


def _trend_rows(logits, se_logit=0.1, waves=(2021, 2022, 2023), dtype="overall", domain="全市", rel=None):
    p = expit(np.asarray(logits))
    return pd.DataFrame({"wave": list(waves), "series": 1, "domain_type": dtype, "domain": domain, "est": p,
                         "se": se_logit * p * (1 - p), "reliability": rel or ["ok"] * len(waves)})


def test_projection_on_the_logit_scale_hand_worked():
    # logit p = −2 + 0.1·(year − 2021) exactly, logit se 0.1 each (se = 0.1·p(1−p) by the delta method)
    # 2025: logit −1.6 → p = 1/(1 + e^1.6) = 0.167982; logit se = 0.1·sqrt(1/3 + 9/2) = 0.219848
    # 80%: z = 1.281552 → logit bounds −1.6 ∓ 0.281748 → e^1.881748 = 6.5649, e^1.318252 = 3.7368 → 0.132188 and 0.211109; logit(0.16) = −1.658228
    # lies between the bounds → at risk
    out = project(_trend_rows([-2.0, -1.9, -1.8]), 2025, 0.16, ">", 0.80, 2).iloc[0]
    assert out["projection"] == pytest.approx(1 / (1 + math.exp(1.6)))
    assert out["lower"] == pytest.approx(expit(-1.6 - 1.2815516 * 0.1 * math.sqrt(29 / 6)), rel=1e-6)
    assert out["upper"] == pytest.approx(expit(-1.6 + 1.2815516 * 0.1 * math.sqrt(29 / 6)), rel=1e-6)
    assert out["lower"] == pytest.approx(0.132188, abs=2e-6)
    assert out["upper"] == pytest.approx(0.211109, abs=2e-6)
    assert out["projection_se"] == pytest.approx(0.1 * math.sqrt(29 / 6) * 0.167982 * (1 - 0.167982), rel=1e-5)
    assert out["status"] == AT_RISK
    assert out["waves"] == "2021–2023"


def test_projection_statuses_and_undetermined_cases():
    rising = project(_trend_rows([-1.5, -1.3, -1.1], se_logit=0.02), 2025, 0.16, ">", 0.80, 2).iloc[0]
    assert rising["status"] == ON_TRACK and rising["lower"] > 0.16
    falling = project(_trend_rows([-2.2, -2.3, -2.4], se_logit=0.02), 2025, 0.16, ">", 0.80, 2).iloc[0]
    assert falling["status"] == OFF_TRACK and falling["upper"] < 0.16
    assert 0 < falling["lower"] < falling["projection"]  # bounds stay inside 0–1 on the logit scale
    lone = project(_trend_rows([-2.0], waves=(2021,)), 2025, 0.16, ">", 0.80, 2).iloc[0]
    assert lone["status"] == UNDETERMINED and "至少需要2次" in lone["reason"]
    sup = project(_trend_rows([-2.0, -1.9], waves=(2021, 2022), rel=["ok", "suppressed"]), 2025, 0.16, ">",
                  0.80, 2).iloc[0]
    assert sup["status"] == UNDETERMINED and "2022年" in sup["reason"] and np.isnan(sup["projection"])


def test_logit_expit_inverse():
    p = np.array([0.01, 0.16, 0.5, 0.93])
    assert np.allclose(expit(logit(p)), p)
