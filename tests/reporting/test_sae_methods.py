"""The methods text of the county model says which sampling variances and which σ²_u estimator were used."""

from types import SimpleNamespace

import numpy as np
import pandas as pd

from pipeline.estimation.sae import area_estimates
from pipeline.reporting.methods import sae_section


def _inputs(method, variances):
    rng = np.random.default_rng(3)
    x = rng.uniform(0.3, 0.9, 13)
    d = pd.DataFrame({"area": [f"县{i}" for i in range(13)], "n": 800, "est": 0.4 * x - 0.05 + rng.normal(0, 0.03, 13),
                      "se": rng.uniform(0.01, 0.03, 13), "urban_share": x})
    sae = area_estimates(d, ["urban_share"], method, variances=variances)
    sae["benchmark_factor"] = 1.0
    return SimpleNamespace(sae=sae, sae_spec={"covariates": ["urban_share"], "method": method, "benchmark": "none"},
                           ci="95%置信区间", ci_level=0.95)


def _text(section):
    return "".join(i for i in section.items if isinstance(i, str))


def test_smoothed_variances_are_stated():
    text = _text(sae_section(_inputs("REML", "smoothed")))
    assert "广义方差函数" in text and "合并设计效应" in text and "限制极大似然法（REML）" in text
    assert "取各县直接估计的设计方差" not in text


def test_direct_variances_and_adjusted_method_are_stated():
    text = _text(sae_section(_inputs("YL", "direct")))
    assert "取各县直接估计的设计方差" in text and "广义方差函数" not in text
    assert "Yoshimori–Lahiri" in text and "YL" not in text.replace("Yoshimori–Lahiri", "")
