"""run_estimate end to end on a synthetic wave built in tmp_path."""

import numpy as np
import pandas as pd
import pytest

from pipeline.errors import InputError, SpecError
from pipeline.estimation import run_estimate
from pipeline.schemas import ESTIMATES, SAE, TARGETS
from pipeline.tableio import read_table
from tests.estimation.conftest import write_wave


@pytest.fixture(scope="module")
def wave(tmp_path_factory):
    paths = write_wave(tmp_path_factory.mktemp("wave"))
    result = run_estimate(paths, progress=False)
    return paths, result


def test_outputs_follow_the_contract(wave):
    paths, result = wave
    est = read_table(paths.processed("estimates.csv"), ESTIMATES)
    tgt = read_table(paths.processed("targets.csv"), TARGETS)
    sae = read_table(paths.processed("sae.csv"), SAE)
    # 36 estimands × 110 domains × 2 variance methods
    assert len(est) == 36 * 110 * 2 == result.estimates
    assert set(est["variance_method"]) == {"replicate", "taylor"}
    assert set(est["domain_type"]) == {"overall", "county", "sex", "age_band", "education", "urban", "group",
                                       "county_group", "county_urban"}
    assert {"鲤城区/农民", "鲤城区/城镇", "全市", "领导干部和公务员"} <= set(est["domain"])
    assert set(est["reliability"]) <= {"ok", "caution", "suppressed"}
    assert len(tgt) == 1 + 13 + 4 + 2 + 5 + 5 + 2
    assert len(sae) == 13 and sae["model_est"].notna().all()
    assert "目标" in result.summary() and "met" not in result.summary()


def test_overall_share_is_the_weighted_share(wave):
    paths, _ = wave
    est = read_table(paths.processed("estimates.csv"), ESTIMATES)
    sc = pd.read_parquet(paths.processed("scores.parquet"))
    w = pd.read_parquet(paths.processed("weights.parquet"))
    m = sc.merge(w, on="respondent_id")
    ok = m["literate"].notna()
    direct = np.average(m.loc[ok, "literate"].astype(float), weights=m.loc[ok, "w_final"])
    row = est[(est["estimand_id"] == "literate") & (est["domain_type"] == "overall")]
    assert row["est"].to_numpy() == pytest.approx([direct, direct], rel=1e-12)
    assert (row["n"] == ok.sum()).all()


def test_verdicts_agree_with_intervals_and_p_values(wave):
    paths, _ = wave
    t = read_table(paths.processed("targets.csv"), TARGETS)
    # verdict and publication are separate decisions: every cell with an interval has the verdict its
    # interval gives, suppressed or not (the wave's policy is `suppressed: verdict`)
    shown = t[t["publish"] != "none"]
    assert set(t.loc[t["reliability"] == "suppressed", "publish"]) <= {"verdict", "none"}
    assert set(t.loc[t["reliability"] != "suppressed", "publish"]) <= {"estimate", "none"}
    assert ((shown["verdict"] == "met") == (shown["lci"] > 0.16)).all()
    assert ((shown["verdict"] == "not met") == (shown["uci"] < 0.16)).all()
    # the one-sided logit test at 2.5% is the lower bound of the 95% logit interval
    finite = shown[np.isfinite(shown["p_value"])]
    assert ((finite["p_value"] < 0.025) == (finite["lci"] > 0.16)).all()
    assert (t.loc[t["publish"] == "none", "verdict"] == "undetermined").all()
    assert t["gap"].to_numpy() == pytest.approx((t["est"] - 0.16).to_numpy())
    assert t["reason"][t["verdict"] == "undetermined"].notna().all()


def test_rerun_is_byte_identical(wave):
    paths, _ = wave
    before = {n: paths.processed(n).read_bytes() for n in ("estimates.csv", "targets.csv", "sae.csv")}
    run_estimate(paths, progress=False)
    for n, b in before.items():
        assert paths.processed(n).read_bytes() == b, n


