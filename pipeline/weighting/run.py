"""The weighting stage: respondents + contacts + controls + design.yaml → weights.parquet and
weighting_diagnostics.csv.

The full-sample weight is column 0 of one weight matrix and the replicates are columns 1..R; every
step (non-response adjustment, calibration, trimming with re-calibration) is applied to the whole
matrix, so each replicate is re-weighted exactly as the full sample.
"""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from pipeline import stages
from pipeline.errors import InputError
from pipeline.instruments.delivery import Delivery
from pipeline.paths import WavePaths
from pipeline.progress import Timer, log
from pipeline.schemas import CONTACTS, RESPONDENTS, WEIGHTING_DIAGNOSTICS, WEIGHTS
from pipeline.survey_design.record import (
    RECORD,
    SCHEMA_VERSION,
    DesignRecord,
    MarginCells,
    validate,
    write_record,
)
from pipeline.survey_design.replicate_blocks import (
    BLOCK_COLUMN,
    REPLICATE_FILE,
    ReplicateBlocks,
    replicate_columns,
    write_blocks,
)
from pipeline.survey_design.spec import DesignSpec, load_design_spec
from pipeline.tableio import read_table, stage_commit, write_table
from pipeline.weighting import modes
from pipeline.weighting.controls import read_controls
from pipeline.weighting.replicates import REPLICATE_PREFIX, replicate_names
from pipeline.weighting.steps import WEIGHTING_STEPS, WeightingState, run_steps

# weights.parquet: the full-sample weight each slot of steps leaves (the last one is the analysis weight)
WEIGHT_AFTER = {"base": "w_base", "nonresponse": "w_nr", "calibration": "w_cal", "trimming": "w_final"}


@dataclass(frozen=True)
class WeightingOutput:
    weights: pd.DataFrame  # one row per respondent: ids, design columns and the weight after each step
    replicates: ReplicateBlocks  # the replicate weights (survey_design/replicate_blocks.py), rows as `weights`
    diagnostics: pd.DataFrame
    metadata: dict  # the design record (design.json)

    def replicate_frame(self) -> pd.DataFrame:
        """`weights` with every replicate column filled in (waves where n × R fits in memory)."""
        return replicate_columns(self.weights, self.replicates, list(self.metadata["weights"]["replicates"]))


@dataclass(frozen=True)
class WeightResult:
    respondents: int
    households: int
    replicates: int
    method: str
    iterations: int
    max_margin_error: float
    seconds: float
    first_iterations: int | None = None  # the calibration before trimming (iterations: the last re-calibration)

    def summary(self) -> str:
        method = {"JKn": "分层刀切法", "bootstrap": "自助法"}.get(self.method, self.method)
        # without a contact sheet no household is weighted, so "0 户" would read as a failure
        who = f"{self.households} 户、" if self.households else ""
        return (f"{who}{self.respondents} 名受访者完成加权；{self.replicates} 套{method}重复权数逐套"
                f"重新加权；{self._iterations()}，边际最大误差 {self.max_margin_error:.2g}；"
                f"用时 {self.seconds:.1f} 秒")


    def _iterations(self) -> str:
        """As the report's methods section says it: the calibration, then the re-calibration after trimming."""
        if self.first_iterations is None or self.first_iterations == self.iterations:
            return f"校准迭代 {self.iterations} 次"
        return f"校准迭代 {self.first_iterations} 次，截尾后重新校准迭代 {self.iterations} 次"


def weight_wave(respondents: pd.DataFrame, contacts: pd.DataFrame | None, controls: dict[str, pd.DataFrame],
                spec: DesignSpec, progress: bool = False, delivery: Delivery | None = None,
                response_counts: pd.DataFrame | None = None, aggregate: bool = True) -> WeightingOutput:
    """All weighting steps as one pure function of the input tables and the spec: the delivery mode
    chooses the steps (modes.steps_for), the registry runs them (pipeline/weighting/steps.py).

    `aggregate=False` runs every step on the n × (1 + R) matrix instead of on group factors
    (pipeline/weighting/factored.py): the same weights, the reference the tests compare with."""
    delivery = delivery or spec.delivery
    st = WeightingState(respondents.reset_index(drop=True),
                        None if contacts is None else contacts.reset_index(drop=True), controls, spec, delivery,
                        response_counts, log if progress else (lambda _m: None), aggregate=aggregate)
    run_steps(st, modes.steps_for(delivery, spec.trimming is not None, response_counts is not None))
    W = st.units()
    if not (W.all_finite_nonnegative() and (W.full > 0).all()):
        raise InputError("weighting produced non-finite, negative or zero full-sample weights; check the inputs.")
    names = replicate_names(st.rep.n_replicates)
    cols = {WEIGHT_AFTER[slot]: st.kept[slot] for slot in ("base", "nonresponse", "calibration")}
    cols[WEIGHT_AFTER["trimming"]] = W.full
    out = pd.DataFrame({"respondent_id": st.respondents["respondent_id"].astype(str),
                        "stratum": st.respondents[spec.design.stratum].astype(str),
                        "psu": st.respondents[spec.design.psu].astype(str), **cols})
    diag = pd.DataFrame(st.rows, columns=["step", "metric", "variable", "level", "value", "control"])
    return WeightingOutput(out, W, diag, design_record(st, names, W).data)


