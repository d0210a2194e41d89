"""Monte Carlo coverage of the county model intervals (Fay–Herriot EBLUP ± 1.96 √MSE) on the simulator.

The same samples as the direct-estimate coverage study (bench_coverage: one synthetic Quanzhou population,
the real design, test, scoring and post-stratified weights, Taylor SEs). For every sample the 13 county
direct estimates and their SEs feed the county model exactly as the estimate stage fits it
(pipeline.estimation.sae.area_estimates) by REML, ML and Prasad–Rao, REML with ratio benchmarking to the
city's direct estimate, the Yoshimori–Lahiri adjusted REML (σ̂²_u > 0), and REML and Yoshimori–Lahiri on
smoothed sampling variances (the pooled design effect GVF, `variances: smoothed`) instead of each county's ψ_i. Two area models are compared, each with county covariates known without the survey
(the census control tables; the pipeline's calibrated weights reproduce them): `urban`, the county's urban
share of the population, and `education`, its share with upper-secondary schooling or more (高中/中专 and
above). The share of samples whose model interval covers the county's true share is reported per county and
on average. Goal: 93–97% on average over the counties.

The direct SE is read back from the published logit interval, se = p(1−p)(logit uci − logit lci)/(2 t_df):
that is the linearised SE the interval was made from.

Coverage of a model interval is a statement about the model's average over its area effects: on one fixed
population, a county whose true share lies far from the regression line is covered less often than one
close to it (its EBLUP is pulled towards the line in every sample). So the study has two parts:

  model world   the 13 counties' area effects are drawn anew in every replicate from the model fitted to
                the first simulator sample (u_i ~ N(0, σ̂²_u), e_i ~ N(0, ψ_i) with that sample's direct
                variances): the coverage the MSE formula promises, per county (QZ_SAE_MODEL_REPS, 4000).
  simulator     the fixed synthetic population: coverage of each county's true share, conditional on
                that population's county effects.

Diagnostics beside the coverage (`diagnostics`): the distribution of σ̂²_u over the samples (share at 0,
mean, median) against the population's residual variance about the regression line, and the direct variances
ψ_i the model is fed against the Monte Carlo variance of the direct estimates (mean ratio, CV of ψ_i, df,
correlation of ψ_i with the estimate). The model world also checks the MSE formula as a parametric bootstrap:
mean estimated MSE over the Monte Carlo MSE of the EBLUP, per county (`mse_ratio`, 1 when the formula holds).

Run: `python -m benchmarks.bench_sae_coverage` (QZ_SAE_COVERAGE_REPS sets the number of samples; default 300,
about 20 minutes on one core).
"""

from __future__ import annotations

import json
import os
import sys
import time

import numpy as np
import pandas as pd
from scipy import stats

from benchmarks.bench_coverage import _setup, one_sample
from pipeline.estimation.sae import area_estimates
from pipeline.simulate import population

# (method, sampling variances, benchmarked): today's REML first, the smoothed-variance REML (the default) next
VARIANTS = (("REML", "direct", False), ("REML", "smoothed", False), ("ML", "direct", False), ("PR", "direct", False),
            ("REML", "direct", True), ("YL", "direct", False), ("YL", "smoothed", False))
# the variants of the model world (benchmarking is not part of the model)
MODEL_WORLD = (("REML", "direct"), ("REML", "smoothed"), ("ML", "direct"), ("PR", "direct"), ("YL", "direct"),
               ("YL", "smoothed"))


def _name(method: str, variances: str, bench: bool = False) -> str:
    return method + ("+smoothed" if variances == "smoothed" else "") + ("+benchmark" if bench else "")
# area models: name → covariates (the estimate stage's names, pipeline.estimation.sae.COVARIATES)
MODELS = {"urban": ["urban_share"], "education": ["upper_secondary_share"]}


def _direct_se(r: pd.DataFrame) -> np.ndarray:
    p, lo, hi, df = (r[c].to_numpy(float) for c in ("est", "lci", "uci", "df"))
    with np.errstate(divide="ignore", invalid="ignore"):
        t = stats.t.ppf(0.975, df)
        return p * (1 - p) * (np.log(hi / (1 - hi)) - np.log(lo / (1 - lo))) / (2 * t)


