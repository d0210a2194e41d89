"""The weighting stage: respondents + contacts + controls + design.yaml → weights.parquet and
weighting_diagnostics.csv.

The full-sample weight is column 0 of one weight matrix and the replicates are columns 1..R; every
step (non-response adjustment, calibration, trimming with re-calibration) is applied to the whole
matrix, so each replicate is re-weighted exactly as the full sample.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from pipeline import stages
from pipeline.errors import InputError, PipelineError
from pipeline.instruments.delivery import Delivery, load_delivery
from pipeline.paths import WavePaths
from pipeline.progress import Timer, log
from pipeline.schemas import CONTACTS, RESPONDENTS, WEIGHTING_DIAGNOSTICS, WEIGHTS
from pipeline.tableio import read_table, stage_commit, write_table
from pipeline.vocabulary import OVERALL_LABEL
from pipeline.weighting import diagnostics as dg
from pipeline.weighting import modes
from pipeline.weighting.base import household_weights
from pipeline.weighting.calibration import calibrate
from pipeline.weighting.controls import build_margin, check_controls, read_controls
from pipeline.weighting.grouped import expand_rows, gather_multiply
from pipeline.weighting.nonresponse import nonresponse_adjustment, response_rates
from pipeline.weighting.replicates import ReplicateFactors, replicate_factors, replicate_names
from pipeline.weighting.spec import WeightingSpec, load_weighting_spec
from pipeline.weighting.trimming import trim_and_recalibrate


@dataclass(frozen=True)
class WeightingOutput:
    weights: pd.DataFrame
    diagnostics: pd.DataFrame
    metadata: dict


@dataclass(frozen=True)
class WeightResult:
    respondents: int
    households: int
    replicates: int
    method: str
    iterations: int
    max_margin_error: float
    seconds: float

    def summary(self) -> str:
        method = {"JKn": "分层刀切法", "bootstrap": "自助法"}.get(self.method, self.method)
        return (f"{self.households} 户、{self.respondents} 名受访者完成加权；{self.replicates} 套{method}重复权数逐套"
                f"重新加权；校准迭代 {self.iterations} 次，边际最大误差 {self.max_margin_error:.2g}；"
                f"用时 {self.seconds:.1f} 秒")


def _psu_index(respondents: pd.DataFrame, contacts: pd.DataFrame, spec: WeightingSpec):
    """Integer PSU codes shared by respondents and contacts, and the stratum of each PSU."""
    s, p = spec.design.stratum, spec.design.psu
    for name, df in (("respondents.parquet", respondents), ("contacts.parquet", contacts)):
        missing = [c for c in (s, p) if c not in df.columns]
        if missing:
            raise InputError(f"{name} lacks the design column(s) {missing} named in design.yaml (design:).")
    key_r = respondents[s].astype(str) + "|" + respondents[p].astype(str)
    key_c = contacts[s].astype(str) + "|" + contacts[p].astype(str)
    labels = np.unique(np.concatenate([key_c.to_numpy(str), key_r.to_numpy(str)]))
    lookup = pd.Series(np.arange(len(labels)), index=labels)
    psu_stratum = np.array([x.split("|", 1)[0] for x in labels])
    return (lookup.reindex(key_r.to_numpy(str)).to_numpy(np.int64),
            lookup.reindex(key_c.to_numpy(str)).to_numpy(np.int64), psu_stratum, labels)


def weight_wave(respondents: pd.DataFrame, contacts: pd.DataFrame | None, controls: dict[str, pd.DataFrame],
                spec: WeightingSpec, progress: bool = False, delivery: Delivery | None = None,
                response_counts: pd.DataFrame | None = None) -> WeightingOutput:
    """All weighting steps as one pure function of the input tables and the spec. The delivery mode
    decides where the base weight comes from and which steps run (pipeline/weighting/modes.py)."""
    say = log if progress else (lambda _m: None)
    delivery = delivery or Delivery()
    respondents = respondents.reset_index(drop=True)
    contacts = None if contacts is None else contacts.reset_index(drop=True)
    county = respondents["county_code"].astype(str).to_numpy()
    rows: list[dict] = []

    w_base = modes.delivered_base(respondents, delivery)
    rows += dg.frame_ratio(w_base, county, controls[spec.frame_check])
    rows += dg.weight_summary("base", w_base, county)

    if contacts is not None:
        psu_r, psu_c, psu_stratum, psu_labels = _psu_index(respondents, contacts, spec)
    else:
        psu_r, psu_stratum, psu_labels = modes.respondent_psus(respondents, spec.design.stratum, spec.design.psu)
    rs = spec.replicates
    psu_fpc = None
    if spec.design.fpc:
        if contacts is None or spec.design.fpc not in contacts.columns:
            raise InputError(f"contacts.parquet lacks the fpc column {spec.design.fpc!r} named in design.yaml.")
        psu_fpc = np.zeros(len(psu_stratum))
        psu_fpc[psu_c] = pd.to_numeric(contacts[spec.design.fpc], errors="coerce").to_numpy(float)
    rep: ReplicateFactors = replicate_factors(psu_stratum, rs.method, rs.replicates, rs.seed,
                                              spec.design.lonely_psu, rs.mse, psu_fpc, rs.groups)
    A = np.hstack([np.ones((len(psu_stratum), 1)), rep.factors])  # column 0: the full sample
    say(f"   base weights: {len(respondents)} respondents, {len(psu_stratum)} PSUs, "
        f"{rep.n_replicates} {rep.method} replicates")

    W = expand_rows(w_base, A, psu_r)
    nr_source = "none"
    if contacts is not None:
        nr_source = "contacts"
        rates = response_rates(contacts, "county_code")
        rows += dg.rates_rows(rates)
        nr = nonresponse_adjustment(contacts, household_weights(contacts), spec.nr_classes, respondents["respondent_id"],
                                    psu=psu_c, psu_factors=A)
        gather_multiply(W, nr.factors, nr.resp_class, inplace=True)
        for i, label in enumerate(nr.class_labels):
            rows.append(dg.row("nonresponse", "nr_factor", "class", label, nr.factors[i, 0]))
            rows.append(dg.row("nonresponse", "eligibility_share", "class", label, nr.eligibility[i, 0]))
        say(f"   non-response: {len(nr.class_labels)} classes, overall RR3 {rates.loc[OVERALL_LABEL, 'rr3']:.3f}")
    elif response_counts is not None:
        nr_source = "class_table"
        f, table = modes.count_adjustment(respondents, response_counts, spec.nr_classes, str(delivery.response_table))
        W *= f[:, None]
        for label, r in table.iterrows():
            rows.append(dg.row("nonresponse", "nr_factor", "class", str(label), r["factor"]))
            rows.append(dg.row("nonresponse", "completed", "class", str(label), r["completed"]))
            rows.append(dg.row("nonresponse", "eligible", "class", str(label), r["eligible"]))
        say(f"   non-response: {len(table)} classes from the delivered count table (factor eligible / respondents)")
    else:
        say(f"   non-response: no adjustment (delivery mode {delivery.mode}, no contact sheet or count table)")
    w_nr = W[:, 0].copy()
    rows += dg.weight_summary("nonresponse", w_nr, county)
    rows += dg.frame_ratio(w_nr, county, controls[spec.frame_check], "nonresponse", "weight_frame_ratio")
    if delivery.mode == "final_weight" and not delivery.recalibrate:
        return _as_delivered(respondents, W, w_base, rows, rep, rs, spec, delivery, county)

    cal = spec.calibration
    check_controls(respondents, controls, spec.controls, list(cal.margins), float(w_base.sum()))
    margins, collapses = [], []
    for name in cal.margins:
        rule = next((r for r in cal.collapse if r.margin == name), None)
        m, log_ = build_margin(respondents, controls[name], spec.controls[name], rule, psu_r)
        margins.append(m)
        collapses += log_
    for c in collapses:
        rows.append(dg.row("calibration", "collapsed", c.margin, f"{c.within}|{c.merged[0]}->{c.label}",
                           c.population))

    def recal(Wm):  # in place: the matrix handed in is never used again (w_nr, w_cal are copies)
        return calibrate(cal.method, Wm, margins, tol=cal.tolerance, max_iter=cal.max_iter, bounds=cal.bounds,
                         strict_replicates=cal.strict_replicates, inplace=True)

    res = recal(W)
    W = res.weights
    neg = W < 0
    if neg.any():
        cols = np.flatnonzero(neg.any(axis=0))
        raise PipelineError(
            f"calibration method {cal.method!r} gave {int(neg.sum())} negative weight(s) "
            f"({int(neg[:, 0].sum())} in the full sample, {len(cols) - int(neg[:, 0].any())} replicate(s) affected). "
            "Unbounded linear (GREG) weights can go negative: use method logit or truncated_linear with "
            "bounds, or raking, in design.yaml (weighting.calibration)."
        )
    w_cal = W[:, 0].copy()
    rows += dg.calibration_rows("calibration", res, margins)
    rows += dg.weight_summary("calibration", w_cal, county)
    say(f"   calibration ({cal.method}): {res.iterations} iterations, max margin error {res.max_error:.2g}")
    if res.infeasible_replicates:
        say(f"   note: {res.infeasible_replicates} replicate(s) cannot meet every margin (a category without "
            f"members, or conflicting margins); their margins are met to {res.infeasible_max_error:.2g} "
            "(reported as replicates_infeasible)")

    final_res, rounds = res, 0
    if spec.trimming is not None:
        t = spec.trimming
        if t.by not in respondents.columns:
            raise InputError(f"respondents.parquet lacks the trimming group column {t.by!r} (design.yaml).")
        tlabels, tcodes = np.unique(respondents[t.by].astype(str).to_numpy(), return_inverse=True)
        tr = trim_and_recalibrate(W, tcodes, tuple(str(x) for x in tlabels), t.lower, t.upper, recal,
                                  t.max_rounds, t.slack, overwrite=True)
        W, rounds = tr.weights, tr.rounds
        final_res = tr.recalibration or res
        for i, label in enumerate(tlabels):
            rows.append(dg.row("trimming", "trimmed", "county" if t.by == "county_code" else t.by, str(label),
                               tr.trimmed[i]))
        rows.append(dg.row("trimming", "trimmed", "county" if t.by == "county_code" else t.by, OVERALL_LABEL,
                           tr.trimmed.sum()))
        rows.append(dg.row("trimming", "rounds", value=rounds))
        rows.append(dg.row("trimming", "replicates_outside_bounds", value=tr.replicates_outside))
        rows.append(dg.row("trimming", "replicates_worst_bound_ratio", value=tr.worst_ratio))
        say(f"   trimming: {int(tr.trimmed.sum())} weights trimmed in {rounds} round(s)")
    rows += dg.calibration_rows("final", final_res, margins)
    rows += dg.weight_summary("final", W[:, 0], county)

    if not (np.isfinite(W).all() and (W[:, 0] > 0).all() and (W >= 0).all()):
        raise InputError("weighting produced non-finite, negative or zero full-sample weights; check the inputs.")
    names = replicate_names(rep.n_replicates)
    out = pd.DataFrame({
        "respondent_id": respondents["respondent_id"].astype(str),
        "stratum": respondents[spec.design.stratum].astype(str), "psu": respondents[spec.design.psu].astype(str),
        "w_base": w_base, "w_nr": w_nr, "w_cal": w_cal, "w_final": W[:, 0],
    })
    out = pd.concat([out, pd.DataFrame(W[:, 1:], columns=names)], axis=1)
    diag = pd.DataFrame(rows, columns=["step", "metric", "variable", "level", "value", "control"])
    rep_meta = rep.metadata(rs.seed if rep.method == "bootstrap" or rs.groups else None)
    if rep.psu_group is not None:  # estimation counts the df of a grouped jackknife on the groups
        rep_meta["psu_group"] = {str(lab): int(g) for lab, g in zip(psu_labels, rep.psu_group, strict=True)}
    meta = {
        "replicates": rep_meta,
        "calibration": {
            "method": cal.method, "margins": [list(spec.controls[m].by) for m in cal.margins],
            "control_tables": list(cal.margins), "tolerance": cal.tolerance, "bounds": cal.bounds,
            "iterations": final_res.iterations, "max_margin_error": final_res.max_error,
            "collapsed": [{"margin": c.margin, "within": c.within, "merged": list(c.merged), "label": c.label}
                          for c in collapses],
        },
        "nonresponse": {"classes": list(spec.nr_classes)},
        "trimming": None if spec.trimming is None else {
            "by": spec.trimming.by, "lower": spec.trimming.lower, "upper": spec.trimming.upper, "rounds": rounds},
        "design": {"stratum": "stratum", "psu": "psu", "lonely_psu": spec.design.lonely_psu},
        "weights": {"final": "w_final", "replicate_prefix": "w_rep_"},
        "delivery": _delivery_meta(delivery, nr_source, recalibrated=True),
    }
    return WeightingOutput(out, diag, meta)


def _delivery_meta(delivery: Delivery, nonresponse: str, recalibrated: bool) -> dict:
    return {"mode": delivery.mode, "interview_times": delivery.interview_times, "nonresponse": nonresponse,
            "calibrated": recalibrated, "response_table": delivery.response_table}


def _as_delivered(respondents, W, w_base, rows, rep, rs, spec, delivery, county) -> WeightingOutput:
    """final_weight mode without re-calibration: the company's weight is the final weight; replicates are
    that weight times the replicate factors of the strata and PSUs, so the variance reflects the design but
    none of the company's weighting steps."""
    rows += dg.weight_summary("final", W[:, 0], county)
    names = replicate_names(rep.n_replicates)
    out = pd.DataFrame({
        "respondent_id": respondents["respondent_id"].astype(str),
        "stratum": respondents[spec.design.stratum].astype(str), "psu": respondents[spec.design.psu].astype(str),
        "w_base": w_base, "w_nr": W[:, 0], "w_cal": W[:, 0], "w_final": W[:, 0],
    })
    out = pd.concat([out, pd.DataFrame(W[:, 1:], columns=names)], axis=1)
    diag = pd.DataFrame(rows, columns=["step", "metric", "variable", "level", "value", "control"])
    meta = {
        "replicates": rep.metadata(rs.seed if rep.method == "bootstrap" else None),
        "calibration": {"method": None, "margins": [], "control_tables": [], "iterations": 0,
                        "max_margin_error": None, "collapsed": []},
        "nonresponse": {"classes": []},
        "trimming": None,
        "design": {"stratum": "stratum", "psu": "psu", "lonely_psu": spec.design.lonely_psu},
        "weights": {"final": "w_final", "replicate_prefix": "w_rep_"},
        "delivery": _delivery_meta(delivery, "none", recalibrated=False),
    }
    return WeightingOutput(out, diag, meta)


