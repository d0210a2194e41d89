"""Fay–Herriot model: REML fit and EBLUP against metafor (make_golden_sae.R), MSE by hand."""

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from pipeline.errors import PipelineError
from pipeline.estimation.sae import fay_herriot

GOLD = pd.read_csv(Path(__file__).resolve().parent.parent / "data" / "golden" / "estimation" / "sae_golden.csv")


@pytest.mark.parametrize("case", ["interior", "boundary"])
def test_reml_eblup_matches_metafor(case):
    g = GOLD[GOLD["case"] == case]
    X = np.column_stack([np.ones(len(g)), g["x"]])
    fh = fay_herriot(g["y"], g["psi"], X, "REML")
    assert fh.converged
    assert fh.sigma2_u == pytest.approx(g["sigma2_u"].iloc[0], rel=1e-6, abs=1e-12)
    np.testing.assert_allclose(fh.beta, [g["beta0"].iloc[0], g["beta1"].iloc[0]], rtol=1e-6)
    np.testing.assert_allclose(fh.est, g["model_est"], rtol=1e-6)
    # metafor's blup() se² is g1 + g2; the Prasad–Rao MSE adds 2·g3
    s2, psi = fh.sigma2_u, g["psi"].to_numpy()
    g3 = psi ** 2 / (s2 + psi) ** 3 * 2 / np.sum(1 / (s2 + psi) ** 2)
    np.testing.assert_allclose(fh.mse - 2 * g3, g["g12"], rtol=1e-6)


def test_balanced_case_by_hand():
    # y = .1,.2,.3,.4, ψ = .001, intercept only. REML with equal ψ: σ² = S² − ψ, S² = .05/3 = .0166667
    # → σ² = .0156667, γ = σ²/(σ²+ψ) = .94; g1 = γψ = .00094; g2 = (1−γ)²(σ²+ψ)/m = .0036·.0166667/4 = .000015;
    # g3 = 2ψ²/(m(σ²+ψ)) = 2e-6/.0666667 = .00003 → MSE = g1 + g2 + 2 g3 = .001015
    fh = fay_herriot([0.1, 0.2, 0.3, 0.4], [0.001] * 4, np.ones((4, 1)), "REML")
    assert fh.sigma2_u == pytest.approx(0.05 / 3 - 0.001, rel=1e-9)
    np.testing.assert_allclose(fh.shrinkage, 0.94, rtol=1e-9)
    np.testing.assert_allclose(fh.mse, 0.001015, rtol=1e-9)
    np.testing.assert_allclose(fh.est, 0.94 * np.array([0.1, 0.2, 0.3, 0.4]) + 0.06 * 0.25, rtol=1e-12)
    pr = fay_herriot([0.1, 0.2, 0.3, 0.4], [0.001] * 4, np.ones((4, 1)), "PR")
    assert pr.sigma2_u == pytest.approx(0.05 / 3 - 0.001, rel=1e-9)  # moment = REML when balanced


def test_refuses_bad_input():
    with pytest.raises(PipelineError, match="positive, finite sampling variance"):
        fay_herriot([0.1, 0.2, 0.3], [0.001, 0.0, 0.001], np.ones((3, 1)))
    with pytest.raises(PipelineError, match="more areas than coefficients"):
        fay_herriot([0.1], [0.001], np.ones((1, 1)))


GOLD_ML = pd.read_csv(Path(__file__).resolve().parent.parent / "data" / "golden" / "estimation" / "sae_golden_ml.csv")


@pytest.mark.parametrize("method", ["ML", "REML"])
@pytest.mark.parametrize("case", ["interior", "boundary", "small"])
def test_ml_and_reml_match_metafor_and_hand_written_likelihood(case, method):
    """σ²_u from metafor and from R's optimize() on the likelihood written by hand (make_golden_sae_ml.R);
    EBLUP from metafor's blup(); the full MSE (g1 + g2 + 2 g3, minus the ML bias term) computed in R."""
    g = GOLD_ML[(GOLD_ML["case"] == case) & (GOLD_ML["method"] == method)]
    X = np.column_stack([np.ones(len(g)), g["x"]])
    fh = fay_herriot(g["y"], g["psi"], X, method)
    assert fh.converged
    assert fh.sigma2_u == pytest.approx(g["sigma2_u"].iloc[0], rel=1e-6, abs=1e-12)
    assert fh.sigma2_u == pytest.approx(g["sigma2_u_optimize"].iloc[0], rel=1e-6, abs=1e-12)
    np.testing.assert_allclose(fh.beta, [g["beta0"].iloc[0], g["beta1"].iloc[0]], rtol=1e-6)
    np.testing.assert_allclose(fh.est, g["model_est"], rtol=1e-6)
    np.testing.assert_allclose(fh.mse, g["mse"], rtol=1e-6)


