"""The small synthetic wave of the tests and benchmarks: one draw of households, persons and fieldwork
outcomes, seen in the shape each stage reads.

`draw_wave` draws the sample once: county units from survey_instruments/counties.yaml, PSUs (half of
them urban, so every county has both kinds), SSUs and households with their selection probabilities,
one person aged 18–69 per household, fieldwork outcomes (non-response depends on age and urban/rural,
which is what calibration must correct) and the noise of the census controls. The words of sex,
education, urban/rural, occupation and hukou, and the key-group rules, are the instrument's; the age
bands are the simulator's (`population.AGE_BANDS`).

Its views are pure functions of the draw: `respondents_table` (the one respondents table, the data
contract's columns), `weighting_tables` (respondents, contacts, census controls), `estimation_tables`
(respondents, scores, weights with JKn replicates) and `scoring_respondents` (exactly n respondents).
The answers of the 2PL model are `pipeline.simulate.answers`.

The draws of the weighting view keep the order of their first version, which made the committed inputs
of tests/data/golden/weighting/chain and tests/data/golden/design_record/collapsed_cells.csv; draws of
anything new come after them, or from the view's own stream, so that those files stay reproducible.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from pathlib import Path

import numpy as np
import pandas as pd

from pipeline.errors import PipelineError
from pipeline.instruments import load_frameworks, load_instrument, load_scoring
from pipeline.paths import WavePaths, wave_paths
from pipeline.schemas import RESPONDENTS
from pipeline.simulate.population import AGE_BANDS, age_band_index
from pipeline.vocabulary import counties as county_units

# Fieldwork dispositions (AAPOR codes): unknown eligibility, not eligible, complete, refusal, non-contact.
UNKNOWN, INELIGIBLE, COMPLETE, REFUSAL, NONCONTACT = "3.10", "4.50", "1.1", "2.11", "2.20"
# Occupation shares by raw code of the 2024 instrument (1 officials … 10 home/none): every key group
# large enough to be present in each county of a small wave.
OCCUPATION_SHARES = (0.12, 0.04, 0.08, 0.06, 0.12, 0.20, 0.20, 0.04, 0.06, 0.08)
HUKOU_SHARES = (0.45, 0.30, 0.15, 0.10)
COMPLETE_RATE = 0.42  # completes per sampled household, a little below what the outcome model gives


@dataclass(frozen=True)
class Levels:
    """The category words a synthetic wave uses, in code order, and the key-group rules."""

    sexes: tuple[str, ...]
    age_bands: tuple[str, ...]
    education: tuple[str, ...]
    urban: tuple[str, ...]
    occupations: tuple[str, ...]
    hukou: tuple[str, ...]
    raw_codes: tuple[tuple[str, tuple[int, ...]], ...]  # field → the instrument's code of each word above
    key_groups: tuple[tuple[str, tuple[tuple[str, tuple], ...]], ...]
    dimension_shares: tuple[tuple[str, float], ...]  # each part's share of the test's points
    benchmark_ids: tuple[int, ...]


CODED = ("sex", "urban", "occupation", "hukou")


@cache
def levels(wave: int = 2024) -> Levels:
    """The wave's words: its instrument's codes and education bands, frameworks.yaml's benchmarks."""
    inst = load_instrument(wave_paths(wave).instrument)

    def labels(field: str) -> tuple[str, ...]:
        return tuple(label for _, label in inst.demographic(field).codes)

    if len(labels("occupation")) != len(OCCUPATION_SHARES) or len(labels("hukou")) != len(HUKOU_SHARES):
        raise PipelineError(f"the {wave} instrument codes occupation or hukou differently from the synthetic "
                            "wave's shares (pipeline/simulate/synthetic.py); give the shares of its codes.")
    raw = tuple((f, tuple(int(c) for c, _ in inst.demographic(f).codes)) for f in CODED)
    shares = tuple((dim, pts / inst.total_points) for dim, pts in inst.points_by_dimension().items())
    return Levels(labels("sex"), AGE_BANDS, tuple(band for band, _ in inst.demographic("education").derive),
                  labels("urban"), labels("occupation"), labels("hukou"), raw, inst.key_groups, shares,
                  load_frameworks().benchmark_ids)


