"""A small synthetic wave (respondents, scores, weights + spec files) for run_estimate tests."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pandas as pd

from pipeline.paths import ROOT, WavePaths
from pipeline.schemas import RESPONDENTS, SCORES, WEIGHTS
from pipeline.survey_design.record import write_record
from pipeline.tableio import write_table
from tests.design_records import record, uncollapsed_margin

COUNTIES = [("350502", "鲤城区"), ("350503", "丰泽区"), ("350504", "洛江区"), ("350505", "泉港区"),
            ("350521", "惠安县"), ("350524", "安溪县"), ("350525", "永春县"), ("350526", "德化县"),
            ("350581", "石狮市"), ("350582", "晋江市"), ("350583", "南安市"), ("QZKF", "泉州开发区"),
            ("QZTS", "泉州台商投资区")]
BANDS = ["18-29", "30-39", "40-49", "50-59", "60-69"]
EDU = ["小学及以下", "初中", "高中/中专", "大专", "本科及以上"]


def make_wave(root: Path, wave: int = 2024, seed: int = 7, psu_per_county: int = 4, per_psu: int = 15,
              design: dict | None = None) -> WavePaths:
    """`design`: keywords of tests.design_records.record (primary, lonely_psu, ...) for the design record."""
    rng = np.random.default_rng(seed)
    rows = []
    for code, name in COUNTIES:
        for j in range(psu_per_county):
            psu_effect = rng.normal(0, 0.5)
            for k in range(per_psu):
                age = int(rng.integers(18, 70))
                rows.append(dict(county_code=code, county=name, psu=f"{code}{j:03d}", ssu=f"{code}{j:03d}{k % 3}",
                                 age=age, psu_effect=psu_effect))
    df = pd.DataFrame(rows)
    n = len(df)
    df["respondent_id"] = [f"R{i:05d}" for i in range(n)]
    df["wave"] = wave
    df["stratum"] = df["county_code"]
    df["p_psu"] = 0.2
    df["p_ssu"] = 0.5
    df["p_hh"] = rng.uniform(0.005, 0.02, n)
    df["n_adults"] = rng.integers(1, 5, n)
    df["sex"] = np.where(rng.random(n) < 0.5, "男", "女")
    df["age_band"] = pd.cut(df["age"], [17, 29, 39, 49, 59, 69], labels=BANDS).astype(str)
    df["education"] = np.array(EDU, dtype=object)[rng.integers(0, 5, n)]
    df["urban"] = np.where(rng.random(n) < 0.6, "城镇", "乡村")
    occ = rng.integers(0, 4, n)
    df["occupation"] = np.array(["农林牧渔", "生产制造", "办公室", "其他"], dtype=object)[occ]
    df["hukou"] = "本地"
    df["interviewer_id"] = "I01"
    df["interview_minutes"] = 30.0
    df["is_farmer"] = occ == 0
    df["is_worker"] = occ == 1
    df["is_elderly"] = df["age"] >= 60
    df["is_official"] = (occ == 2) & (rng.random(n) < 0.3)
    resp = df[RESPONDENTS.names].copy()
    # scores: latent literacy with PSU clustering; about 15% literate
    edu_i = pd.Series(df["education"]).map({e: i for i, e in enumerate(EDU)}).to_numpy()
    latent = 52 + 5 * edu_i - 0.15 * (df["age"] - 40) + 6 * df["psu_effect"] + rng.normal(0, 10, n)
    total = np.clip(np.round(latent, 1), 0, 100)
    scored = rng.random(n) > 0.03
    level = np.select([total >= 85, total >= 70, total >= 55], ["高阶", "具备", "基本具备"], "较低").astype(object)
    sc = pd.DataFrame({"respondent_id": df["respondent_id"], "scored": scored,
                       "n_missing": np.where(scored, 0, 12).astype(int),
                       "knowledge": total * 0.4, "methods": total * 0.2, "spirit": total * 0.2, "ability": total * 0.2,
                       "total": total, "level": level,
                       "literate": pd.array(total >= 70, dtype="boolean")})
    for c in ["knowledge", "methods", "spirit", "ability", "total"]:
        sc.loc[~scored, c] = np.nan
    sc["level"] = sc["level"].where(scored, None)
    sc["literate"] = sc["literate"].where(scored, pd.NA)
    for b in range(1, 27):
        sc[f"bench_{b:02d}"] = np.where(scored, np.clip(total / 100 + rng.normal(0, 0.1, n), 0, 1), np.nan)
    # weights: base × nonresponse; JKn replicates by PSU deletion within the county
    w = (df["n_adults"] / (df["p_psu"] * df["p_ssu"] * df["p_hh"])).to_numpy(float)
    wt = pd.DataFrame({"respondent_id": df["respondent_id"], "stratum": df["stratum"], "psu": df["psu"],
                       "w_base": w, "w_nr": w, "w_cal": w, "w_final": w})
    psus = df[["stratum", "psu"]].drop_duplicates().reset_index(drop=True)
    reps, rscales = [], []
    for _, (h, p) in psus.iterrows():
        nh = (psus["stratum"] == h).sum()
        f = np.where(df["psu"] == p, 0.0, np.where(df["stratum"] == h, nh / (nh - 1), 1.0))
        reps.append(w * f)
        rscales.append((nh - 1) / nh)
    repw = pd.DataFrame(np.column_stack(reps), columns=[f"w_rep_{i + 1:03d}" for i in range(len(reps))])
    wt = pd.concat([wt, repw], axis=1)
    paths = WavePaths(wave, root=root)
    write_table(resp, paths.processed("respondents.parquet"), RESPONDENTS)
    write_table(sc, paths.processed("scores.parquet"), SCORES)
    margins = [uncollapsed_margin(name, by, resp) for name, by in
               (("county_sex", ["county_code", "sex"]), ("county_education", ["county_code", "education"]))]
    write_table(wt, paths.processed("weights.parquet"), WEIGHTS)
    write_record(record(list(repw.columns), rscales, margins=margins, **(design or {})),
                 paths.processed("design.json"))
    paths.spec.mkdir(parents=True, exist_ok=True)
    shutil.copy(ROOT / "survey_instruments" / "2024" / "estimands.yaml", paths.estimands)
    return paths
