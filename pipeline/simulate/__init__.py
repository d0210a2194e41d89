"""The demo-data generator: a synthetic Quanzhou population, a sample drawn from it, fieldwork outcomes
and the files fieldwork delivers. Also serves tests, benchmarks and coverage studies."""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from pipeline.errors import PipelineError
from pipeline.instruments import load_instrument
from pipeline.manifest import sha256_file
from pipeline.paths import ROOT, wave_paths
from pipeline.progress import Timer, log
from pipeline.simulate import literacy, population, sample, variants, writers
from pipeline.simulate.fieldwork import build_records, plant_faults
from pipeline.simulate.truth import population_truth

POP_SEED = 20201101  # census night 2020: the same synthetic population underlies every wave
ITEM_SEED = 1


@dataclass(frozen=True)
class SimulateResult:
    wave: int
    out: Path
    completes: int
    households: int
    faults: int
    true_share: float
    seconds: float

    def summary(self) -> str:
        return (f"【演示数据】{self.wave}年：抽中 {self.households} 户，完成访问 {self.completes} 份，预置问题记录 "
                f"{self.faults} 条；总体真实具备科学素质比例 {self.true_share:.2%} → {self.out}")


def wave_seed(wave: int, root: Path | None = None) -> int:
    """The wave's seed lives in its design spec (`simulation: {seed: …}`); the wave number otherwise."""
    from pipeline.survey_design import simulation_seed

    seed = simulation_seed(wave_paths(wave, root).design)
    return int(wave) if seed is None else seed