@dataclass(frozen=True)
class SyntheticWave:
    """One draw. Arrays per PSU, SSU or household (one person each), as integer codes: indexes into the
    `Levels` words, 0 = the first."""

    wave: int
    seed: int
    counties: tuple[str, ...]  # county codes, in the order of the strata
    psu_county: np.ndarray  # per PSU
    ssu_psu: np.ndarray  # per SSU
    hh_ssu: np.ndarray  # per household, and below
    p_psu: np.ndarray  # per PSU
    p_ssu: np.ndarray  # per SSU
    p_hh: np.ndarray
    urban: np.ndarray  # 0 urban, 1 rural
    sex: np.ndarray
    age: np.ndarray
    band: np.ndarray
    education: np.ndarray
    n_adults: np.ndarray
    eligible: np.ndarray
    disposition: np.ndarray
    respondent: np.ndarray  # a complete that passed ingest (1% of completes are quarantined)
    occupation: np.ndarray
    hukou: np.ndarray
    interview_minutes: np.ndarray
    control_noise: tuple[np.ndarray, np.ndarray]  # county × sex × band × urban, county × education

    @property
    def hh_psu(self) -> np.ndarray:
        return self.ssu_psu[self.hh_ssu]

    @property
    def hh_county(self) -> np.ndarray:
        return self.psu_county[self.hh_psu]

    @property
    def n_respondents(self) -> int:
        return int(self.respondent.sum())


def draw_wave(seed: int = 1, counties: list[str] | tuple[str, ...] | None = None, psu_per_county: int = 6,
              ssu_per_psu: int = 3, hh_per_ssu: int = 20, wave: int = 2024) -> SyntheticWave:
    units = county_units()
    counties = tuple(counties or units.codes)
    unknown = [c for c in counties if c not in units.codes]
    if unknown:
        raise PipelineError(f"{unknown} are not county-level units (survey_instruments/counties.yaml).")
    lv = levels(wave)
    rng = np.random.default_rng(seed)
    n_psu = len(counties) * psu_per_county
    psu_county = np.repeat(np.arange(len(counties)), psu_per_county)
    psu_urban = (np.arange(n_psu) % psu_per_county) < (psu_per_county + 1) // 2  # both kinds in every county
    p_psu = rng.uniform(0.15, 0.6, n_psu)
    n_ssu = n_psu * ssu_per_psu
    ssu_psu = np.repeat(np.arange(n_psu), ssu_per_psu)
    p_ssu = rng.uniform(0.2, 0.7, n_ssu)
    n_hh = n_ssu * hh_per_ssu
    hh_ssu = np.repeat(np.arange(n_ssu), hh_per_ssu)
    p_hh = rng.uniform(0.005, 0.02, n_ssu)[hh_ssu]
    urban = np.where(psu_urban[ssu_psu[hh_ssu]], 0, 1)
    sex = rng.integers(0, len(lv.sexes), n_hh)
    age = rng.integers(18, 70, n_hh)
    band = age_band_index(age)
    top = len(lv.education) - 1
    edu = np.clip(np.round(rng.normal(2.2 - 0.5 * urban - 0.3 * (band - 2), 1.0)), 0, top).astype(int)
    n_adults = rng.integers(1, 5, n_hh)
    eligible = rng.random(n_hh) > 0.05
    unknown_elig = rng.random(n_hh) < 0.06
    propensity = 0.35 + 0.08 * band + 0.1 * urban
    respond = eligible & ~unknown_elig & (rng.random(n_hh) < propensity)
    refuse = eligible & ~unknown_elig & ~respond & (rng.random(n_hh) < 0.6)
    disposition = np.select([unknown_elig, ~eligible, respond, refuse], [UNKNOWN, INELIGIBLE, COMPLETE, REFUSAL],
                            NONCONTACT)
    quarantined = respond & (rng.random(n_hh) < 0.01)
    n_c = len(counties)
    noise = (rng.uniform(0.95, 1.05, n_c * len(lv.sexes) * len(lv.age_bands) * len(lv.urban)),
             rng.uniform(0.95, 1.05, n_c * len(lv.education)))
    # drawn after everything the committed golden inputs were made from
    occupation = rng.choice(len(OCCUPATION_SHARES), n_hh, p=OCCUPATION_SHARES)
    hukou = rng.choice(len(HUKOU_SHARES), n_hh, p=HUKOU_SHARES)
    minutes = np.round(rng.uniform(15, 60, n_hh), 1)
    return SyntheticWave(int(wave), int(seed), counties, psu_county, ssu_psu, hh_ssu, p_psu, p_ssu, p_hh, urban,
                         sex, age, band, edu, n_adults, eligible, disposition, respond & ~quarantined,
                         occupation, hukou, minutes, noise)


