"""Demo deliveries as fieldwork companies also send them, one per delivery mode
(pipeline/instruments/delivery.py): without a contact sheet, with a design weight instead of the three
stage probabilities, with the company's final weight only, or without interview times.

`apply` turns the records and side files of a full demo delivery into a variant before they are written;
`adapt_spec` gives a wave's spec folder the instrument and design.yaml entries that variant needs.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import yaml

from pipeline.errors import PipelineError
from pipeline.instruments.model import Instrument

VARIANTS = ("full", "no_contacts", "design_weight", "final_weight", "no_times")
RESPONSE_TABLE = "response_counts.csv"
DESIGN_WEIGHT_COLUMN = "QZ"
FINAL_WEIGHT_COLUMN = "ZQZ"
LABELS = {DESIGN_WEIGHT_COLUMN: "设计权数", FINAL_WEIGHT_COLUMN: "最终权数（调查公司）"}


@dataclass(frozen=True)
class Variant:
    records: pd.DataFrame
    contacts: pd.DataFrame | None  # None: no contact sheet delivered
    response_counts: pd.DataFrame | None
    faults: list[dict]
    labels: dict[str, str]  # variable labels of the columns the variant adds


def response_counts(contacts: pd.DataFrame, classes: tuple[str, ...] = ("county_code", "urban")) -> pd.DataFrame:
    """The company's per-class table: completed interviews and eligible households, the unknown-eligibility
    cases counted in at the class's eligibility rate e = resolved eligible / (resolved eligible + not eligible)."""
    d = contacts["disposition"].astype(str)
    g = contacts.assign(completed=(d == "1.1").astype(float),
                        resolved=d.str[0].isin(["1", "2"]).astype(float),
                        unknown=d.str.startswith("3").astype(float),
                        ineligible=d.str.startswith("4").astype(float)).groupby(list(classes), sort=True)
    t = g[["completed", "resolved", "unknown", "ineligible"]].sum()
    e = t["resolved"] / (t["resolved"] + t["ineligible"])
    t["eligible"] = np.round(t["resolved"] + e * t["unknown"], 6)
    return t.reset_index()[[*classes, "completed", "eligible"]]


def _company_final_weight(records: pd.DataFrame, design_weight: np.ndarray, inst: Instrument,
                          controls: dict[str, pd.DataFrame]) -> np.ndarray:
    """What a company typically delivers: the design weight post-stratified to the county populations."""
    demo = {d.field: d for d in inst.demographics}
    county_of_raw = {float(c.raw): c.code for c in inst.counties}
    county = pd.to_numeric(records[demo["county"].column], errors="coerce").map(county_of_raw)
    pop = controls["county_sex_age_urban.csv"].groupby("county_code")["population"].sum()
    sums = pd.Series(design_weight).groupby(county.to_numpy()).transform("sum").to_numpy()
    target = county.map(pop).to_numpy(dtype=float)
    factor = np.where(np.isfinite(target) & (sums > 0), target / np.where(sums > 0, sums, 1.0), 1.0)
    return np.round(design_weight * factor, 6)


def apply(variant: str, records: pd.DataFrame, contacts: pd.DataFrame, faults: list[dict], inst: Instrument,
          controls: dict[str, pd.DataFrame]) -> Variant:
    if variant not in VARIANTS:
        raise PipelineError(f"unknown delivery variant {variant!r}; choose one of {list(VARIANTS)}.")
    adm = dict(inst.admin)
    demo = {d.field: d for d in inst.demographics}
    rec = records.copy()
    if variant == "full":
        return Variant(rec, contacts, None, faults, {})
    if variant == "no_times":
        rec = rec.drop(columns=[adm["start_time"], adm["end_time"]])
        kept = [f for f in faults if f["reason"] != "short_interview"]  # nothing left to catch them by
        return Variant(rec, contacts, None, kept, {})
    counts = response_counts(contacts)
    if variant == "no_contacts":
        return Variant(rec, None, counts, faults, {})
    probs = rec[[adm["p_psu"], adm["p_ssu"], adm["p_hh"]]].to_numpy(dtype=float).prod(axis=1)
    w = np.round(pd.to_numeric(rec[demo["n_adults"].column], errors="coerce").to_numpy(float) / probs, 6)
    rec = rec.drop(columns=[adm["p_psu"], adm["p_ssu"], adm["p_hh"]])
    if variant == "design_weight":
        rec[DESIGN_WEIGHT_COLUMN] = w
        return Variant(rec, None, counts, faults, {DESIGN_WEIGHT_COLUMN: LABELS[DESIGN_WEIGHT_COLUMN]})
    rec[FINAL_WEIGHT_COLUMN] = _company_final_weight(rec, w, inst, controls)
    return Variant(rec, None, None, faults, {FINAL_WEIGHT_COLUMN: LABELS[FINAL_WEIGHT_COLUMN]})