def test_design_defaults_and_taylor_primary(tmp_path):
    paths = write_wave(tmp_path, design={"primary": "taylor"})
    run_estimate(paths, progress=False)
    t = read_table(paths.processed("targets.csv"), TARGETS)
    e = read_table(paths.processed("estimates.csv"), ESTIMATES)
    tay = e[(e["estimand_id"] == "literate") & (e["variance_method"] == "taylor") & (e["domain_type"] == "overall")]
    assert t.loc[t["domain_type"] == "overall", "se"].iloc[0] == pytest.approx(tay["se"].iloc[0], rel=1e-12)


def test_missing_weights_row_is_an_input_error(tmp_path):
    paths = write_wave(tmp_path)
    from pipeline.schemas import WEIGHTS
    from pipeline.tableio import write_table
    wpath = paths.processed("weights.parquet")
    w = pd.read_parquet(wpath).iloc[1:]
    write_table(w, wpath, WEIGHTS)
    with pytest.raises(InputError, match="weights.parquet has no row for 1 respondent"):
        run_estimate(paths, progress=False)


def test_bad_estimands_spec(tmp_path):
    paths = write_wave(tmp_path)
    text = paths.estimands.read_text(encoding="utf-8").replace("estimand: literate", "estimand: literacy", 1)
    paths.estimands.write_text(text, encoding="utf-8")
    with pytest.raises(SpecError, match="target.estimand 'literacy'"):
        run_estimate(paths, progress=False)


def test_calibration_cells_come_from_the_record(wave):
    """build_design codes every respondent's calibration cell by lookup in the design record."""
    from pipeline.estimation.run import calibration_columns
    from pipeline.survey_design.record import read_record

    paths, _ = wave
    rec = read_record(paths.processed("design.json"))
    frame = pd.read_parquet(paths.processed("respondents.parquet"))
    out, cols = calibration_columns(frame, rec)
    assert cols == [["_calibration_cell_0"], ["_calibration_cell_1"]]
    labels = np.asarray(rec.margins[0].labels, dtype=object)[out["_calibration_cell_0"]]
    assert list(labels) == list(frame["county_code"] + "|" + frame["sex"])


def test_replicate_factors_taken_from_the_weighting_give_the_same_estimates(wave):
    """A record whose replicates no step re-weighted: the design takes the PSU factors from one row per PSU
    instead of reading and checking the n × R matrix, and every estimate is the same, bit for bit."""
    from pipeline.estimation.run import analysis_frame, build_design, estimate_table, psu_replicate_factors
    from pipeline.estimation.spec import load_estimands
    from pipeline.survey_design.record import DesignRecord, read_record

    paths, _ = wave
    rec = read_record(paths.processed("design.json"))
    assert not rec.constant_within_psu  # the tests' record says nothing: the matrix is read and checked
    data = {k: v for k, v in rec.data.items() if k not in ("calibration", "replicates")}
    data["calibration"] = {**rec.data["calibration"], "cells": []}
    plain = DesignRecord({**data, "replicates": dict(rec.replicates)})
    factored = DesignRecord({**data, "replicates": {**rec.replicates, "constant_within_psu": True}})
    from pipeline.estimation.run import read_weights

    weights, blocks = read_weights(paths, plain)
    frame = analysis_frame(*(pd.read_parquet(paths.processed(f)) for f in ("respondents.parquet", "scores.parquet")),
                           weights)
    spec = load_estimands(paths.estimands)
    a, b = build_design(frame, plain, blocks=blocks), build_design(frame, factored, blocks=blocks)
    assert a.replicates.weights is not None and b.replicates.weights is None
    np.testing.assert_array_equal(a.replicates.factors, b.replicates.factors)
    psu, table = psu_replicate_factors(frame, factored, blocks)
    np.testing.assert_array_equal(b.replicate_matrix(), frame["w_final"].to_numpy()[:, None] * table[psu])
    ea = estimate_table(a, frame, spec, ["replicate"], 2024, show=False)
    eb = estimate_table(b, frame, spec, ["replicate"], 2024, show=False)
    pd.testing.assert_frame_equal(ea, eb, check_exact=True)