def _ids(w: SyntheticWave) -> tuple[np.ndarray, np.ndarray]:
    """PSU and SSU ids: the county code, the PSU's and the SSU's number in the wave."""
    code = np.array(w.counties)
    psu_id = np.array([f"{code[w.psu_county[p]]}-T{p:03d}" for p in range(len(w.psu_county))])
    ssu_id = np.array([f"{psu_id[w.ssu_psu[s]]}-V{s:04d}" for s in range(len(w.ssu_psu))])
    return psu_id, ssu_id


def _respondent_ids(index: np.ndarray, n_hh: int) -> np.ndarray:
    """R and the household's number, of one width in a wave (six digits up to a million households)."""
    return np.char.add("R", np.char.zfill(index.astype(str), max(6, len(str(n_hh - 1)))))


def key_group_flags(w: SyntheticWave, rows: np.ndarray) -> dict[str, np.ndarray]:
    """The instrument's key groups (`key_groups:`) of the persons in `rows`, as ingest derives them."""
    lv = levels(w.wave)
    raw = {f: np.array(codes)[getattr(w, f)] for f, codes in lv.raw_codes}
    out = {}
    for flag, rules in lv.key_groups:
        mask = np.zeros(rows.size, dtype=bool)
        for field, vals in rules:
            if field == "age":
                mask |= (w.age[rows] >= vals[0]) & (w.age[rows] <= vals[1])
            elif field in raw:
                mask |= np.isin(raw[field][rows], np.array(vals, dtype=np.int64))
            else:
                raise PipelineError(f"key group {flag} is defined on {field}, which the synthetic wave does not draw.")
        out[flag] = mask
    return out


def respondents_table(w: SyntheticWave, rows: np.ndarray | None = None) -> pd.DataFrame:
    """The respondents table (columns of the RESPONDENTS contract) of the households in `rows` (every
    respondent by default), in household order."""
    lv = levels(w.wave)
    rows = np.flatnonzero(w.respondent) if rows is None else rows
    psu_id, ssu_id = _ids(w)
    code = np.array(w.counties)[w.hh_county[rows]]
    name = np.array([county_units().name_of[c] for c in w.counties])[w.hh_county[rows]]
    frame = pd.DataFrame({
        "respondent_id": _respondent_ids(rows, w.hh_ssu.size), "wave": np.full(rows.size, w.wave, dtype=np.int64),
        "county_code": code, "county": name, "stratum": code, "psu": psu_id[w.hh_psu[rows]],
        "ssu": ssu_id[w.hh_ssu[rows]], "p_psu": w.p_psu[w.hh_psu[rows]], "p_ssu": w.p_ssu[w.hh_ssu[rows]],
        "p_hh": w.p_hh[rows], "n_adults": w.n_adults[rows].astype(np.int64),
        "sex": np.array(lv.sexes)[w.sex[rows]], "age": w.age[rows].astype(np.int64),
        "age_band": np.array(lv.age_bands)[w.band[rows]], "education": np.array(lv.education)[w.education[rows]],
        "urban": np.array(lv.urban)[w.urban[rows]],
        "occupation": np.array(lv.occupations)[w.occupation[rows]],
        "hukou": np.array(lv.hukou)[w.hukou[rows]],
        "interviewer_id": np.char.add("I", np.char.zfill((w.hh_psu[rows] % 40 + 1).astype(str), 2)),
        "interview_minutes": w.interview_minutes[rows],
        **key_group_flags(w, rows),
    })
    return frame[list(RESPONDENTS.names)]


# ---- weighting: respondents, contacts, census controls ----------------------------------------------------

def base_weights(w: SyntheticWave) -> np.ndarray:
    """Every household's person's design weight: adults of the household over the three stage probabilities."""
    return w.n_adults / (w.p_psu[w.hh_psu] * w.p_ssu[w.hh_ssu] * w.p_hh)