def model_world(direct: pd.DataFrame, covs: list[str], reps: int, seed: int = 20241) -> dict:
    """Coverage over the model itself: area effects and sampling errors redrawn around a fitted model.

    The sampling errors are drawn with the first sample's direct variances ψ_i, which every variant is given as
    the direct SEs; the smoothed variants replace them by their GVF, as they would in a real run."""
    fit = area_estimates(direct, covs, "REML")
    X = np.column_stack([np.ones(len(direct))] + [direct[c].to_numpy(float) for c in covs])
    beta = np.array([fit["beta_intercept"].iloc[0]] + [fit[f"beta_{c}"].iloc[0] for c in covs])
    s2, psi = float(fit["sigma2_u"].iloc[0]), direct["se"].to_numpy(float) ** 2
    rng = np.random.default_rng(seed)
    names = [_name(m, v) for m, v in MODEL_WORLD]
    hits = {v: np.zeros(len(direct)) for v in names}
    sq_err = {v: np.zeros(len(direct)) for v in names}
    mse_sum = {v: np.zeros(len(direct)) for v in names}
    for _ in range(reps):
        theta = X @ beta + rng.normal(0, np.sqrt(s2), len(direct))
        y = theta + rng.normal(0, np.sqrt(psi))
        d = direct.assign(est=y)
        for name, (method, variances) in zip(names, MODEL_WORLD, strict=True):
            m = area_estimates(d, covs, method, 0.95, variances=variances)
            # the model world is Gaussian and unbounded: the interval is not cut to 0–1 here
            mse = m["model_mse"].to_numpy()
            err = m["model_est"].to_numpy() - theta
            hits[name] += np.abs(err) <= 1.959963984540054 * np.sqrt(np.maximum(mse, 0))
            sq_err[name] += err ** 2
            mse_sum[name] += mse
    out = {"replicates": reps, "sigma2_u": s2, "beta": beta.tolist()}
    for name, h in hits.items():
        cov = h / reps
        ratio = mse_sum[name] / sq_err[name]
        out[name] = {"average_coverage": round(float(cov.mean()), 5), "min_coverage": round(float(cov.min()), 5),
                     "max_coverage": round(float(cov.max()), 5),
                     "counties_within_93_97": int(((cov >= 0.93) & (cov <= 0.97)).sum()),
                     "average_mse_ratio": round(float(ratio.mean()), 4),
                     "by_county": dict(zip(direct["area"], np.round(cov, 5).tolist(), strict=True)),
                     "mse_ratio_by_county": dict(zip(direct["area"], np.round(ratio, 4).tolist(), strict=True))}
    return out


def diagnostics(fits: pd.DataFrame, inputs: pd.DataFrame, residual_var: float) -> dict:
    """σ̂²_u over the samples against the population's residual variance; ψ_i against the Monte Carlo variance."""
    s2 = {}
    for variant, g in fits.groupby("variant", sort=False):
        v = g["sigma2_u"].to_numpy()
        s2[variant] = {"share_at_zero": round(float((v <= 1e-12).mean()), 4), "mean": float(v.mean()),
                       "median": float(np.median(v)), "q10": float(np.quantile(v, 0.1)),
                       "q90": float(np.quantile(v, 0.9))}
    by = inputs.groupby("county")
    t = pd.DataFrame({"mc_var_direct": by["est"].var(ddof=1), "mean_psi": by["psi"].mean(),
                      "cv_psi": by["psi"].std(ddof=1) / by["psi"].mean(), "mean_df": by["df"].mean(),
                      "corr_est_psi": by.apply(lambda g: g["est"].corr(g["psi"]), include_groups=False)})
    t["ratio_mean_psi_to_mc_var"] = t["mean_psi"] / t["mc_var_direct"]
    return {"population_residual_variance": residual_var, "sigma2_u": s2,
            "direct_variances": {"average_ratio_mean_psi_to_mc_var": round(float(t["ratio_mean_psi_to_mc_var"].mean()), 4),
                                 "average_cv_psi": round(float(t["cv_psi"].mean()), 4),
                                 "average_corr_est_psi": round(float(t["corr_est_psi"].mean()), 4),
                                 "by_county": {k: {c: float(x) for c, x in row.items()}
                                               for k, row in t.round(8).iterrows()}}}


def _summary(res: pd.DataFrame) -> dict:
    out = {}
    for variant, g in res.groupby("variant", sort=False):
        t = g.groupby("county").agg(truth=("truth", "first"), mean_est=("est", "mean"), coverage=("covered", "mean"),
                                    mean_width=("width", "mean"), direct_width=("direct_width", "mean"),
                                    samples=("covered", "size"))
        t["bias"] = t["mean_est"] - t["truth"]
        t["mc_se"] = np.sqrt(t["coverage"] * (1 - t["coverage"]) / t["samples"])
        out[variant] = {
            "average_coverage": round(float(t["coverage"].mean()), 5),
            "min_coverage": round(float(t["coverage"].min()), 5), "max_coverage": round(float(t["coverage"].max()), 5),
            "mean_width_model": round(float(t["mean_width"].mean()), 5),
            "mean_width_direct": round(float(t["direct_width"].mean()), 5),
            "counties_within_93_97": int(((t["coverage"] >= 0.93) & (t["coverage"] <= 0.97)).sum()),
            "by_county": {k: {c: float(v) for c, v in row.items()} for k, row in t.round(5).iterrows()},
        }
    return out


