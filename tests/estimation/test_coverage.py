"""Monte Carlo coverage of the 95% logit interval on a finite population with a known share (slow).

Population: 13 strata × 40 clusters of 150–350 adults; literacy follows a logistic model with a cluster
random effect (intra-cluster correlation), about 15% literate. Each sample draws 8 clusters per stratum
with replacement and equal probability, then 20 adults per drawn cluster without replacement: the
ultimate-cluster linearised variance is design-unbiased for this with-replacement first stage.
Coverage is counted for the city, a cross-class domain (women), an older-age domain and a single
county (8 PSUs, df = 7). `make bench` has the table written to benchmarks/results/estimation_coverage.json
(QZ_BENCH_RESULTS names the folder); run any other way, the test writes into its own temporary folder,
never into the tracked results.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from pipeline.estimation import Design
from pipeline.estimation.domains import partition_by, partition_flag
from pipeline.tableio import write_json

SAMPLES = 1000
SEED = 20241


def population(rng):
    rows = []
    for h in range(13):
        for c in range(40):
            size = int(rng.integers(150, 351))
            u = rng.normal(0, 0.6)
            female = rng.random(size) < 0.5
            older = rng.random(size) < 0.2
            eta = -1.95 + u + 0.25 * female - 0.6 * older + rng.normal(0, 0.3)
            y = rng.random(size) < 1 / (1 + np.exp(-eta))
            rows.append(pd.DataFrame({"h": h, "c": c, "female": female, "older": older, "y": y.astype(float)}))
    return pd.concat(rows, ignore_index=True)


@pytest.mark.slow
def test_logit_interval_coverage(tmp_path):
    rng = np.random.default_rng(SEED)
    pop = population(rng)
    truth = {"overall": pop["y"].mean(), "female": pop.loc[pop["female"], "y"].mean(),
             "older": pop.loc[pop["older"], "y"].mean(), "county_0": pop.loc[pop["h"] == 0, "y"].mean()}
    order = pop.sort_values(["h", "c"], kind="mergesort").index.to_numpy()
    sizes = pop.groupby(["h", "c"]).size().to_numpy()  # cluster h*40 + c
    starts = np.r_[0, np.cumsum(sizes)[:-1]]
    cols = {k: pop[k].to_numpy()[order] for k in ("h", "female", "older", "y")}
    hits = {k: 0 for k in truth}
    widths = {k: [] for k in truth}
    for _ in range(SAMPLES):
        # 8 clusters per stratum with replacement, then 20 adults without replacement in each
        clus = (np.arange(13)[:, None] * 40 + rng.integers(0, 40, (13, 8))).ravel()
        keys = rng.random((len(clus), sizes.max()))
        keys[np.arange(sizes.max())[None, :] >= sizes[clus][:, None]] = np.inf
        pick = np.argsort(keys, axis=1)[:, :20]
        idx = (starts[clus][:, None] + pick).ravel()
        smp = pd.DataFrame({k: v[idx] for k, v in cols.items()})
        smp["psu"] = np.repeat(np.arange(len(clus)), 20)  # a cluster drawn twice is two independent PSUs
        smp["w"] = np.repeat(40 / 8 * sizes[clus] / 20, 20)
        d = Design(smp, stratum="h", psu="psu", weight="w")
        county0 = partition_flag((smp["h"] == 0).to_numpy(), {"d": "county_0"})
        r = d.estimate({"y": smp["y"].to_numpy()}, "proportion",
                       [partition_by(smp, None), partition_flag(smp["female"].to_numpy(), {"d": "f"}),
                        partition_flag(smp["older"].to_numpy(), {"d": "o"}), county0], ci_method="logit")
        for (_, row), key in zip(r.iterrows(), ["overall", "female", "older", "county_0"], strict=True):
            hits[key] += row["lci"] <= truth[key] <= row["uci"]
            widths[key].append(row["uci"] - row["lci"])
    table = {k: {"truth": float(truth[k]), "coverage": hits[k] / SAMPLES,
                 "mc_se": float(np.sqrt(0.95 * 0.05 / SAMPLES)), "mean_width": float(np.mean(widths[k]))}
             for k in truth}
    write_json({"samples": SAMPLES, "seed": SEED, "nominal": 0.95, "ci_method": "logit",
                "design": "13 strata, 8 PSUs with replacement x 20 adults", "domains": table},
               Path(os.environ.get("QZ_BENCH_RESULTS") or tmp_path) / "estimation_coverage.json")
    for k, v in table.items():
        assert 0.93 <= v["coverage"] <= 0.97, (k, v)
    assert 0.12 < truth["overall"] < 0.18