def weighting_tables(w: SyntheticWave) -> dict[str, pd.DataFrame]:
    """respondents, contacts and the two census controls the 2024 design calibrates to: totals of every
    cell of the full cross, from the base-weighted eligible persons of the whole sample times a little
    noise, so the frame ratio is near 1; the county × education control shares the county totals of the
    first."""
    lv = levels(w.wave)
    psu_id, ssu_id = _ids(w)
    code = np.array(w.counties)
    cty = w.hh_county
    resp_id = np.where(w.respondent, _respondent_ids(np.arange(w.hh_ssu.size), w.hh_ssu.size), None)
    contacts = pd.DataFrame({
        "household_id": np.array([f"H{i:06d}" for i in range(w.hh_ssu.size)]), "stratum": code[cty],
        "county_code": code[cty], "psu": psu_id[w.hh_psu], "ssu": ssu_id[w.hh_ssu],
        "urban": np.array(lv.urban)[w.urban], "p_psu": w.p_psu[w.hh_psu], "p_ssu": w.p_ssu[w.hh_ssu],
        "p_hh": w.p_hh, "disposition": w.disposition, "respondent_id": pd.array(resp_id, dtype="string"),
    })
    full = pd.DataFrame({"county_code": code[cty], "sex": np.array(lv.sexes)[w.sex],
                         "age_band": np.array(lv.age_bands)[w.band], "urban": np.array(lv.urban)[w.urban],
                         "education": np.array(lv.education)[w.education],
                         "w": np.where(w.eligible, base_weights(w), 0.0)})
    by = ["county_code", "sex", "age_band", "urban"]
    idx = pd.MultiIndex.from_product([list(w.counties), list(lv.sexes), list(lv.age_bands), list(lv.urban)],
                                     names=by)
    c1 = full.groupby(by)["w"].sum().reindex(idx, fill_value=0.0)
    c1 = (c1 * w.control_noise[0]).round().rename("population").reset_index()
    idx2 = pd.MultiIndex.from_product([list(w.counties), list(lv.education)], names=["county_code", "education"])
    c2 = full.groupby(["county_code", "education"])["w"].sum().reindex(idx2, fill_value=0.0)
    c2 = c2 * w.control_noise[1]
    share = c2 / c2.groupby(level=0).transform("sum")
    c2 = share * c1.groupby("county_code")["population"].sum().reindex(share.index.get_level_values(0)).to_numpy()
    c2 = c2.rename("population").reset_index()
    return {"respondents": respondents_table(w), "contacts": contacts, "county_sex_age_urban": c1,
            "county_education": c2}


def write_weighting_inputs(root: Path, tables: dict[str, pd.DataFrame], design_yaml: str,
                           wave: int = 2024) -> WavePaths:
    """The weighting stage's inputs under `root`: processed respondents and contacts, the controls as
    delivered, and the wave's design.yaml."""
    from pipeline.tableio import write_table

    paths = WavePaths(wave, root=root)
    write_table(tables["respondents"], paths.processed("respondents.parquet"), "respondents")
    write_table(tables["contacts"], paths.processed("contacts.parquet"), "contacts")
    paths.controls.mkdir(parents=True, exist_ok=True)
    for name in ("county_sex_age_urban", "county_education"):
        tables[name].to_csv(paths.controls / f"{name}.csv", index=False, encoding="utf-8-sig")
    paths.spec.mkdir(parents=True, exist_ok=True)
    paths.design.write_text(design_yaml, encoding="utf-8")
    return paths


# ---- estimation: respondents, scores, weights ---------------------------------------------------------------

@dataclass(frozen=True)
class EstimationInputs:
    respondents: pd.DataFrame
    scores: pd.DataFrame
    weights: pd.DataFrame  # w_base = w_nr = w_cal = w_final (the design weight), then w_rep_001 …
    replicate_columns: tuple[str, ...]
    rscales: tuple[float, ...]  # (n_h − 1) / n_h of the stratum of each replicate's deleted PSU


