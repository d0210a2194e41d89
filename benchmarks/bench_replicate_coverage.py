"""Coverage of replicate-variance intervals in small domains, under the df rule the estimators use.

Samples from ONE synthetic Quanzhou population, as bench_coverage draws them (PPS townships, villages,
dwellings, one adult, age/urban non-response, the real test and scoring rule). Weights: design weight
post-stratified to county × age band × urban; JKn replicates (one per PSU) are post-stratified again
each, so the replicate / full weight ratio varies within PSUs (re-calibrated replicates: the estimator's
row-level path). Domains: the city, each county (about 6–8 PSUs), county × urban and county × 60+.

Each 95% logit interval is counted twice: with the estimators' df (PSUs with domain members − strata
with domain members) and with the rule it replaced (rank of the domain's replicate weights summed to
PSUs − 1, tolerance 1e-5), so the table shows what the rule change does where df is small.

Run: `python -m benchmarks.bench_replicate_coverage` (QZ_COVERAGE_REPS samples; default 200, about 20 minutes
on one core).
"""

from __future__ import annotations

import json
import os
import sys
import time

import numpy as np
import pandas as pd
from scipy import stats

from benchmarks.bench_coverage import _setup
from pipeline.estimation import Design
from pipeline.estimation.domains import partition_by, restrict
from pipeline.simulate import literacy, population, sample
from pipeline.weighting.replicates import jkn_factors

PER_STRATUM = 400


def _truth(pop, theta, curves):
    p = pop.persons
    lit = curves.at(curves.p_ge[70.0], curves.locate(theta))
    names = np.array([c[2] for c in population.COUNTIES])
    county = names[p["county_raw"].to_numpy() - 1]
    urban = np.where(p["urban"].to_numpy() == 1, "城镇", "乡村")
    older = p["age"].to_numpy() >= 60
    frame = pd.DataFrame({"county": county, "urban": urban, "older": older, "lit": lit})
    out = {("city", "全市"): float(lit.mean())}
    out |= {("county", k): float(v) for k, v in frame.groupby("county")["lit"].mean().items()}
    out |= {("county_urban", f"{a}/{b}"): float(v) for (a, b), v in frame.groupby(["county", "urban"])["lit"].mean().items()}
    out |= {("county_60plus", k): float(v) for k, v in frame[frame["older"]].groupby("county")["lit"].mean().items()}
    return out


def _rank_df(tot: np.ndarray) -> float:
    """The replaced rule: rank of (PSUs with members × replicates) replicate-weight sums − 1."""
    if tot.shape[0] == 0:
        return -1.0
    s = np.linalg.svd(tot, compute_uv=False)
    return float((s > s[0] * 1e-5).sum() - 1) if s.size and s[0] > 0 else -1.0


def one_sample(rep, inst, pop, theta, model, cell, controls):
    rng = np.random.default_rng([778, rep])
    dw = sample.draw_sample(rng, pop, theta, PER_STRATUM).dwellings
    done = dw[dw["disposition"] == "1.1"].reset_index(drop=True)
    person = done["person"].to_numpy()
    ans = literacy.simulate_answers(rng, theta[person], model)
    pts, n_missing = literacy.score_answers(ans, model, inst)
    scored = n_missing <= 6
    total = np.round(pts.sum(axis=1), 9)
    w0 = done["n_adults"].to_numpy() / (done["p_psu"] * done["p_ssu"] * done["p_hh"]).to_numpy()
    cert = done["p_psu"].to_numpy() >= 1 - 1e-12
    stratum = np.where(cert, done["county_code"] + "/" + done["township"], done["county_code"])
    psu = np.where(cert, done["village"], done["township"])
    key = pd.Series(stratum) + "|" + pd.Series(psu)
    labels, p = np.unique(key.to_numpy(str), return_inverse=True)
    psu_stratum = np.array([x.split("|", 1)[0] for x in labels])
    jk = jkn_factors(psu_stratum, lonely_psu="remove")
    W = w0[:, None] * np.hstack([np.ones((len(labels), 1)), jk.factors])[p]
    c = cell[person]
    sums = np.stack([np.bincount(c, weights=W[:, r], minlength=controls.size) for r in range(W.shape[1])], 1)
    if (sums[controls > 0, 0] == 0).any():
        return pd.DataFrame()
    g = np.divide(controls[:, None], sums, out=np.ones_like(sums), where=sums > 0)
    W = W * g[c]
    people = pop.persons.iloc[person]
    df = pd.DataFrame({
        "stratum": stratum, "psu": psu, "w": W[:, 0],
        "county": np.array([x[2] for x in population.COUNTIES])[people["county_raw"].to_numpy() - 1],
        "urban": np.where(people["urban"].to_numpy() == 1, "城镇", "乡村"),
        "older": people["age"].to_numpy() >= 60,
        "literate": np.where(scored, (total >= 70).astype(float), np.nan),
    })
    d = Design(df, stratum="stratum", psu="psu", weight="w", replicate_weights=W[:, 1:], replicate_method="JKn",
               rscales=jk.rscales, lonely_psu="remove")
    county = partition_by(df, ["county"])
    parts = [partition_by(df, None), county, partition_by(df, ["county", "urban"]),
             restrict(county, df["older"].to_numpy(), {})]
    kinds = ["city", "county", "county_urban", "county_60plus"]
    r = d.estimate({"literate": df["literate"].to_numpy()}, "proportion", parts, ci_method="logit")
    names = [["全市"], list(county.labels["county"]), list(parts[2].labels["county"] + "/" + parts[2].labels["urban"]),
             list(county.labels["county"])]
    r["kind"] = [kinds[t] for t in r["partition"]]
    r["domain"] = [names[t][i] for t, i in zip(r["partition"], r["domain_index"], strict=True)]
    # the replaced rule's df, per domain, from the replicate weights of members summed to PSUs
    member = np.isfinite(df["literate"].to_numpy())
    old = []
    for part in parts:
        for k in range(part.size):
            rows = member & (np.asarray(part.codes) == k) & (W[:, 0] > 0)
            tot = np.zeros((d.P, W.shape[1] - 1))
            np.add.at(tot, d.p[rows], W[rows, 1:])
            old.append(_rank_df(tot[np.bincount(d.p[rows], minlength=d.P) > 0]))
    r["df_rank"] = old
    return r[["kind", "domain", "est", "se", "lci", "uci", "df", "df_rank"]].assign(rep=rep)