def run_weight(paths: WavePaths, progress: bool = True) -> WeightResult:
    timer = Timer()
    stages.begin("weight", paths)
    spec = load_weighting_spec(paths.design)
    delivery = load_delivery(paths.design)
    respondents = read_table(paths.processed("respondents.parquet"), RESPONDENTS)
    contacts = read_table(paths.processed("contacts.parquet"), CONTACTS) if delivery.contacts else None
    counts = None
    if delivery.response_table:
        counts = modes.read_response_counts(paths.raw / delivery.response_table, spec.nr_classes)
    controls = {name: read_controls(paths.controls, t) for name, t in spec.controls.items()}
    out = weight_wave(respondents, contacts, controls, spec, progress, delivery, counts)
    with stage_commit("weight", stages.target("weight", paths)):
        write_table(out.weights, paths.processed("weights.parquet"), WEIGHTS, metadata=out.metadata)
        write_table(out.diagnostics, paths.processed("weighting_diagnostics.csv"), WEIGHTING_DIAGNOSTICS)
    return WeightResult(len(respondents), 0 if contacts is None else len(contacts), out.metadata["replicates"]["n_replicates"],
                        out.metadata["replicates"]["method"], out.metadata["calibration"]["iterations"],
                        float("nan") if out.metadata["calibration"]["max_margin_error"] is None
                        else out.metadata["calibration"]["max_margin_error"], timer.seconds)
