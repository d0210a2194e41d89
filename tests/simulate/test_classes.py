"""The demo's score distribution matches the national 2024 literacy classes (DOMAIN.md §2), in the synthetic
population and, within sampling error, in the demo sample's weighted estimates.

National 2024: 2.30% advanced (total ≥ 85), 15.37% literate (≥ 70), 44.07% basic or better (≥ 55). The demo's
share literate is the wave's own (15.7% in 2024, WAVE_TARGET_SHARE: the city's path towards 16%), not the
national one; the two class shares are the national ones.

Achieved on the full synthetic population (truth.json): 2.33% advanced, 15.70% literate, 44.08% basic or
better. Weighted, with replicate standard errors, the demo sample of the test suite (300 interviews per
county unit, about 3,900 in all) gives advanced 2.56% (95% CI 1.92–3.41), literate 15.92% (14.32–17.66),
basic or better 44.34% (41.61–47.10); the `make survey-2024` demo (800 per unit, 10,663 scored) gives
2.40% (1.91–3.01), 15.59% (14.15–17.14) and 44.22% (41.98–46.49).
"""

from __future__ import annotations

import json

import pandas as pd
import pytest

from pipeline.simulate.literacy import WAVE_TARGET_SHARE

NATIONAL_2024 = {"advanced": 0.0230, "basic_or_better": 0.4407}
POPULATION_TOL = 0.003  # 0.3 percentage points: the tuning's target, far above the truth curves' Monte Carlo error
Z = 3.0  # sample vs population: |est − truth| ≤ 3 SE fails by chance about 3 times in 1,000 per statistic


def _population(raw) -> dict[str, float]:
    o = json.loads((raw / "truth.json").read_text(encoding="utf-8"))["overall"]
    return {"advanced": o["class_advanced"], "literate": o["literate"], "basic_or_better": 1.0 - o["class_low"]}


def test_population_classes_match_the_national_2024_classes(demo_raw):
    pop = _population(demo_raw.raw)
    assert pop["literate"] == pytest.approx(WAVE_TARGET_SHARE[2024], abs=1e-6)
    for k, want in NATIONAL_2024.items():
        assert abs(pop[k] - want) <= POPULATION_TOL, (k, pop[k], want)
    # the classes are ordered as published: advanced ≪ literate < basic or better
    assert pop["advanced"] < pop["literate"] / 5 and pop["basic_or_better"] > 2.5 * pop["literate"]


def test_sample_estimates_match_the_population_within_sampling_error(demo_estimated):
    est = pd.read_csv(demo_estimated.processed("estimates.csv"), encoding="utf-8-sig")
    city = est[(est["domain_type"] == "overall") & (est["variance_method"] == "replicate")].set_index("estimand_id")
    pop = _population(demo_estimated.raw)
    # basic or better is 1 − the 较低 class share; its SE is that of the 较低 share
    got = {"advanced": (city.at["class_advanced", "est"], city.at["class_advanced", "se"]),
           "literate": (city.at["literate", "est"], city.at["literate", "se"]),
           "basic_or_better": (1.0 - city.at["class_low", "est"], city.at["class_low", "se"])}
    for k, (e, se) in got.items():
        assert 0 < se < 0.05, (k, se)
        assert abs(e - pop[k]) <= Z * se, (k, e, se, pop[k])
    # and against the published national figures: sampling error plus the population's tuning tolerance
    for k, want in NATIONAL_2024.items():
        e, se = got[k]
        assert abs(e - want) <= Z * se + POPULATION_TOL, (k, e, se, want)