def _covered(res: pd.DataFrame, df_col: str) -> pd.Series:
    """Logit interval with `df_col` degrees of freedom, from the estimator's own SE(logit p)."""
    p = res["est"].to_numpy()
    lg = np.log(p / (1 - p))
    t_new = stats.t.ppf(0.975, res["df"].where(res["df"] > 0))
    se_lg = (np.log(res["uci"] / (1 - res["uci"])) - np.log(res["lci"] / (1 - res["lci"]))) / (2 * t_new)
    t = stats.t.ppf(0.975, res[df_col].where(res[df_col] > 0))
    lo, hi = 1 / (1 + np.exp(-(lg - t * se_lg))), 1 / (1 + np.exp(-(lg + t * se_lg)))
    return (lo <= res["truth"]) & (res["truth"] <= hi)


def run(reps: int | None = None) -> dict:
    reps = reps or int(os.environ.get("QZ_COVERAGE_REPS", "200"))
    start = time.perf_counter()
    inst, pop, theta, model, _truth_tab, cell, controls = _setup()
    from pipeline.simulate import ITEM_SEED

    truth = _truth(pop, theta, literacy.truth_curves(inst, model, ITEM_SEED))
    rows, skipped, rep = [], 0, 0
    while len(rows) < reps and rep < 2 * reps:
        r = one_sample(rep, inst, pop, theta, model, cell, controls)
        rep += 1
        if r.empty:
            skipped += 1
            continue
        rows.append(r)
        if len(rows) % 25 == 0:
            print(f"   replicate coverage: {len(rows)}/{reps} samples, {time.perf_counter() - start:.0f}s",
                  file=sys.stderr)
    res = pd.concat(rows, ignore_index=True)
    res["truth"] = [truth.get((k, d), np.nan) for k, d in zip(res["kind"], res["domain"], strict=True)]
    res = res[res["truth"].notna() & np.isfinite(res["lci"]) & np.isfinite(res["uci"])
              & (res["est"] > 0) & (res["est"] < 1)]
    res = res.assign(cov_count=_covered(res, "df"), cov_rank=_covered(res, "df_rank"))
    out = {}
    for kind, g in res.groupby("kind"):
        per = g.groupby("domain").agg(cov_count=("cov_count", "mean"), cov_rank=("cov_rank", "mean"),
                                      df_count=("df", "median"), df_rank=("df_rank", "median"))
        out[kind] = {
            "domains": int(len(per)), "intervals": int(len(g)),
            "coverage_count_df": float(g["cov_count"].mean()), "coverage_rank_df": float(g["cov_rank"].mean()),
            "median_df_count": float(g["df"].median()), "median_df_rank": float(g["df_rank"].median()),
            "worst_domain_coverage_count_df": float(per["cov_count"].min()),
            "worst_domain_coverage_rank_df": float(per["cov_rank"].min()),
        }
    return {
        "samples": int(len(rows)), "skipped_empty_cells": skipped, "per_stratum_target": PER_STRATUM,
        "variance": "JKn, each replicate post-stratified to county x age band x urban", "ci_method": "logit",
        "nominal": 0.95, "mc_se_per_interval": float(np.sqrt(0.95 * 0.05 / max(len(rows), 1))),
        "by_domain_type": out, "seconds": time.perf_counter() - start,
    }


if __name__ == "__main__":
    print(json.dumps(run(), ensure_ascii=False, indent=2))
