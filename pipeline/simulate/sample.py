"""The sample design: strata = county units, townships and villages drawn PPS, dwellings drawn
systematically from the village listing, one adult per household by a Kish-style random choice.
Every selection probability is recorded, and every sampled dwelling gets an AAPOR disposition.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from pipeline.simulate.population import Population

PSU_PER_STRATUM = 6
SSU_PER_PSU = 4
INELIGIBLE_SHARE = 0.05  # vacant dwellings or no resident aged 18–69 (AAPOR 4.50)
UNKNOWN_SHARE = 0.03  # nobody ever answered the door: eligibility unknown (AAPOR 3.10)
EXPECTED_YIELD = (1 - INELIGIBLE_SHARE) * (1 - UNKNOWN_SHARE) * 0.70  # completes per sampled dwelling


def pps_probabilities(mos: np.ndarray, n: int) -> np.ndarray:
    """Inclusion probabilities π_i = n·M_i/ΣM with units of π ≥ 1 taken with certainty (iteratively)."""
    mos = np.asarray(mos, dtype=float)
    n = min(n, mos.size)
    p = np.zeros(mos.size)
    cert = np.zeros(mos.size, dtype=bool)
    while True:
        rest = ~cert
        k = n - cert.sum()
        p[rest] = k * mos[rest] / mos[rest].sum()
        new = rest & (p >= 1.0)
        if not new.any():
            break
        cert |= new
    p[cert] = 1.0
    return p


def pps_systematic(rng: np.random.Generator, mos: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray]:
    """Systematic PPS from a randomly ordered list: (selected indices, their inclusion probabilities)."""
    p = pps_probabilities(mos, n)
    cert = np.flatnonzero(p >= 1.0)
    rest = np.flatnonzero(p < 1.0)
    chosen = list(cert)
    if rest.size:
        order = rest[rng.permutation(rest.size)]
        cum = np.cumsum(p[order])
        k = int(round(cum[-1]))
        if k > 0:
            points = rng.random() + np.arange(k)
            chosen += list(order[np.searchsorted(cum, points, side="right")])
    chosen = np.array(sorted(chosen), dtype=np.int64)
    return chosen, p[chosen]


@dataclass(frozen=True)
class Sample:
    dwellings: pd.DataFrame  # one row per sampled dwelling: design info, disposition, person index if any


def draw_sample(rng: np.random.Generator, pop: Population, theta: np.ndarray, per_stratum: int | dict[str, int],
                psu_per_stratum: int = PSU_PER_STRATUM, ssu_per_psu: int = SSU_PER_PSU) -> Sample:
    """`per_stratum` is the target of completed interviews per county unit, or a dict county_code → target."""
    villages, townships, persons = pop.villages, pop.townships, pop.persons
    hh = persons["household"].to_numpy()
    hh_start = np.r_[0, np.flatnonzero(np.diff(hh)) + 1]  # persons are sorted by household
    hh_size = np.diff(np.r_[hh_start, hh.size])
    v_hh_start = np.r_[0, np.cumsum(villages["households"].to_numpy())[:-1]]
    blocks = []
    for county, towns in townships.groupby("county_code", sort=False):
        target = per_stratum[county] if isinstance(per_stratum, dict) else per_stratum
        t_idx, p_psu = pps_systematic(rng, towns["mos"].to_numpy(), psu_per_stratum)
        n_psu = t_idx.size
        m = int(np.ceil(target / (n_psu * ssu_per_psu) / EXPECTED_YIELD))
        for ti, pt in zip(t_idx, p_psu):
            tcode = towns["township"].iloc[ti]
            vill = villages.index[villages["township"] == tcode].to_numpy()
            v_sel, p_ssu = pps_systematic(rng, villages.loc[vill, "adults"].to_numpy(), ssu_per_psu)
            for vi, pv in zip(vill[v_sel], p_ssu):
                n_dw = int(villages.at[vi, "dwellings"])
                n_hh = int(villages.at[vi, "households"])
                take = min(m, n_dw)
                step = n_dw / take
                dw = np.floor(rng.random() * step + step * np.arange(take)).astype(np.int64)
                # dwellings beyond the village's households are the ineligible ones on the listing;
                # a random permutation decides which listing numbers they are
                perm = rng.permutation(n_dw)
                hh_local = perm[dw]
                eligible = hh_local < n_hh
                g = v_hh_start[vi] + np.where(eligible, hh_local, 0)
                size = np.where(eligible, hh_size[g], 0)
                pick = np.where(eligible, hh_start[g] + (rng.random(take) * np.maximum(size, 1)).astype(np.int64), -1)
                blocks.append(pd.DataFrame({
                    "county_code": county, "township": tcode, "village": villages.at[vi, "village"],
                    "urban": int(villages.at[vi, "urban"]), "dwelling": dw + 1,
                    "p_psu": float(pt), "p_ssu": float(pv), "p_hh": take / n_dw,
                    "eligible": eligible, "n_adults": size, "person": pick,
                }))
    dw = pd.concat(blocks, ignore_index=True)
    # Dispositions. Response propensity falls for the young and in towns (DOMAIN.md §3; AAPOR codes).
    n = len(dw)
    person = dw["person"].to_numpy()
    elig = dw["eligible"].to_numpy()
    age = np.where(elig, persons["age"].to_numpy()[np.maximum(person, 0)], 45)
    urban = dw["urban"].to_numpy()
    p_resp = 1 / (1 + np.exp(-(1.45 - 0.55 * urban + 0.025 * (age - 45))))
    u = rng.random(n)
    unknown = rng.random(n) < UNKNOWN_SHARE
    outcome = np.where(u < p_resp, "1.1", np.where(u < p_resp + (1 - p_resp) * 0.6, "2.11",
                       np.where(u < p_resp + (1 - p_resp) * 0.95, "2.20", "2.12")))
    disposition = np.where(unknown, "3.10", np.where(elig, outcome, "4.50"))
    dw["disposition"] = disposition
    dw.loc[dw["disposition"] != "1.1", "person"] = -1
    return Sample(dw)