def design_record(st: WeightingState, replicate_columns: list[str], blocks: ReplicateBlocks) -> DesignRecord:
    """What the steps made, as the later stages need it (pipeline/survey_design/record.py)."""
    spec, rep, delivery = st.spec, st.rep, st.delivery
    calibrated = "calibration" in st.ran
    rep_meta = rep.metadata(spec.replicates.seed if rep.method == "bootstrap" or spec.replicates.groups else None)
    # no step after the replicates re-weighted them (a final weight used as delivered): every replicate weight
    # is the weight times its PSU's factor, and estimation takes those factors from one row per PSU
    rep_meta["blocks"] = blocks.record()  # the replicates each block of respondents stores (weights.parquet)
    rep_meta["constant_within_psu"] = all(WEIGHTING_STEPS[name].slot in ("base", "replicates") for name in st.ran)
    if rep.psu_group is not None:  # estimation counts the df of a grouped jackknife on the groups
        rep_meta["psu_group"] = {str(lab): int(g) for lab, g in zip(st.psu_labels, rep.psu_group, strict=True)}
    cal = spec.calibration
    if calibrated:
        final = st.calibration
        calibration = {
            "method": cal.method, "margins": [list(spec.controls[m].by) for m in cal.margins],
            "control_tables": list(cal.margins), "tolerance": cal.tolerance, "bounds": cal.bounds,
            "iterations": final.iterations, "max_margin_error": final.max_error,
            "collapsed": [{"margin": c.margin, "within": c.within, "merged": list(c.merged), "label": c.label}
                          for c in st.collapses],
            # R's calibrate() regresses on the weights before calibration: the non-response adjusted weight
            "regression_weight": WEIGHT_AFTER["nonresponse"],
            "cells": [MarginCells.from_codes(m.name, spec.controls[m.name].by, st.respondents, m.codes,
                                             m.labels).as_dict() for m in st.margins],
        }
    else:
        calibration = {"method": None, "margins": [], "control_tables": [], "iterations": 0,
                       "max_margin_error": None, "collapsed": [], "regression_weight": None, "cells": []}
    # the published variance method: the spec's, unless there is nothing to replicate with
    primary = spec.primary if spec.primary != "replicate" or replicate_columns else "taylor"
    return validate({
        "schema_version": SCHEMA_VERSION,
        "steps": list(st.ran),
        # the slot each step filled (steps.py WEIGHTING_STEPS): readers tell a delivered weight from a base
        # weight, or which steps come after the replicates, without a table of their own
        "slots": {name: WEIGHTING_STEPS[name].slot for name in st.ran},
        "replicates": rep_meta,
        "calibration": calibration,
        "nonresponse": {"classes": list(spec.nr_classes) if calibrated else []},
        "trimming": None if "trimming" not in st.ran else {
            "by": spec.trimming.by, "lower": spec.trimming.lower, "upper": spec.trimming.upper,
            "rounds": st.trim_rounds},
        "design": {"stratum": "stratum", "psu": "psu", "fpc": spec.design.fpc, "lonely_psu": spec.design.lonely_psu},
        "weights": {"final": WEIGHT_AFTER["trimming"], "replicate_prefix": REPLICATE_PREFIX,
                    "replicates": list(replicate_columns),
                    "by_step": {slot: WEIGHT_AFTER[slot] for slot in ("base", "nonresponse", "calibration", "trimming")}},
        "delivery": {"mode": delivery.mode, "interview_times": delivery.interview_times, "nonresponse": st.nr_source,
                     "calibrated": calibrated, "response_table": delivery.response_table},
        "variance": {"primary": primary},
    }, "design record")


def run_weight(paths: WavePaths, progress: bool = True) -> WeightResult:
    timer = Timer()
    stages.begin("weight", paths)
    spec = load_design_spec(paths.design)
    delivery = spec.delivery
    respondents = read_table(paths.processed("respondents.parquet"), RESPONDENTS)
    contacts = read_table(paths.processed("contacts.parquet"), CONTACTS) if delivery.contacts else None
    counts = None
    if delivery.response_table:
        counts = modes.read_response_counts(paths.raw / delivery.response_table, spec.nr_classes)
    controls = {name: read_controls(paths.controls, t) for name, t in spec.controls.items()}
    out = weight_wave(respondents, contacts, controls, spec, progress, delivery, counts)
    with stage_commit("weight", stages.target("weight", paths)):
        write_table(out.weights.assign(**{BLOCK_COLUMN: out.replicates.block}), paths.processed("weights.parquet"),
                    WEIGHTS)
        write_blocks(out.replicates, out.weights["respondent_id"].to_numpy(), paths.processed(REPLICATE_FILE))
        write_record(out.metadata, paths.processed(RECORD))
        write_table(out.diagnostics, paths.processed("weighting_diagnostics.csv"), WEIGHTING_DIAGNOSTICS)
    return WeightResult(len(respondents), 0 if contacts is None else len(contacts), out.metadata["replicates"]["n_replicates"],
                        out.metadata["replicates"]["method"], out.metadata["calibration"]["iterations"],
                        float("nan") if out.metadata["calibration"]["max_margin_error"] is None
                        else out.metadata["calibration"]["max_margin_error"], timer.seconds,
                        _first_iterations(out.diagnostics))


def _first_iterations(diag: pd.DataFrame) -> int | None:
    rows = diag[(diag["step"] == "calibration") & (diag["metric"] == "iterations")]
    return int(rows["value"].iloc[0]) if len(rows) else None