def run_simulate(wave: int, out: str | os.PathLike, seed: int | None = None, per_stratum: int | None = None,
                 scale: float = 1.0, force: bool = False, key_error_item: str | None = None,
                 root: Path | None = None, psu_per_stratum: int | None = None,
                 total: int | None = None, variant: str = "full") -> SimulateResult:
    """Generate a demo delivery. `per_stratum` interviews in every county unit (800 by default), or with
    `total` a national-scale file allocated in proportion to the units' adult populations (benchmarks).
    `variant` writes the delivery of another delivery mode (pipeline/simulate/variants.py)."""
    timer = Timer()
    out = Path(out)
    root = root or ROOT
    inst = load_instrument(wave_paths(wave, root).instrument)
    survey_name = inst.source_file
    previous = _check_out(out, survey_name, force)
    if Path(survey_name).suffix.lower() not in (".sav", ".zsav"):
        raise PipelineError(f"the {wave} instrument names {survey_name} as the survey file; the demo generator "
                            "writes SPSS files (.sav/.zsav) only. Put the real delivery in the folder instead.")
    seed = wave_seed(wave, root) if seed is None else seed
    if variant not in variants.VARIANTS:
        raise PipelineError(f"unknown delivery variant {variant!r}; choose one of {list(variants.VARIANTS)}.")
    if wave not in literacy.WAVE_TARGET_SHARE:
        raise PipelineError(f"the demo generator knows waves {sorted(literacy.WAVE_TARGET_SHARE)}, not {wave}.")
    per_stratum = per_stratum or 800
    allocation: int | dict[str, int] = per_stratum
    if total:
        adults = {c.code: c.pop10k for c in population.COUNTIES}
        pop_size = sum(adults.values())
        allocation = {code: int(round(total * a / pop_size)) for code, a in adults.items()}
    log(f"   building the synthetic population (scale {scale:g})")
    pop = population.build_population(POP_SEED, scale)
    rng_pop = np.random.default_rng([POP_SEED, 2])
    county_effect = np.array([c.effect for c in population.COUNTIES])
    vill = pop.villages
    town_index = pd.Index(pop.townships["township"]).get_indexer(vill["township"])
    theta0 = literacy.latent_trait(rng_pop, pop.persons, county_effect, len(pop.townships), len(vill), town_index)
    model = literacy.item_model(inst, ITEM_SEED, key_error_item=key_error_item)
    log("   computing the population truth")
    curves = literacy.truth_curves(inst, model, ITEM_SEED)
    mu = literacy.calibrate_intercept(theta0, curves, literacy.WAVE_TARGET_SHARE[wave])
    theta = theta0 + mu
    truth = population_truth(pop, theta, curves, inst)
    truth.update({"wave": wave, "seed": seed, "demo": True, "intercept": mu,
                  "note": "Synthetic demo data. For validation only: the pipeline never reads this file."})

    rng = np.random.default_rng([seed, 1])
    log(f"   drawing the sample ({f'{total} interviews in all' if total else f'{per_stratum} per county unit'})")
    smp = sample.draw_sample(rng, pop, theta, allocation,
                             psu_per_stratum=psu_per_stratum or sample.PSU_PER_STRATUM)
    dw = smp.dwellings
    county_raw = {c.code: c.raw for c in inst.counties}  # the code the delivery uses for each unit
    dw["county_raw"] = dw["county_code"].map(county_raw).astype(int)
    completes = dw[dw["disposition"] == "1.1"].reset_index(drop=True)
    tired = rng.random(len(completes)) < literacy.TIRED_SHARE
    answers = literacy.simulate_answers(rng, theta[completes["person"].to_numpy()], model, tired)
    names = {c.code: c.name_zh for c in population.COUNTIES}
    rec = build_records(rng, wave, inst, completes, pop.persons, answers, names)
    delivery = plant_faults(rng, rec, inst, wave)

    qid = rec.columns[0]
    dw["questionnaire_id"] = ""
    dw.loc[dw["disposition"] == "1.1", "questionnaire_id"] = rec[qid].to_numpy()
    contacts = pd.DataFrame({
        "household_id": [f"H{v}{d:05d}" for v, d in zip(dw["village"], dw["dwelling"])],
        "county_code": dw["county_code"], "township": dw["township"], "village": dw["village"],
        "urban": np.where(dw["urban"] == 1, "城镇", "乡村"),
        "p_psu": dw["p_psu"], "p_ssu": dw["p_ssu"], "p_hh": dw["p_hh"],
        "disposition": dw["disposition"], "questionnaire_id": dw["questionnaire_id"],
    })
    frame = vill.assign(urban=np.where(vill["urban"] == 1, "城镇", "乡村"))[
        ["county_code", "township", "village", "urban", "adults", "households", "dwellings"]]
    controls = _controls(pop)
    v = variants.apply(variant, delivery.records, contacts, delivery.faults, inst, controls)

    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.simulate-", dir=out.parent))
    try:
        (tmp / "controls").mkdir()
        writers.write_sav(v.records, tmp / survey_name, inst, wave, v.labels,
                          compress=survey_name.lower().endswith(".zsav"))
        side = ["frame.csv"]
        if v.contacts is not None:
            writers.write_csv(v.contacts, tmp / "contacts.csv")
            side.append("contacts.csv")
        if v.response_counts is not None:
            writers.write_csv(v.response_counts, tmp / variants.RESPONSE_TABLE)
            side.append(variants.RESPONSE_TABLE)
        writers.write_csv(frame, tmp / "frame.csv")
        for name, df in controls.items():
            writers.write_csv(df, tmp / "controls" / name)
        (tmp / "truth.json").write_text(json.dumps(truth, ensure_ascii=False, indent=2, sort_keys=True) + "\n",
                                        encoding="utf-8")
        (tmp / "faults.json").write_text(json.dumps(v.faults, ensure_ascii=False, indent=2) + "\n",
                                         encoding="utf-8")
        delivered = [survey_name, *sorted(side)] + [f"controls/{n}" for n in controls]
        writers.write_checksums(tmp, delivered)
        files = [n for n in delivered if n != survey_name] + ["truth.json", "faults.json", "SHA256SUMS", survey_name]
        written = {n: sha256_file(tmp / n) for n in files}
        if previous is None:  # an empty or absent folder: the whole delivery appears in one rename
            _write_marker(tmp, written)
            if out.exists():
                shutil.rmtree(out)  # holds no file (checked above)
            os.replace(tmp, out)
        else:  # replacing our own demo: the marker covers old and new files while they are swapped
            _write_marker(out, {**previous, **written})
            (out / "controls").mkdir(exist_ok=True)
            # the survey file last: its presence says the delivery is complete
            for name in files:
                os.replace(tmp / name, out / name)
            _write_marker(out, written)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return SimulateResult(wave, out, len(completes), len(dw), len(v.faults),
                          truth["overall"]["literate"], timer.seconds)


