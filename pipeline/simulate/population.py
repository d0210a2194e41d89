"""A synthetic Quanzhou population aged 18–69 and its area frame (townships, villages, households).

Sizes and urbanisation follow the 2022 statistical yearbook (DOMAIN.md §4); sex, age, education and
occupation mixes are plausible for a coastal manufacturing prefecture. Everything is vectorised over
persons so that a full-size population (about 6 million adults) builds in seconds.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple

import numpy as np
import pandas as pd

from pipeline.errors import PipelineError
from pipeline.vocabulary import counties


class CountyProfile(NamedTuple):
    """A county-level unit as the demo generator sees it (survey_instruments/counties.yaml)."""

    number: int  # 1-based position in counties.yaml: the demo questionnaire's county code (S1)
    code: str
    name_zh: str
    pop10k: float  # residents 2021 (万)
    urban_pct: float
    effect: float  # the unit's own shift of the latent literacy trait (demo_literacy_shift)


def county_profiles() -> tuple[CountyProfile, ...]:
    units = counties().units
    lacking = [u.code for u in units if u.population_10k is None or u.urban_pct is None]
    if lacking:
        raise PipelineError(f"survey_instruments/counties.yaml: units {lacking} lack population_10k or urban_pct; "
                            "the demo generator sizes its synthetic population by them.")
    return tuple(CountyProfile(i, u.code, u.name_zh, float(u.population_10k), float(u.urban_pct),
                               u.demo_literacy_shift) for i, u in enumerate(units, start=1))


COUNTIES = county_profiles()
ADULT_SHARE = 0.70  # share of residents aged 18–69 (census 2020: 60+ is 13.2%, under 18 about 22%)
MALE_SHARE = 109.3 / 209.3  # census sex ratio 109.3

AGE_BANDS = ("18-29", "30-39", "40-49", "50-59", "60-69")
EDU_BANDS = ("小学及以下", "初中", "高中/中专", "大专", "本科及以上")


def age_band_index(age: np.ndarray) -> np.ndarray:
    """0 for 18–29, 1 for 30–39, … 4 for 60–69."""
    return np.searchsorted(np.array([30, 40, 50, 60]), age, side="right")


# raw education codes (instrument A3) inside each band, with their within-band shares
EDU_RAW = {0: ((1, 0.25), (2, 0.75)), 1: ((3, 1.0),), 2: ((4, 0.6), (5, 0.4)), 3: ((6, 1.0),),
           4: ((7, 0.9), (8, 0.1))}
# occupation raw codes (instrument A4): 1 officials, 2 managers, 3 professionals, 4 clerks, 5 commerce and
# services, 6 farmers, 7 production/transport/construction workers, 8 students, 9 retired, 10 home/none
OCCUPATIONS = tuple(range(1, 11))


@dataclass(frozen=True)
class Population:
    """Persons (one row each) and the frame of townships and villages they live in."""

    persons: pd.DataFrame  # county_raw (the unit's number), county_code, township, village, household, sex, birth_year, age, …
    townships: pd.DataFrame  # county_code, township, mos (adults)
    villages: pd.DataFrame  # county_code, township, village, urban, adults, households, dwellings


def _age(rng: np.random.Generator, n: int) -> np.ndarray:
    # An age pyramid for 18–69 with the 30–55 bulge of a migrant-receiving manufacturing city.
    ages = np.arange(18, 70)
    w = np.exp(-0.5 * ((ages - 40) / 16.0) ** 2) + 0.35
    w[ages >= 60] *= 0.85
    cdf = np.cumsum(w) / w.sum()
    return ages[np.searchsorted(cdf, rng.random(n), side="right").clip(0, ages.size - 1)].astype(np.int16)


def _education(rng, age, urban, county_urban) -> np.ndarray:
    """Ordinal education band 0–4 from a latent propensity: younger, urban, urbanised counties higher."""
    z = 0.75 * urban - 0.045 * (age - 40) + 1.2 * (county_urban - 0.7) + rng.standard_normal(age.size)
    cuts = np.quantile(z, [0.24, 0.62, 0.80, 0.895])  # 24% ≤ primary, 38% junior, 18% senior, 9.5% 大专, 10.5% 本科+
    return np.searchsorted(cuts, z).astype(np.int8)


def _occupation(rng, age, urban, edu) -> np.ndarray:
    """Occupation from education, urban/rural and age, by a table of propensities.

    Persons fall into 5 × 2 × 3 cells (education, urban, age ≤24 / 25–54 / 55+); one probability row per
    cell, one inverse-CDF draw per person.
    """
    base = np.array([
        # 1     2     3     4     5     6     7     8     9     10
        [0.00, 0.01, 0.00, 0.01, 0.14, 0.34, 0.36, 0.00, 0.03, 0.11],  # 小学及以下
        [0.00, 0.03, 0.02, 0.03, 0.22, 0.17, 0.41, 0.00, 0.03, 0.09],  # 初中
        [0.02, 0.05, 0.07, 0.09, 0.27, 0.07, 0.30, 0.04, 0.04, 0.05],  # 高中/中专
        [0.07, 0.07, 0.22, 0.20, 0.19, 0.02, 0.12, 0.06, 0.02, 0.03],  # 大专
        [0.13, 0.08, 0.33, 0.17, 0.12, 0.01, 0.06, 0.07, 0.01, 0.02],  # 本科及以上
    ])
    table = np.empty((5, 2, 3, 10))
    for e in range(5):
        for u in range(2):
            for a, (student, retired, official) in enumerate(((6.0, 0.05, 0.2), (0.0, 0.05, 1.0), (0.0, 12.0, 1.0))):
                p = base[e].copy()
                p[5] *= 0.25 if u == 1 else 1.8  # farmers live in villages
                p[7] *= student
                p[8] *= retired
                p[0] *= official
                table[e, u, a] = np.cumsum(p / p.sum())
    age_cell = np.where(age <= 24, 0, np.where(age >= 55, 2, 1))
    cell = (edu.astype(np.int64) * 2 + urban) * 3 + age_cell
    u = rng.random(age.size)
    out = np.empty(age.size, dtype=np.int8)
    flat = table.reshape(-1, 10)
    for c in np.unique(cell):
        m = cell == c
        out[m] = np.searchsorted(flat[c], u[m], side="right").clip(0, 9) + 1
    return out


def build_population(seed: int, scale: float = 1.0) -> Population:
    rng = np.random.default_rng(seed)
    town_rows, vill_rows = [], []
    for _number, code, _name, pop10k, urban_pct, _eff in COUNTIES:
        adults = int(round(pop10k * 1e4 * ADULT_SHARE * scale))
        n_town = max(3, int(round(scale * pop10k / 6.0)))
        # township sizes: lognormal shares; urban share varies around the county's level
        t_share = rng.lognormal(0.0, 0.45, n_town)
        t_share /= t_share.sum()
        t_adults = np.maximum(200, np.round(t_share * adults)).astype(np.int64)
        t_urban = np.clip(urban_pct / 100 + rng.normal(0, 0.18, n_town), 0, 1)
        if urban_pct >= 100:
            t_urban[:] = 1.0
        for t in range(n_town):
            tcode = f"{code}{t + 1:03d}"
            n_vill = int(rng.integers(8, 19))
            v_share = rng.lognormal(0.0, 0.5, n_vill)
            v_share /= v_share.sum()
            v_adults = np.maximum(60, np.round(v_share * t_adults[t])).astype(np.int64)
            v_urban = (rng.random(n_vill) < t_urban[t]).astype(np.int8)
            town_rows.append((code, tcode, int(v_adults.sum())))
            for v in range(n_vill):
                vill_rows.append((code, tcode, f"{tcode}{v + 1:03d}", int(v_urban[v]), int(v_adults[v])))
    villages = pd.DataFrame(vill_rows, columns=["county_code", "township", "village", "urban", "adults"])
    townships = pd.DataFrame(town_rows, columns=["county_code", "township", "mos"])

    n = int(villages["adults"].sum())
    vidx = np.repeat(np.arange(len(villages)), villages["adults"].to_numpy())
    # households: 1–4 adults of 18–69 (mean about 2.3); persons are numbered within their village
    hh_size = rng.choice([1, 2, 3, 4], size=n, p=[0.22, 0.40, 0.23, 0.15])
    county_raw_of = {c.code: c.number for c in COUNTIES}
    county_urban_of = {c.code: c.urban_pct / 100 for c in COUNTIES}
    v_county = villages["county_code"].to_numpy()
    persons = pd.DataFrame({"vidx": vidx.astype(np.int32)})
    # Assign households by cutting each village's persons into consecutive runs of hh_size.
    starts = np.r_[0, np.cumsum(villages["adults"].to_numpy())[:-1]]
    pos = np.arange(n) - starts[vidx]
    # run boundaries: a new household starts where the cumulative size within the village wraps
    new_hh = np.zeros(n, dtype=bool)
    new_hh[starts] = True
    # draw household sizes sequentially within each village by a vectorised trick: mark a start at every
    # position where a random renewal process (sizes drawn above) lands.
    cum = np.cumsum(hh_size)
    renewal = np.zeros(n + 5, dtype=bool)
    renewal[cum[cum < n]] = True
    new_hh |= renewal[:n]
    hh_global = np.cumsum(new_hh) - 1
    persons["household"] = hh_global.astype(np.int64)
    urban = villages["urban"].to_numpy()[vidx]
    age = _age(rng, n)
    county_u = np.array([county_urban_of[c] for c in v_county])[vidx]  # per person via the village index
    edu = _education(rng, age, urban, county_u)
    persons["sex"] = np.where(rng.random(n) < MALE_SHARE, 1, 2).astype(np.int8)
    persons["age"] = age
    persons["urban"] = urban
    persons["edu_band"] = edu
    raw_edu = np.empty(n, dtype=np.int8)
    u = rng.random(n)
    for band, choices in EDU_RAW.items():
        m = edu == band
        codes = np.array([c for c, _ in choices])
        cum_p = np.cumsum([p for _, p in choices])
        raw_edu[m] = codes[np.searchsorted(cum_p, u[m], side="right").clip(0, len(codes) - 1)]
    persons["education_raw"] = raw_edu
    persons["occupation"] = _occupation(rng, age.astype(np.int64), urban, edu)
    # hukou: rural residents mostly local agricultural; industrial towns host many migrants
    migrant = rng.random(n) < np.where(persons["occupation"].to_numpy() == 7, 0.45, 0.15)
    agri = rng.random(n) < np.where(urban == 1, 0.35, 0.85)
    persons["hukou"] = (1 + (~agri).astype(np.int8) + 2 * migrant.astype(np.int8)).astype(np.int8)
    persons["pos"] = pos.astype(np.int32)
    persons["county_raw"] = np.array([county_raw_of[c] for c in v_county], dtype=np.int8)[vidx]
    hh_per_village = np.bincount(vidx[new_hh], minlength=len(villages))
    villages["households"] = hh_per_village
    # Dwellings on the listing include vacant ones and ones with no adult of 18–69 (AAPOR 4.x).
    villages["dwellings"] = np.round(hh_per_village / 0.95).astype(np.int64)
    return Population(persons, townships, villages)
