"""The weighting steps and their one registry, WEIGHTING_STEPS.

A step is a function of the working state: it multiplies the weight matrix W (column 0 the full
sample, columns 1..R the replicates, so every replicate is re-weighted exactly as the full sample)
and adds its diagnostics rows. Each step fills one slot, and the slots run in this order:

    base         base                from the stage probabilities (n_adults / (p_psu·p_ssu·p_hh))
                 delivered_weight    the delivered design or final weight (delivery modes)
    replicates   replicates          replicate factors of the PSUs: W gains its R replicate columns here,
                                     right after the base weight, so every later step re-weights them
    nonresponse  nonresponse         AAPOR weighting classes from the contact sheet
                 nonresponse_counts  factor eligible / respondents from a per-class count table
    calibration  calibration         to the census margins (sparse cells merged first)
    trimming     trimming            trim within bounds, re-calibrate, repeat

Which steps run is the delivery mode's choice (pipeline/weighting/modes.py `steps_for`): a mode names
at most one step per slot. After each slot the weight it leaves is kept (w_base, w_nr, w_cal, w_final).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from pipeline.errors import InputError, PipelineError
from pipeline.instruments.delivery import Delivery
from pipeline.survey_design.codes import expand_rows, factorize_sorted, gather_multiply
from pipeline.survey_design.replicate_blocks import ReplicateBlocks
from pipeline.survey_design.spec import DesignSpec
from pipeline.vocabulary import OVERALL_LABEL
from pipeline.weighting import diagnostics as dg
from pipeline.weighting import modes
from pipeline.weighting.base import household_weights
from pipeline.weighting.calibration import (
    CalibrationResult,
    Margin,
    calibrate,
    calibrate_blocks,
    calibrate_cells,
)
from pipeline.weighting.controls import Collapse, build_margin, check_controls
from pipeline.weighting.factored import FactoredWeights
from pipeline.weighting.grouped import cells, distinct_rows
from pipeline.weighting.nonresponse import nonresponse_adjustment, response_rates
from pipeline.weighting.replicates import ReplicateFactors, replicate_factors
from pipeline.weighting.trimming import trim_and_recalibrate

SLOTS = ("base", "replicates", "nonresponse", "calibration", "trimming")


@dataclass
class WeightingState:
    """What the steps share while a wave is weighted (inputs first, then what the steps make)."""

    respondents: pd.DataFrame
    contacts: pd.DataFrame | None
    controls: dict[str, pd.DataFrame]
    spec: DesignSpec
    delivery: Delivery
    response_counts: pd.DataFrame | None
    say: Callable[[str], None]
    county: np.ndarray = field(init=False)
    rows: list[dict] = field(default_factory=list)
    W: np.ndarray | ReplicateBlocks | None = None  # the (n, 1 + R) matrix (blocks once a step needs single units)
    F: FactoredWeights | None = None  # the same matrix as group factors, until then (weighting/factored.py)
    aggregate: bool = True  # False: every step on the n × (1 + R) matrix (the reference the tests compare with)
    kept: dict[str, np.ndarray] = field(default_factory=dict)  # slot → full-sample weight after it
    ran: list[str] = field(default_factory=list)
    rep: ReplicateFactors | None = None
    A: np.ndarray | None = None  # (P, 1 + R) PSU factors: 1 for the full sample, then the replicates
    psu_r: np.ndarray | None = None  # PSU of each respondent
    psu_c: np.ndarray | None = None  # PSU of each contact
    psu_labels: np.ndarray | None = None
    nr_source: str = "none"
    margins: list[Margin] = field(default_factory=list)
    collapses: list[Collapse] = field(default_factory=list)
    calibration: CalibrationResult | None = None  # the last calibration (after trimming, the re-calibration)
    trim_rounds: int = 0

    def __post_init__(self):
        self.county = self.respondents["county_code"].astype(str).to_numpy()

    def full_sample(self) -> np.ndarray:
        """Column 0 of the weight matrix, (n,)."""
        if self.F is not None:
            return self.F.column(0)
        return self.W.full if isinstance(self.W, ReplicateBlocks) else self.W[:, 0]

    def units(self, coupled: list[np.ndarray] = ()) -> ReplicateBlocks:
        """The weights unit by unit, as replicate blocks (survey_design/replicate_blocks.py), formed the
        first time a step needs them. `coupled`: the codes a later step treats as one (its groups and
        cells), so that each of their values lies within one block."""
        if self.F is not None:
            self.W, self.F = ReplicateBlocks.from_factors(self.F.w0, self.F.code, self.F.table, list(coupled)), None
        elif not isinstance(self.W, ReplicateBlocks):  # the matrix of the reference path: one block
            self.W = ReplicateBlocks.dense(self.W[:, 0].copy(), self.W[:, 1:])
        return self.W


def base(st: WeightingState) -> None:
    _first_weight(st, modes.delivered_base(st.respondents, Delivery()))


def delivered_weight(st: WeightingState) -> None:
    _first_weight(st, modes.delivered_base(st.respondents, st.delivery))


def _first_weight(st: WeightingState, w: np.ndarray) -> None:
    st.W = w[:, None].copy()
    st.rows += dg.frame_ratio(w, st.county, st.controls[st.spec.frame_check])
    st.rows += dg.weight_summary("base", w, st.county)


def replicates(st: WeightingState) -> None:
    spec, respondents, contacts = st.spec, st.respondents, st.contacts
    if contacts is not None:
        psu_r, st.psu_c, psu_stratum, st.psu_labels = _psu_index(respondents, contacts, spec)
    else:
        psu_r, psu_stratum, st.psu_labels = modes.respondent_psus(respondents, spec.design.stratum, spec.design.psu)
    rs = spec.replicates
    psu_fpc = None
    if spec.design.fpc:
        if contacts is None or spec.design.fpc not in contacts.columns:
            raise InputError(f"contacts.parquet lacks the fpc column {spec.design.fpc!r} named in design.yaml.")
        psu_fpc = np.zeros(len(psu_stratum))
        psu_fpc[st.psu_c] = pd.to_numeric(contacts[spec.design.fpc], errors="coerce").to_numpy(float)
    st.rep = replicate_factors(psu_stratum, rs.method, rs.replicates, rs.seed, spec.design.lonely_psu, rs.mse,
                               psu_fpc, rs.groups)
    st.psu_r = psu_r
    st.A = np.hstack([np.ones((len(psu_stratum), 1)), st.rep.factors])  # column 0: the full sample
    st.say(f"   base weights: {len(respondents)} respondents, {len(psu_stratum)} PSUs, "
           f"{st.rep.n_replicates} {st.rep.method} replicates")
    if st.aggregate:
        st.F, st.W = FactoredWeights.from_psu(st.W[:, 0], psu_r, st.A), None
    else:
        st.W = expand_rows(st.W[:, 0], st.A, psu_r)


def _psu_index(respondents: pd.DataFrame, contacts: pd.DataFrame, spec: DesignSpec):
    """Integer PSU codes shared by respondents and contacts, and the stratum of each PSU."""
    s, p = spec.design.stratum, spec.design.psu
    for name, df in (("respondents.parquet", respondents), ("contacts.parquet", contacts)):
        missing = [c for c in (s, p) if c not in df.columns]
        if missing:
            raise InputError(f"{name} lacks the design column(s) {missing} named in design.yaml (design:).")
    # the "stratum|psu" labels are made for the few hundred PSUs, not for every row
    codes, keys = zip(*(distinct_rows(df[[s, p]].astype(str), [s, p]) for df in (respondents, contacts)),
                      strict=True)
    joined = [np.array([f"{a}|{b}" for a, b in k], dtype=str) for k in keys]
    labels = np.sort(pd.unique(np.concatenate(joined[::-1])))
    lookup = pd.Series(np.arange(len(labels)), index=labels)
    psu_stratum = np.array([x.split("|", 1)[0] for x in labels])
    psu_r, psu_c = (lookup.reindex(j).to_numpy(np.int64)[c] for j, c in zip(joined, codes, strict=True))
    return psu_r, psu_c, psu_stratum, labels


def nonresponse(st: WeightingState) -> None:
    if st.contacts is None:
        raise InputError("the non-response adjustment from the contact sheet needs contacts.parquet; the delivery "
                         f"mode {st.delivery.mode!r} has none.")
    st.nr_source = "contacts"
    rates = response_rates(st.contacts, "county_code")
    st.rows += dg.rates_rows(rates)
    nr = nonresponse_adjustment(st.contacts, household_weights(st.contacts), st.spec.nr_classes,
                                st.respondents["respondent_id"], psu=st.psu_c, psu_factors=st.A)
    if st.F is not None:  # class × replicate factors on the groups: the class splits them
        st.F.multiply(nr.factors, st.F.refine(nr.resp_class)[1])
    else:
        gather_multiply(st.W, nr.factors, nr.resp_class, inplace=True)
    for i, label in enumerate(nr.class_labels):
        st.rows.append(dg.row("nonresponse", "nr_factor", "class", label, nr.factors[i, 0]))
        st.rows.append(dg.row("nonresponse", "eligibility_share", "class", label, nr.eligibility[i, 0]))
    st.say(f"   non-response: {len(nr.class_labels)} classes, overall RR3 {rates.loc[OVERALL_LABEL, 'rr3']:.3f}")


def nonresponse_counts(st: WeightingState) -> None:
    if st.response_counts is None:
        raise InputError("the non-response adjustment from counts needs the per-class table named in design.yaml "
                         "(delivery.response_table).")
    st.nr_source = "class_table"
    f, table = modes.count_adjustment(st.respondents, st.response_counts, st.spec.nr_classes,
                                      str(st.delivery.response_table))
    if st.F is not None:
        st.F.scale_units(f)
    else:
        st.W *= f[:, None]
    for label, r in table.iterrows():
        st.rows.append(dg.row("nonresponse", "nr_factor", "class", str(label), r["factor"]))
        st.rows.append(dg.row("nonresponse", "completed", "class", str(label), r["completed"]))
        st.rows.append(dg.row("nonresponse", "eligible", "class", str(label), r["eligible"]))
    st.say(f"   non-response: {len(table)} classes from the delivered count table (factor eligible / respondents)")


def recalibrate(st: WeightingState, Wm) -> CalibrationResult:
    """In place: the matrix (or blocks) handed in is never used again (the kept weights are copies)."""
    cal = st.spec.calibration
    if isinstance(Wm, ReplicateBlocks):
        return calibrate_blocks(cal.method, Wm, st.margins, tol=cal.tolerance, max_iter=cal.max_iter,
                                bounds=cal.bounds, strict_replicates=cal.strict_replicates)
    return calibrate(cal.method, Wm, st.margins, tol=cal.tolerance, max_iter=cal.max_iter, bounds=cal.bounds,
                     strict_replicates=cal.strict_replicates, inplace=True)


def _calibrate_groups(st: WeightingState) -> CalibrationResult:
    """The calibration on the group factors: the groups split by calibration cell, the cell × column
    table of starting-weight totals summed from the groups, solved there, its factors put on the groups."""
    cal = st.spec.calibration
    c = cells([m.codes for m in st.margins], [m.k for m in st.margins])
    child = c.spread(np.arange(len(c)))[st.F.refine(c.code)[1]]  # each new group's cell, as its rank
    g, res = calibrate_cells(cal.method, st.F.totals_by(child, len(c)), c.cats, st.margins, tol=cal.tolerance,
                             max_iter=cal.max_iter, bounds=cal.bounds, strict_replicates=cal.strict_replicates)
    st.F.multiply(g, child)
    return res


def calibration(st: WeightingState) -> None:
    spec, cal = st.spec, st.spec.calibration
    check_controls(st.respondents, st.controls, spec.controls, list(cal.margins), float(st.kept["base"].sum()))
    for name in cal.margins:
        rule = next((r for r in cal.collapse if r.margin == name), None)
        m, log_ = build_margin(st.respondents, st.controls[name], spec.controls[name], rule, st.psu_r)
        st.margins.append(m)
        st.collapses += log_
    for c in st.collapses:
        st.rows.append(dg.row("calibration", "collapsed", c.margin, f"{c.within}|{c.merged[0]}->{c.label}",
                              c.population))
    if st.F is not None:
        res = _calibrate_groups(st)
    else:
        res = recalibrate(st, st.W)
        st.W = res.weights
    total, in_full, replicates_hit = _negatives(st)
    if total:
        raise PipelineError(
            f"calibration method {cal.method!r} gave {total} negative weight(s) "
            f"({in_full} in the full sample, {replicates_hit} replicate(s) affected). "
            "Unbounded linear (GREG) weights can go negative: use method logit or truncated_linear with "
            "bounds, or raking, in design.yaml (weighting.calibration)."
        )
    st.calibration = res
    st.rows += dg.calibration_rows("calibration", res, st.margins)
    st.rows += dg.weight_summary("calibration", st.full_sample(), st.county)
    st.say(f"   calibration ({cal.method}): {res.iterations} iterations, max margin error {res.max_error:.2g}")
    if res.infeasible_replicates:
        st.say(f"   note: {res.infeasible_replicates} replicate(s) cannot meet every margin (a category without "
               f"members, or conflicting margins); their margins are met to {res.infeasible_max_error:.2g} "
               "(reported as replicates_infeasible)")


def _negatives(st: WeightingState) -> tuple[int, int, int]:
    """Negative weights after the calibration: in all, in the full sample, and the replicates with any
    (on the group factors, or on the matrix of the reference path; never on a matrix formed for it)."""
    if st.F is not None:
        members = np.bincount(st.F.code, minlength=len(st.F.table))
        neg = st.F.table < 0
        return int(members @ neg.sum(axis=1)), int(members @ neg[:, 0]), int(neg[:, 1:].any(axis=0).sum())
    neg = st.W < 0
    return int(neg.sum()), int(neg[:, 0].sum()), int(neg[:, 1:].any(axis=0).sum())


def trimming(st: WeightingState) -> None:
    t = st.spec.trimming
    if st.calibration is None:
        raise PipelineError("trimming re-calibrates after every round, so it runs only after the calibration step.")
    if t.by not in st.respondents.columns:
        raise InputError(f"respondents.parquet lacks the trimming group column {t.by!r} (design.yaml).")
    tcodes, tlabels = factorize_sorted(st.respondents[t.by].astype(str).to_numpy())
    # the trimming groups and the margins' categories each within one block: trimming and re-calibrating
    # the blocks then gives the matrix's weights
    W = st.units([tcodes] + [m.codes for m in st.margins])
    tr = trim_and_recalibrate(W, tcodes, tuple(str(x) for x in tlabels), t.lower, t.upper,
                              lambda Wm: recalibrate(st, Wm), t.max_rounds, t.slack, overwrite=True)
    st.W, st.trim_rounds = tr.weights, tr.rounds
    st.calibration = tr.recalibration or st.calibration
    var = "county" if t.by == "county_code" else t.by
    for i, label in enumerate(tlabels):
        st.rows.append(dg.row("trimming", "trimmed", var, str(label), tr.trimmed[i]))
    st.rows.append(dg.row("trimming", "trimmed", var, OVERALL_LABEL, tr.trimmed.sum()))
    st.rows.append(dg.row("trimming", "rounds", value=tr.rounds))
    st.rows.append(dg.row("trimming", "replicates_outside_bounds", value=tr.replicates_outside))
    st.rows.append(dg.row("trimming", "replicates_worst_bound_ratio", value=tr.worst_ratio))
    st.say(f"   trimming: {int(tr.trimmed.sum())} weights trimmed in {tr.rounds} round(s)")


def _after_nonresponse(st: WeightingState) -> None:
    if not any(STEPS[s].slot == "nonresponse" for s in st.ran):
        # no rows: they would only repeat the base weight's under the name of a step that did not run
        st.say(f"   non-response: no adjustment (delivery mode {st.delivery.mode}, no contact sheet or count table)")
        return
    w = st.full_sample()
    st.rows += dg.weight_summary("nonresponse", w, st.county)
    st.rows += dg.frame_ratio(w, st.county, st.controls[st.spec.frame_check], "nonresponse", "weight_frame_ratio")


def _after_trimming(st: WeightingState) -> None:
    if st.calibration is not None:
        st.rows += dg.calibration_rows("final", st.calibration, st.margins)
    st.rows += dg.weight_summary("final", st.full_sample(), st.county)


@dataclass(frozen=True)
class Step:
    slot: str
    run: Callable[[WeightingState], None]


# name (modes.steps_for, the design record's `steps`) -> the step
WEIGHTING_STEPS: dict[str, Step] = {
    "base": Step("base", base),
    "delivered_weight": Step("base", delivered_weight),
    "replicates": Step("replicates", replicates),
    "nonresponse": Step("nonresponse", nonresponse),
    "nonresponse_counts": Step("nonresponse", nonresponse_counts),
    "calibration": Step("calibration", calibration),
    "trimming": Step("trimming", trimming),
}
STEPS = WEIGHTING_STEPS
AFTER = {"nonresponse": _after_nonresponse, "trimming": _after_trimming}


def run_steps(st: WeightingState, names: tuple[str, ...]) -> WeightingState:
    """Run the named steps slot by slot, keeping the full-sample weight each slot leaves."""
    unknown = [n for n in names if n not in WEIGHTING_STEPS]
    if unknown:
        raise PipelineError(f"weighting step(s) {unknown} unknown; the steps are {list(WEIGHTING_STEPS)}.")
    for slot in SLOTS:
        chosen = [n for n in names if WEIGHTING_STEPS[n].slot == slot]
        if len(chosen) > 1:
            raise PipelineError(f"weighting steps {chosen} both fill the {slot} slot; a mode names one per slot.")
        for n in chosen:
            WEIGHTING_STEPS[n].run(st)
            st.ran.append(n)
        if st.W is None and st.F is None:
            raise PipelineError("the weighting steps must start with a base weight (base or delivered_weight).")
        AFTER.get(slot, lambda _s: None)(st)
        st.kept[slot] = st.full_sample().copy()
    return st