MARKER = ".demo-delivery.json"  # written by this generator beside every file it writes, with their sha256


def _write_marker(folder: Path, files: dict[str, str]) -> None:
    body = {"generator": "pipeline.simulate", "note": "synthetic demo delivery; every file listed was written by "
            "the demo generator and may be regenerated by it", "files": dict(sorted(files.items()))}
    tmp = folder / f"{MARKER}.tmp"
    tmp.write_text(json.dumps(body, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    os.replace(tmp, folder / MARKER)


def _check_out(out: Path, survey_name: str, force: bool) -> dict[str, str] | None:
    """None when `out` is absent or empty; the marker's file list when `out` holds only this generator's
    own files (unchanged since it wrote them). Anything else is a real delivery, whole or partial, and is
    never written beside."""
    if not out.exists():
        return None
    if not out.is_dir():
        raise PipelineError(f"{out} is a file, not a folder; the demo generator writes a folder.")
    present = sorted(p.relative_to(out).as_posix() for p in out.rglob("*") if p.is_file())
    if not present:  # nothing but (perhaps) empty folders
        return None
    try:
        listed = json.loads((out / MARKER).read_text(encoding="utf-8"))["files"]
    except (OSError, ValueError, KeyError, TypeError):
        listed = None
    foreign = [n for n in present if n != MARKER and (listed is None or n not in listed
                                                       or sha256_file(out / n) != listed[n])]
    if listed is None or foreign:
        shown = ", ".join(foreign[:6]) + (" …" if len(foreign) > 6 else "")
        missing = "" if (out / survey_name).exists() else f" but no {survey_name} (the survey file the instrument names)"
        raise PipelineError(
            f"{out} holds files the demo generator did not write ({shown}){missing}. This is a real delivery, "
            f"complete or in part, and the demo generator never writes beside real data. If the delivery is "
            f"incomplete, add its missing files ({survey_name} and the rest) and run again; for demo data use "
            "an empty folder (--out).")
    if (out / survey_name).exists() and not force:
        raise PipelineError(f"{out} already holds a demo delivery; pass --force to regenerate it.")
    return listed


def _controls(pop: population.Population) -> dict[str, pd.DataFrame]:
    """Census-style population totals of persons aged 18–69 (counted on integer codes, labelled after)."""
    p = pop.persons
    county = p["county_raw"].to_numpy().astype(np.int64) - 1
    sex = p["sex"].to_numpy().astype(np.int64) - 1
    band = population.age_band_index(p["age"].to_numpy())
    rural = 1 - p["urban"].to_numpy().astype(np.int64)
    edu = p["edu_band"].to_numpy().astype(np.int64)
    codes = np.array([c.code for c in population.COUNTIES], dtype=object)
    n_c = len(codes)
    cells = np.bincount(((county * 2 + sex) * 5 + band) * 2 + rural, minlength=n_c * 20).reshape(n_c, 2, 5, 2)
    c, s, b, u = np.nonzero(cells)
    a = pd.DataFrame({"county_code": codes[c], "sex": np.array(["男", "女"], dtype=object)[s],
                      "age_band": np.array(population.AGE_BANDS, dtype=object)[b],
                      "urban": np.array(["城镇", "乡村"], dtype=object)[u], "population": cells[c, s, b, u]})
    ecells = np.bincount(county * 5 + edu, minlength=n_c * 5).reshape(n_c, 5)
    c, e = np.nonzero(ecells)
    ed = pd.DataFrame({"county_code": codes[c], "education": np.array(population.EDU_BANDS, dtype=object)[e],
                       "population": ecells[c, e]})
    key = ["county_code", "sex", "age_band", "urban"]
    return {"county_sex_age_urban.csv": a.sort_values(key, kind="mergesort").reset_index(drop=True),
            "county_education.csv": ed.sort_values(["county_code", "education"], kind="mergesort").reset_index(drop=True)}
