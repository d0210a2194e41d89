"""Final evaluation: the verdict against the target per domain, and the city's position against
published provincial and national figures.

Verdicts are the estimation stage's (targets.csv of the final wave: met when the CI at the wave's ci.level
lies above the target, not met when below, undetermined otherwise); they are carried over, not recomputed,
so the wave report and the evaluation report never disagree. Published figures have no published SE, so
they are treated as fixed: the city is above a figure when its whole CI lies above it.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from pipeline.assessment.spec import AssessmentSpec
from pipeline.publishing.labels import MODEL_LABEL, verdict_label
from pipeline.schemas import C, TableSchema

POSITION_ZH = {"above": "高于", "below": "低于", "indistinguishable": "无显著差异"}

VERDICTS = TableSchema("assessment_verdicts", (
    C("wave", "int", False), C("domain_type", "str", False), C("domain", "str", False), C("n", "int", False),
    C("est", "float"), C("lci", "float"), C("uci", "float"), C("target", "float", False), C("gap", "float"),
    C("p_value", "float"), C("verdict", "str", False), C("publish", "str", False), C("verdict_zh", "str", False),
    C("reliability", "str", False), C("reason", "str"), C("n_eff", "float")), key=("domain_type", "domain"))

POSITION = TableSchema("assessment_position", (
    C("area", "str", False), C("area_zh", "str", False), C("published_year", "int", False),
    C("published_est", "float", False), C("wave", "int", False), C("est", "float", False),
    C("lci", "float", False), C("uci", "float", False), C("diff", "float", False),
    C("position", "str", False), C("position_zh", "str", False), C("same_year", "bool", False),
    C("source", "str", False), C("note", "str")), key=("area", "published_year", "wave"))


def final_verdicts(targets: pd.DataFrame) -> pd.DataFrame:
    """The final wave's verdicts, with the words every report and table prints (one labelling function)."""
    out = targets.copy()
    out["verdict_zh"] = [verdict_label(v, p) for v, p in zip(out["verdict"], out["publish"], strict=True)]
    return out[[c.name for c in VERDICTS.columns]].reset_index(drop=True)


def position(city: pd.DataFrame, spec: AssessmentSpec) -> pd.DataFrame:
    """city: trend rows of the overall domain in the current series (wave, est, lci, uci, reliability).

    For every published figure from a year with a survey wave, the same-year comparison; for each area,
    also its latest figure against the latest wave (the year gap is in the note). The city's own published
    baseline is left out: it is compared in the changes table, where its break in series is declared."""
    city = city[city["reliability"] != "suppressed"].set_index("wave").sort_index()
    if city.empty:
        return pd.DataFrame(columns=[c.name for c in POSITION.columns])
    latest_wave = int(city.index.max())
    rows = []
    b = spec.baseline
    published = [p for p in spec.published if not (p.year == b.year and abs(p.est - b.est) < 1e-12)]
    for area in dict.fromkeys(p.area for p in published):
        figs = sorted((p for p in published if p.area == area), key=lambda p: p.year)
        pairs = [(p, p.year) for p in figs if p.year in city.index]
        if all(w != latest_wave for _, w in pairs):
            pairs.append((figs[-1], latest_wave))
        for p, wave in pairs:
            r = city.loc[wave]
            pos = "above" if r["lci"] > p.est else "below" if r["uci"] < p.est else "indistinguishable"
            note = None
            if p.year != wave:
                note = f"最新发布值为{p.year}年，与{wave}年调查相隔{wave - p.year}年"
            rows.append({"area": p.area, "area_zh": p.area_zh, "published_year": p.year, "published_est": p.est,
                         "wave": wave, "est": float(r["est"]), "lci": float(r["lci"]), "uci": float(r["uci"]),
                         "diff": float(r["est"]) - p.est, "position": pos, "position_zh": POSITION_ZH[pos],
                         "same_year": p.year == wave, "source": p.source, "note": note})
    out = pd.DataFrame(rows)
    out["note"] = out["note"].astype("string")
    return out[[c.name for c in POSITION.columns]]


def county_rows(trend: pd.DataFrame, wave: int, sae: pd.DataFrame | None = None) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(rows to rank, rows listed apart) for the final wave's counties.

    A county whose direct estimate is withheld is ranked by its model estimate (sae.csv, √MSE as its SE),
    marked as such; without a model estimate it is listed apart with the reason."""
    rows = trend[(trend["wave"] == wave) & (trend["domain_type"] == "county")].copy()
    ok = (rows["reliability"] != "suppressed") & np.isfinite(rows["se"]) & (rows["se"] > 0)
    ranked = rows[ok].assign(basis="direct")
    rest = rows[~ok]
    model = sae.set_index("area") if sae is not None and len(sae) else None
    add, apart = [], []
    for r in rest.itertuples(index=False):
        if model is not None and r.domain in model.index and np.isfinite(model.loc[r.domain, "model_est"]):
            m = model.loc[r.domain]
            add.append({"wave": wave, "domain": r.domain, "est": float(m["model_est"]),
                        "se": float(np.sqrt(m["model_mse"])), "basis": "model"})
        else:
            apart.append({"wave": wave, "domain": r.domain, "reason": "直接估计不予发布，且没有模型估计"})
    if add:
        ranked = pd.concat([ranked[["wave", "domain", "est", "se", "basis"]], pd.DataFrame(add)], ignore_index=True)
    return ranked[["wave", "domain", "est", "se", "basis"]], pd.DataFrame(apart, columns=["wave", "domain", "reason"])


BASIS_ZH = {"direct": "直接估计", "model": MODEL_LABEL}
