"""A small synthetic wave for the weighting tests and benchmark: respondents, contacts and controls
with the columns of the data contract, drawn with numpy from a fixed seed.

Every sampled household gets a person; census controls are the base-weighted totals of all eligible
sampled persons times a little noise, so the frame ratio is near 1 and non-response (which depends on
age and urban/rural) is what calibration has to correct.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

COUNTIES = ["350502", "350503", "350504", "350505", "350521", "350524", "350525", "350526", "350581",
            "350582", "350583", "QZKF", "QZTS"]
SEXES = ["男", "女"]
AGE_BANDS = ["18-29", "30-39", "40-49", "50-59", "60-69"]
EDUCATION = ["小学及以下", "初中", "高中/中专", "大专", "本科及以上"]
URBAN = ["城镇", "乡村"]


def make_wave(seed: int = 1, counties: list[str] | None = None, psu_per_county: int = 6, ssu_per_psu: int = 3,
              hh_per_ssu: int = 20, wave: int = 2024) -> dict[str, pd.DataFrame]:
    rng = np.random.default_rng(seed)
    counties = counties or COUNTIES
    n_psu = len(counties) * psu_per_county
    psu_county = np.repeat(np.arange(len(counties)), psu_per_county)
    psu_urban = (np.arange(n_psu) % psu_per_county) < (psu_per_county + 1) // 2  # both kinds in every county
    p_psu = rng.uniform(0.15, 0.6, n_psu)
    n_ssu = n_psu * ssu_per_psu
    ssu_psu = np.repeat(np.arange(n_psu), ssu_per_psu)
    p_ssu = rng.uniform(0.2, 0.7, n_ssu)
    n_hh = n_ssu * hh_per_ssu
    hh_ssu = np.repeat(np.arange(n_ssu), hh_per_ssu)
    hh_psu = ssu_psu[hh_ssu]
    p_hh = rng.uniform(0.005, 0.02, n_ssu)[hh_ssu]
    cty = psu_county[hh_psu]
    urban = np.where(psu_urban[hh_psu], 0, 1)
    # one person per household
    sex = rng.integers(0, 2, n_hh)
    age = rng.integers(18, 70, n_hh)
    band = np.select([age < 30, age < 40, age < 50, age < 60], [0, 1, 2, 3], 4)
    edu = np.clip(np.round(rng.normal(2.2 - 0.5 * urban - 0.3 * (band - 2), 1.0)), 0, 4).astype(int)
    n_adults = rng.integers(1, 5, n_hh)

    eligible = rng.random(n_hh) > 0.05
    unknown = rng.random(n_hh) < 0.06
    propensity = 0.35 + 0.08 * band + 0.1 * urban
    respond = eligible & ~unknown & (rng.random(n_hh) < propensity)
    refuse = eligible & ~unknown & ~respond & (rng.random(n_hh) < 0.6)
    disposition = np.select([unknown, ~eligible, respond, refuse], ["3.10", "4.50", "1.1", "2.11"], "2.20")
    quarantined = respond & (rng.random(n_hh) < 0.01)

    code = np.array(counties)
    hh_id = np.array([f"H{i:06d}" for i in range(n_hh)])
    psu_id = np.array([f"{code[psu_county[p]]}-T{p:03d}" for p in range(n_psu)])
    ssu_id = np.array([f"{psu_id[ssu_psu[s]]}-V{s:04d}" for s in range(n_ssu)])
    resp_id = np.where(respond & ~quarantined, np.char.add("R", np.char.zfill(np.arange(n_hh).astype(str), 6)), None)
    contacts = pd.DataFrame({
        "household_id": hh_id, "stratum": code[cty], "county_code": code[cty], "psu": psu_id[hh_psu],
        "ssu": ssu_id[hh_ssu], "urban": np.array(URBAN)[urban], "p_psu": p_psu[hh_psu], "p_ssu": p_ssu[hh_ssu],
        "p_hh": p_hh, "disposition": disposition, "respondent_id": pd.array(resp_id, dtype="string"),
    })
    r = respond & ~quarantined
    respondents = pd.DataFrame({
        "respondent_id": resp_id[r].astype(str), "wave": np.full(r.sum(), wave, dtype=np.int64),
        "county_code": code[cty][r], "county": code[cty][r], "stratum": code[cty][r], "psu": psu_id[hh_psu][r],
        "ssu": ssu_id[hh_ssu][r], "p_psu": p_psu[hh_psu][r], "p_ssu": p_ssu[hh_ssu][r], "p_hh": p_hh[r],
        "n_adults": n_adults[r].astype(np.int64), "sex": np.array(SEXES)[sex][r], "age": age[r].astype(np.int64),
        "age_band": np.array(AGE_BANDS)[band][r], "education": np.array(EDUCATION)[edu][r],
        "urban": np.array(URBAN)[urban][r], "occupation": "其他", "hukou": "本地", "interviewer_id": "I01",
        "interview_minutes": 40.0, "is_farmer": False, "is_worker": False, "is_elderly": band[r] == 4,
        "is_official": False,
    })
    # census controls: every cell of the full cross, base-weighted eligible persons x noise
    w_all = n_adults / (p_psu[hh_psu] * p_ssu[hh_ssu] * p_hh)
    full = pd.DataFrame({"county_code": code[cty], "sex": np.array(SEXES)[sex], "age_band": np.array(AGE_BANDS)[band],
                         "urban": np.array(URBAN)[urban], "education": np.array(EDUCATION)[edu],
                         "w": np.where(eligible, w_all, 0.0)})
    idx = pd.MultiIndex.from_product([counties, SEXES, AGE_BANDS, URBAN], names=["county_code", "sex", "age_band", "urban"])
    c1 = full.groupby(["county_code", "sex", "age_band", "urban"])["w"].sum().reindex(idx, fill_value=0.0)
    c1 = (c1 * rng.uniform(0.95, 1.05, len(c1))).round().rename("population").reset_index()
    # the county x education control must share the county totals of the first control
    idx2 = pd.MultiIndex.from_product([counties, EDUCATION], names=["county_code", "education"])
    c2 = full.groupby(["county_code", "education"])["w"].sum().reindex(idx2, fill_value=0.0)
    c2 = c2 * rng.uniform(0.95, 1.05, len(c2))
    share = c2 / c2.groupby(level=0).transform("sum")
    c2 = (share * c1.groupby("county_code")["population"].sum().reindex(share.index.get_level_values(0)).to_numpy())
    c2 = c2.rename("population").reset_index()
    return {"respondents": respondents, "contacts": contacts, "county_sex_age_urban": c1, "county_education": c2}


def write_wave(root: Path, wave_tables: dict[str, pd.DataFrame], design_yaml: str, wave: int = 2024) -> None:
    from pipeline.paths import WavePaths
    from pipeline.tableio import write_table

    paths = WavePaths(wave, root=root)
    write_table(wave_tables["respondents"], paths.processed("respondents.parquet"), "respondents")
    write_table(wave_tables["contacts"], paths.processed("contacts.parquet"), "contacts")
    paths.controls.mkdir(parents=True, exist_ok=True)
    for name in ("county_sex_age_urban", "county_education"):
        wave_tables[name].to_csv(paths.controls / f"{name}.csv", index=False, encoding="utf-8-sig")
    paths.spec.mkdir(parents=True, exist_ok=True)
    paths.design.write_text(design_yaml, encoding="utf-8")