def run(reps: int | None = None) -> dict:
    reps = reps or int(os.environ.get("QZ_SAE_COVERAGE_REPS", "300"))
    start = time.perf_counter()
    inst, pop, theta, model, truth, cell, controls = _setup()
    names = np.array([x[2] for x in population.COUNTIES])
    persons = pop.persons
    county_of = names[persons["county_raw"].to_numpy() - 1]
    # county covariates from the whole population, as the census control tables give them
    cov = pd.DataFrame({"urban_share": persons["urban"].to_numpy(float),
                        "upper_secondary_share": (persons["edu_band"].to_numpy() >= 2).astype(float)}
                       ).groupby(county_of).mean()
    share = pd.Series(1.0, index=county_of).groupby(level=0).sum()
    share = share / share.sum()
    true = truth["literate"]["county"]
    rows, fits, inputs, rep, skipped, done, first = [], [], [], 0, 0, 0, None
    while done < reps and rep < 2 * reps:
        r = one_sample(rep, inst, pop, theta, model, cell, controls)
        rep += 1
        if r.empty:
            skipped += 1
            continue
        r = r.assign(se=_direct_se(r))
        city = float(r.loc[r["county"] == "全市", "est"].iloc[0])
        d = r[r["county"] != "全市"].sort_values("county").reset_index(drop=True)
        direct = pd.DataFrame({"area": d["county"], "n": d["n"], "est": d["est"], "se": d["se"]}).join(
            cov.reindex(d["county"]).reset_index(drop=True))
        if first is None:
            first = direct
        inputs.append(pd.DataFrame({"county": d["county"], "est": d["est"], "psi": d["se"] ** 2, "df": d["df"]}))
        for name, covs in MODELS.items():
            for method, variances, bench in VARIANTS:
                m = area_estimates(direct, covs, method, 0.95, share.reindex(d["county"]).to_numpy(),
                                   city if bench else None, variances)
                variant = _name(method, variances, bench)
                fits.append({"model": name, "variant": variant, "sigma2_u": float(m["sigma2_u"].iloc[0])})
                rows.append(pd.DataFrame({"rep": rep, "model": name, "variant": variant,
                                          "county": m["area"], "est": m["model_est"], "lci": m["model_lci"],
                                          "uci": m["model_uci"], "direct_lci": d["lci"], "direct_uci": d["uci"]}))
        done += 1
        if done % 50 == 0:
            print(f"   model coverage: {done}/{reps} samples, {time.perf_counter() - start:.0f}s", file=sys.stderr)
    res = pd.concat(rows, ignore_index=True)
    res["truth"] = res["county"].map(true)
    res["covered"] = (res["lci"] <= res["truth"]) & (res["truth"] <= res["uci"])
    res["width"] = res["uci"] - res["lci"]
    res["direct_width"] = res["direct_uci"] - res["direct_lci"]
    # how far each county's truth lies from the model's line: what the fixed population's coverage hinges on
    tv = pd.Series(true).reindex(cov.index).to_numpy()
    out = {"samples": int(res["rep"].nunique()), "skipped_empty_cells": skipped, "nominal": 0.95,
           "interval": "EBLUP ± 1.96 √MSE (Prasad–Rao / Datta–Lahiri MSE), cut to 0–1",
           "variants": {"REML": "REML on each county's direct variance (the method before smoothing)",
                        "REML+smoothed": "REML on GVF-smoothed variances (pooled design effect; the default)",
                        "YL": "Yoshimori-Lahiri adjusted REML", "+benchmark": "ratio-benchmarked to the city"},
           "goal": "93-97% on average over the 13 counties",
           "covariates": {"urban": ["urban share of the county's population"],
                          "education": ["share of the county's population with upper-secondary schooling or more"]},
           "models": {}}
    model_reps = int(os.environ.get("QZ_SAE_MODEL_REPS", "4000"))
    fits, inputs = pd.DataFrame(fits), pd.concat(inputs, ignore_index=True)
    for name, covs in MODELS.items():
        X = np.column_stack([np.ones(len(cov))] + [cov[c].to_numpy() for c in covs])
        b, *_ = np.linalg.lstsq(X, tv, rcond=None)
        resid = tv - X @ b
        residual_var = float(resid @ resid / (len(tv) - X.shape[1]))
        variants = _summary(res[res["model"] == name])
        out["models"][name] = {
            "covariates": covs,
            "diagnostics": diagnostics(fits[fits["model"] == name], inputs, residual_var),
            "population_fit": {"residual_sd": round(float(np.sqrt(residual_var)), 5),
                               "residual_by_county": dict(zip(cov.index, np.round(resid, 5).tolist(), strict=True))},
            "model_world": model_world(first, covs, model_reps),
            "variants": variants,
            "simulator": {v: {k: x for k, x in r.items() if k != "by_county"} for v, r in variants.items()},
        }
    out["seconds"] = time.perf_counter() - start
    return out


if __name__ == "__main__":
    print(json.dumps(run(), ensure_ascii=False, indent=2))
