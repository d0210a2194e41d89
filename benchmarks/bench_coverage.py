"""Monte Carlo coverage on the simulator: many samples from ONE synthetic Quanzhou population, each
weighted and estimated the way the pipeline does, and the share of 95% intervals that cover the
population truth (the city and every county). Goal: 93–97% coverage.

Each replicate sample goes through the real design (PPS townships and villages, systematic dwellings,
one adult, age- and urban-dependent non-response), the real test (2PL answers, don't-know, guessing) and
the real scoring rule. Weights: design weight × post-stratification to the population's county × age
band × urban counts (non-response depends on age and urban only, so these cells remove its bias). A
sample with an empty post-stratum is drawn again (a real run would collapse the cell), until the study
has the requested number of usable samples.
Variance: Taylor linearisation with calibration residuals (Design(calibration=…)), logit intervals
with design df.

Run: `python -m benchmarks.bench_coverage` (QZ_COVERAGE_REPS sets the number of samples; default 500).
"""

from __future__ import annotations

import json
import os
import sys
import time

import numpy as np
import pandas as pd

from pipeline.estimation import Design
from pipeline.instruments import load_instrument
from pipeline.paths import wave_paths
from pipeline.simulate import ITEM_SEED, POP_SEED, literacy, population, sample
from pipeline.simulate.truth import population_truth

PER_STRATUM = 400


def _setup():
    inst = load_instrument(wave_paths(2024).instrument)
    pop = population.build_population(POP_SEED)
    rng = np.random.default_rng([POP_SEED, 2])
    vill = pop.villages
    town = pd.Index(pop.townships["township"]).get_indexer(vill["township"])
    theta0 = literacy.latent_trait(rng, pop.persons, np.array([c[5] for c in population.COUNTIES]),
                                   len(pop.townships), len(vill), town)
    model = literacy.item_model(inst, ITEM_SEED)
    curves = literacy.truth_curves(inst, model, ITEM_SEED)
    theta = theta0 + literacy.calibrate_intercept(theta0, curves, literacy.WAVE_TARGET_SHARE[2024])
    truth = population_truth(pop, theta, curves, inst)
    p = pop.persons
    cell = (p["county_raw"].to_numpy().astype(np.int64) - 1) * 5 + population.age_band_index(p["age"].to_numpy())
    cell = cell * 2 + (1 - p["urban"].to_numpy())
    controls = np.bincount(cell, minlength=13 * 10)
    return inst, pop, theta, model, truth, cell, controls


def one_sample(rep: int, inst, pop, theta, model, cell, controls) -> pd.DataFrame:
    rng = np.random.default_rng([777, rep])
    dw = sample.draw_sample(rng, pop, theta, PER_STRATUM).dwellings
    done = dw[dw["disposition"] == "1.1"].reset_index(drop=True)
    person = done["person"].to_numpy()
    ans = literacy.simulate_answers(rng, theta[person], model)
    pts, n_missing = literacy.score_answers(ans, model, inst)
    scored = n_missing <= 6
    total = np.round(pts.sum(axis=1), 9)
    w = done["n_adults"].to_numpy() / (done["p_psu"] * done["p_ssu"] * done["p_hh"]).to_numpy()
    c = cell[person]
    sums = np.bincount(c, weights=w, minlength=controls.size)
    if (sums[controls > 0] == 0).any():
        return pd.DataFrame()  # an empty post-stratum: a real run would collapse cells; skip the sample
    w = w * controls[c] / sums[c]
    # certainty townships are strata with villages as PSUs, exactly as ingest sets it up
    cert = done["p_psu"].to_numpy() >= 1 - 1e-12
    df = pd.DataFrame({
        "stratum": np.where(cert, done["county_code"] + "/" + done["township"], done["county_code"]),
        "psu": np.where(cert, done["village"], done["township"]),
        "county": np.array([x[2] for x in population.COUNTIES])[pop.persons["county_raw"].to_numpy()[person] - 1],
        "cell": c, "w": w,
        "literate": np.where(scored, (total >= 70).astype(float), np.nan),
    })
    d = Design(df, stratum="stratum", psu="psu", weight="w", lonely_psu="adjust",
               calibration={"margins": [["cell"]]})
    city = d.proportion("literate", ci_method="logit").assign(county="全市")
    county = d.proportion("literate", by=["county"], ci_method="logit")
    out = pd.concat([city, county], ignore_index=True)[["county", "est", "lci", "uci", "df"]].assign(rep=rep)
    # the unweighted share, to show what the weights correct (equal allocation, age/urban non-response)
    ok = df["literate"].notna()
    raw = df[ok].groupby("county")["literate"].mean()
    raw["全市"] = df.loc[ok, "literate"].mean()
    out["est_unweighted"] = out["county"].map(raw).to_numpy()
    n_scored = df[ok].groupby("county").size()
    n_scored["全市"] = int(ok.sum())
    out["n"] = out["county"].map(n_scored).to_numpy()  # respondents with a score: the model's GVF needs them
    return out


def run(reps: int | None = None) -> dict:
    reps = reps or int(os.environ.get("QZ_COVERAGE_REPS", "500"))
    start = time.perf_counter()
    inst, pop, theta, model, truth, cell, controls = _setup()
    true = {"全市": truth["overall"]["literate"], **truth["literate"]["county"]}
    rows, skipped, rep = [], 0, 0
    while len(rows) < reps and rep < 2 * reps:
        r = one_sample(rep, inst, pop, theta, model, cell, controls)
        rep += 1
        if r.empty:
            skipped += 1
            continue
        rows.append(r)
        if len(rows) % 25 == 0:
            print(f"   coverage: {len(rows)}/{reps} samples, {time.perf_counter() - start:.0f}s", file=sys.stderr)
    res = pd.concat(rows, ignore_index=True)
    res["truth"] = res["county"].map(true)
    res["covered"] = (res["lci"] <= res["truth"]) & (res["truth"] <= res["uci"])
    table = res.groupby("county").agg(truth=("truth", "first"), mean_est=("est", "mean"),
                                      mean_unweighted=("est_unweighted", "mean"), coverage=("covered", "mean"),
                                      mean_width=("uci", "mean"), samples=("covered", "size"))
    table["mean_width"] = table["mean_width"] - res.groupby("county")["lci"].mean()
    n = table["samples"]
    table["mc_se"] = np.sqrt(table["coverage"] * (1 - table["coverage"]) / n)
    table["bias_weighted"] = table["mean_est"] - table["truth"]
    table["bias_unweighted"] = table["mean_unweighted"] - table["truth"]
    out = {
        "samples": int(len(rows)), "skipped_empty_cells": skipped, "per_stratum_target": PER_STRATUM,
        "ci_method": "logit, design df", "variance": "Taylor with post-stratification residuals",
        "nominal": 0.95, "goal": "93-97% for the city and each county",
        "coverage": {k: {c: float(v) for c, v in row.items()} for k, row in table.round(5).iterrows()},
        "counties_within_93_97": int(((table["coverage"] >= 0.93) & (table["coverage"] <= 0.97)).sum()),
        "seconds": time.perf_counter() - start,
    }
    return out


if __name__ == "__main__":
    print(json.dumps(run(), ensure_ascii=False, indent=2))
