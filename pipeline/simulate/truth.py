"""The population truth of a demo wave: expected shares and means over every person aged 18–69,
by the domains the pipeline estimates. Written to truth.json for validation; never read by the pipeline."""

from __future__ import annotations

import numpy as np

from pipeline.instruments.model import Instrument
from pipeline.simulate import population
from pipeline.simulate.literacy import TruthCurves

GROUPS = {"农民": 6, "产业工人": 7, "领导干部和公务员": 1}  # occupation codes; 老年人 is age 60–69


def _by(codes: np.ndarray, labels, values: np.ndarray) -> dict[str, float]:
    k = len(labels)
    s = np.bincount(codes, weights=values, minlength=k)
    n = np.bincount(codes, minlength=k)
    return {str(labels[i]): float(s[i] / n[i]) for i in range(k) if n[i] > 0}


def population_truth(pop: population.Population, theta: np.ndarray, curves: TruthCurves, inst: Instrument) -> dict:
    p = pop.persons
    theta = curves.locate(theta)  # one search for every curve below
    lit = curves.at(curves.p_ge[70.0], theta)
    adv = curves.at(curves.p_ge[85.0], theta)
    basic = curves.at(curves.p_ge[55.0], theta)
    total = curves.at(curves.mean_total, theta)
    names = [c.name_zh for c in population.COUNTIES]
    sex = (p["sex"].to_numpy() - 1).astype(np.int64)
    cuts = {
        "county": ((p["county_raw"].to_numpy() - 1).astype(np.int64), names),
        "sex": (sex, ["男", "女"]),
        "age_band": (population.age_band_index(p["age"].to_numpy()), list(population.AGE_BANDS)),
        "education": (p["edu_band"].to_numpy().astype(np.int64), list(population.EDU_BANDS)),
        "urban": ((1 - p["urban"].to_numpy()).astype(np.int64), ["城镇", "乡村"]),
    }
    out: dict = {
        "population": int(len(p)),
        "overall": {
            "literate": float(lit.mean()),
            "class_advanced": float(adv.mean()),
            "class_literate": float((lit - adv).mean()),
            "class_basic": float((basic - lit).mean()),
            "class_low": float((1 - basic).mean()),
            "score_total": float(total.mean()),
        },
    }
    dims = [d.id for d in inst.frameworks.dimensions]
    for d, dim in enumerate(dims):
        out["overall"][f"score_{dim}"] = float(curves.at(curves.mean_dims[:, d], theta).mean())
    out["literate"] = {name: _by(codes, labels, lit) for name, (codes, labels) in cuts.items()}
    occ = p["occupation"].to_numpy()
    groups = {g: float(lit[occ == code].mean()) for g, code in GROUPS.items()}
    groups["老年人"] = float(lit[p["age"].to_numpy() >= 60].mean())
    out["literate"]["group"] = groups
    return out