def adapt_spec(spec_dir: Path, variant: str, response_table: bool = True, recalibrate: bool = False) -> None:
    """Write into a wave's spec folder the entries a variant's delivery needs (a copy of the reference
    spec, for demonstrations and tests: comments in the two rewritten files are not kept)."""
    if variant not in VARIANTS:
        raise PipelineError(f"unknown delivery variant {variant!r}; choose one of {list(VARIANTS)}.")
    ipath, dpath = spec_dir / "instrument.yaml", spec_dir / "design.yaml"
    inst = yaml.safe_load(ipath.read_text(encoding="utf-8"))
    design = yaml.safe_load(dpath.read_text(encoding="utf-8"))
    delivery: dict = {"mode": "full", "interview_times": True}
    if variant == "no_times":
        for role in ("start_time", "end_time"):
            inst["admin"].pop(role, None)
        delivery["interview_times"] = False
    elif variant == "no_contacts":
        delivery["mode"] = "no_contacts"
        if response_table:
            delivery["response_table"] = RESPONSE_TABLE
    elif variant == "design_weight":
        inst["design_columns"] = {"design_weight": DESIGN_WEIGHT_COLUMN}
        delivery["mode"] = "design_weight"
        if response_table:
            delivery["response_table"] = RESPONSE_TABLE
    elif variant == "final_weight":
        inst["design_columns"] = {"final_weight": FINAL_WEIGHT_COLUMN}
        delivery.update(mode="final_weight", recalibrate=recalibrate)
    design["delivery"] = delivery
    for path, data in ((ipath, inst), (dpath, design)):
        path.write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False, width=120), encoding="utf-8")


def derive(src: Path, out: Path, variant: str, inst: Instrument, wave: int) -> Path:
    """Write into the empty folder `out` the `variant` of the full demo delivery in `src` (the same records,
    so that modes can be compared on one sample)."""
    import json
    import shutil

    import pyreadstat

    from pipeline.simulate import writers

    if out.exists() and any(out.iterdir()):
        raise PipelineError(f"{out} is not empty; a derived demo delivery is written only into an empty folder.")
    records, _ = pyreadstat.read_sav(str(src / "survey.sav"), user_missing=True, apply_value_formats=False)
    contacts = pd.read_csv(src / "contacts.csv", dtype=str, encoding="utf-8-sig", keep_default_na=False)
    controls = {p.name: pd.read_csv(p, encoding="utf-8-sig", dtype={"county_code": str})
                for p in sorted((src / "controls").glob("*.csv"))}
    faults = json.loads((src / "faults.json").read_text(encoding="utf-8"))
    v = apply(variant, records, contacts, faults, inst, controls)
    out.mkdir(parents=True, exist_ok=True)
    shutil.copytree(src / "controls", out / "controls")
    for name in ("frame.csv", "truth.json"):
        shutil.copy(src / name, out / name)
    if v.contacts is not None:
        shutil.copy(src / "contacts.csv", out / "contacts.csv")
    if v.response_counts is not None:
        writers.write_csv(v.response_counts, out / RESPONSE_TABLE)
    (out / "faults.json").write_text(json.dumps(v.faults, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    writers.write_sav(v.records, out / "survey.sav", inst, wave, v.labels)
    delivered = ["survey.sav", "frame.csv"] + [f"controls/{p.name}" for p in sorted((out / "controls").iterdir())]
    delivered += [n for n in ("contacts.csv", RESPONSE_TABLE) if (out / n).exists()]
    writers.write_checksums(out, delivered)
    return out
