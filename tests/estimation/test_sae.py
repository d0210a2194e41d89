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