def test_ml_balanced_case_by_hand():
    # y = .1,.2,.3,.4, ψ = .001, intercept only. ML with equal ψ: σ² + ψ = Σ(y − ȳ)²/m = .05/4 = .0125
    # → σ² = .0115, γ = .92; g1 = .00092, g2 = (.08)²·.0125/4 = .00002, g3 = 2ψ²/(m(σ²+ψ)) = .00004,
    # b_ML = −tr[(X'V⁻¹X)⁻¹ X'V⁻²X] / Σ V⁻² with V = .0125: (v/m)(m/v²) / (m/v²) = −v/m = −.003125;
    # MSE = g1 + g2 + 2 g3 − b_ML (1 − γ)² = .00092 + .00002 + .00008 + .003125 · .0064
    fh = fay_herriot([0.1, 0.2, 0.3, 0.4], [0.001] * 4, np.ones((4, 1)), "ML")
    assert fh.sigma2_u == pytest.approx(0.0115, rel=1e-9)
    np.testing.assert_allclose(fh.mse, 0.00092 + 0.00002 + 0.00008 + 0.003125 * 0.0064, rtol=1e-9)


def test_synthetic_estimate_and_benchmark():
    from pipeline.estimation.sae import ratio_benchmark, synthetic

    fh = fay_herriot([0.1, 0.2, 0.3, 0.4], [0.001] * 4, np.ones((4, 1)), "REML")
    est, mse = synthetic(fh, [[1.0]])
    # intercept only: x'β̂ = ȳ = .25, MSE = σ² + (σ²+ψ)/m = .0156667 + .0166667/4
    assert est[0] == pytest.approx(0.25) and mse[0] == pytest.approx(0.05 / 3 - 0.001 + 0.05 / 12, rel=1e-9)
    b, factor = ratio_benchmark([0.1, 0.2], [0.25, 0.75], 0.2)
    # Σ W θ = .025 + .15 = .175 → factor .2/.175
    assert factor == pytest.approx(0.2 / 0.175) and float(np.dot([0.25, 0.75], b)) == pytest.approx(0.2)


def test_area_covariates_by_hand():
    from pipeline.estimation.sae import area_covariates

    frame = pd.DataFrame({"county": ["A", "A", "A", "B", "B"], "w": [1.0, 2.0, 3.0, 4.0, 1.0],
                          "urban": ["城镇", "乡村", "城镇", "乡村", "城镇"],
                          "education": ["初中", "高中/中专", "本科及以上", "大专", "小学及以下"]})
    x = area_covariates(frame, "county", "w", ["urban_share", "upper_secondary_share"])
    # A: urban (1 + 3) / 6, upper-secondary+ (2 + 3) / 6; B: urban 1 / 5, upper-secondary+ 4 / 5
    assert x.loc["A"].tolist() == pytest.approx([4 / 6, 5 / 6], rel=1e-12)
    assert x.loc["B"].tolist() == pytest.approx([1 / 5, 4 / 5], rel=1e-12)
    with pytest.raises(PipelineError, match="knows the covariates"):
        area_covariates(frame, "county", "w", ["age_share"])
    with pytest.raises(PipelineError, match="no respondent has education"):
        area_covariates(frame.assign(education="初中"), "county", "w", ["upper_secondary_share"])


def test_area_covariates_are_the_census_shares(demo_estimated):
    """The calibrated weights reproduce the census controls, so the covariates are known without the survey."""
    from pipeline.estimation.run import analysis_frame
    from pipeline.estimation.sae import area_covariates

    p = demo_estimated
    frame = analysis_frame(pd.read_parquet(p.processed("respondents.parquet")),
                           pd.read_parquet(p.processed("scores.parquet")), pd.read_parquet(p.processed("weights.parquet")))
    x = area_covariates(frame, "county_code", "w_final", ["urban_share", "upper_secondary_share"])
    ctl = pd.read_csv(p.raw / "controls" / "county_sex_age_urban.csv", encoding="utf-8-sig", dtype={"county_code": str})
    urban = ctl[ctl["urban"] == "城镇"].groupby("county_code")["population"].sum() / ctl.groupby("county_code")["population"].sum()
    edu = pd.read_csv(p.raw / "controls" / "county_education.csv", encoding="utf-8-sig", dtype={"county_code": str})
    upper = (edu[edu["education"].isin(["高中/中专", "大专", "本科及以上"])].groupby("county_code")["population"].sum()
             / edu.groupby("county_code")["population"].sum())
    np.testing.assert_allclose(x["urban_share"].reindex(urban.index), urban, rtol=1e-6)
    np.testing.assert_allclose(x["upper_secondary_share"].reindex(upper.index), upper, rtol=1e-6)
    assert 0.2 < upper.min() < upper.max() < 0.7