def estimation_tables(w: SyntheticWave) -> EstimationInputs:
    """What the estimate stage reads from scoring and weighting, for the wave's respondents. Scores come
    from a latent literacy with a PSU effect (so the design effect is real) rising with education and
    falling with age, about a fifth literate, split over the four parts by their points; 3% are unscored
    (one missing item more than scoring.yaml allows). The weight is the design weight, with JKn replicates
    deleting one PSU at a time within its county. Drawn from the view's own stream, so the units stay
    those of every other view. Levels and the literacy cut-off are the wave's scoring.yaml."""
    if len(w.psu_county) < 2 * len(w.counties):
        raise PipelineError("JKn replicates need at least two PSUs in every county; draw the wave with "
                            "psu_per_county ≥ 2.")
    rule = load_scoring(wave_paths(w.wave).scoring)
    lv = levels(w.wave)
    rows = np.flatnonzero(w.respondent)
    resp = respondents_table(w, rows)
    n = rows.size
    rng = np.random.default_rng([w.seed, 1])
    psu_effect = rng.normal(0, 0.5, len(w.psu_county))[w.hh_psu[rows]]
    latent = 52 + 5 * w.education[rows] - 0.15 * (w.age[rows] - 40) + 6 * psu_effect + rng.normal(0, 10, n)
    total = np.clip(np.round(latent, 1), 0, 100)
    scored = rng.random(n) > 0.03
    level = np.select([total >= cut for _, cut in rule.levels], [label for label, _ in rule.levels],
                      rule.levels[-1][0]).astype(object)
    nan = np.where(scored, 1.0, np.nan)
    sc = pd.DataFrame({"respondent_id": resp["respondent_id"], "scored": scored,
                       "n_missing": np.where(scored, 0, rule.max_missing_items + 1).astype(np.int64),
                       **{dim: total * share * nan for dim, share in lv.dimension_shares},
                       "total": total * nan, "level": pd.Series(level).where(scored, None),
                       "literate": pd.array(total >= float(rule.param("cutoff", 70)), dtype="boolean")})
    sc["literate"] = sc["literate"].where(scored, pd.NA)
    for b in lv.benchmark_ids:
        sc[f"bench_{b:02d}"] = np.where(scored, np.clip(total / 100 + rng.normal(0, 0.1, n), 0, 1), np.nan)
    wt = base_weights(w)[rows]
    weights = pd.DataFrame({"respondent_id": resp["respondent_id"], "stratum": resp["stratum"], "psu": resp["psu"],
                            "w_base": wt, "w_nr": wt, "w_cal": wt, "w_final": wt})
    psu = w.hh_psu[rows]
    psus = pd.unique(psu)  # in the order respondents meet them
    stratum_of = w.psu_county[psus]
    n_h = np.bincount(stratum_of, minlength=len(w.counties))[stratum_of]
    own = w.psu_county[psu][:, None] == stratum_of[None, :]
    factor = np.where(psu[:, None] == psus[None, :], 0.0, np.where(own, n_h / (n_h - 1.0), 1.0))
    names = tuple(f"w_rep_{i + 1:03d}" for i in range(psus.size))
    reps = pd.DataFrame(wt[:, None] * factor, columns=list(names))
    return EstimationInputs(resp, sc, pd.concat([weights, reps], axis=1), names,
                            tuple(float(x) for x in (n_h - 1) / n_h))


# ---- scoring: respondents of a given number of interviews ---------------------------------------------------

def scoring_respondents(n: int, seed: int, wave: int = 2024) -> pd.DataFrame:
    """Exactly n respondents of a wave of every county unit: fieldwork in all counties at once that stops
    at its quota of n completes, so the completes kept are the first n in a random order of interview
    (the view's own stream), listed in household order. The wave is drawn large enough for n, and twice
    as large again until it is."""
    psu, ssu = 6, 3
    hh_per_ssu = max(1, int(np.ceil(n / (len(county_units().codes) * psu * ssu * COMPLETE_RATE))))
    while True:
        w = draw_wave(seed=seed, psu_per_county=psu, ssu_per_psu=ssu, hh_per_ssu=hh_per_ssu, wave=wave)
        if w.n_respondents >= n:
            break
        hh_per_ssu *= 2
    done = np.flatnonzero(w.respondent)
    first = np.random.default_rng([w.seed, 2]).permutation(done.size)[:n]
    return respondents_table(w, done[np.sort(first)])
