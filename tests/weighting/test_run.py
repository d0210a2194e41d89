"""run_weight end to end on a small synthetic wave written under tmp_path."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest

from pipeline.errors import InputError, PipelineError
from pipeline.paths import ROOT, WavePaths
from pipeline.simulate.synthetic import draw_wave, weighting_tables, write_weighting_inputs
from pipeline.survey_design.replicate_blocks import replicate_columns
from pipeline.tableio import read_table
from pipeline.vocabulary import counties
from pipeline.weighting import run_weight

DESIGN = (ROOT / "survey_instruments" / "2024" / "design.yaml").read_text(encoding="utf-8")


@pytest.fixture(scope="module")
def tables():
    return weighting_tables(draw_wave(seed=3, counties=counties().codes[:8]))


@pytest.fixture(scope="module")
def jkn_run(tables, tmp_path_factory):
    root = tmp_path_factory.mktemp("wave")
    write_weighting_inputs(root, tables, DESIGN)
    paths = WavePaths(2024, root=root)
    result = run_weight(paths, progress=False)
    return paths, result


def _weights(paths):
    """weights.parquet with every replicate as a column, as the export and the notebooks see it."""
    from pipeline.estimation.run import read_weights
    from pipeline.survey_design.record import read_record

    rec = read_record(paths.processed("design.json"))
    w, blocks = read_weights(paths, rec)
    return replicate_columns(w, blocks, list(rec.replicate_columns))


def _controls(tables, name):
    return tables[name].assign(population=lambda d: d["population"].astype(float))


def test_outputs_and_metadata(jkn_run, tables):
    paths, result = jkn_run
    w = _weights(paths)
    meta = json.loads(paths.processed("design.json").read_text(encoding="utf-8"))
    n_psu = tables["contacts"]["psu"].nunique()
    reps = [c for c in w if c.startswith("w_rep_")]
    # each county is a block (every weighting class, margin and trimming group lies within one county);
    # a block stores the replicates of its own PSUs, one row group of replicate_weights.parquet each
    blocks = meta["replicates"]["blocks"]
    assert len(blocks) == 8 and sorted(x for b in blocks for x in b) == list(range(n_psu))
    stored = pq.ParquetFile(paths.processed("replicate_weights.parquet"))
    assert stored.metadata.num_row_groups == 8
    for b, cols in enumerate(blocks):
        inside = (w["replicate_block"] == b).to_numpy()
        assert w.loc[inside, "stratum"].nunique() == 1
        got = stored.read_row_group(b).to_pandas()
        assert list(got["respondent_id"]) == list(w.loc[inside, "respondent_id"])
        np.testing.assert_array_equal(got[[f"slot_{j:04d}" for j in range(len(cols))]].to_numpy(),
                                      w.loc[inside, [reps[j] for j in cols]].to_numpy())
        # every other replicate is the full-sample weight there
        others = [r for j, r in enumerate(reps) if j not in cols]
        assert (w.loc[inside, others].to_numpy() == w.loc[inside, ["w_final"]].to_numpy()).all()
    assert len(w) == len(tables["respondents"]) == result.respondents
    assert len(reps) == n_psu == meta["replicates"]["n_replicates"] == result.replicates
    assert meta["replicates"]["method"] == "JKn" and meta["replicates"]["scale"] == 1.0
    assert len(meta["replicates"]["rscales"]) == n_psu
    np.testing.assert_allclose(meta["replicates"]["rscales"], 5 / 6)  # six PSUs per stratum
    assert meta["calibration"]["margins"] == [["county_code", "sex", "age_band", "urban"],
                                              ["county_code", "education"]]
    R = w[reps].to_numpy()
    assert np.isfinite(R).all() and (R >= 0).all() and (w["w_final"] > 0).all()
    # each JKn replicate has zero weight on exactly the respondents of one PSU
    zero_psus = [w.loc[R[:, j] == 0, "psu"].unique() for j in range(R.shape[1])]
    assert all(len(z) <= 1 for z in zero_psus)
    assert "summary" in dir(result) and "受访者" in result.summary()


def test_final_weights_meet_controls_and_trimming_bounds(jkn_run, tables):
    paths, _ = jkn_run
    w = _weights(paths)
    r = tables["respondents"].merge(w, on="respondent_id")
    for name in ("county_education", "county_sex_age_urban"):
        c = _controls(tables, name)
        # county totals survive any collapse of cells within the county
        got = r.groupby("county_code")["w_final"].sum()
        want = c.groupby("county_code")["population"].sum()
        np.testing.assert_allclose(got.reindex(want.index), want, rtol=1e-7)
        rep_tot = r.groupby("county_code")[[x for x in w if x.startswith("w_rep_")]].sum()
        np.testing.assert_allclose(rep_tot.reindex(want.index).to_numpy(),
                                   np.repeat(want.to_numpy()[:, None], rep_tot.shape[1], 1), rtol=1e-6)
    c = _controls(tables, "county_education")
    got = r.groupby(["county_code", "education"])["w_final"].sum()
    d = read_table(paths.processed("weighting_diagnostics.csv"), "weighting_diagnostics")
    collapsed = set(d.loc[(d.metric == "collapsed") & (d.variable == "county_education"), "level"])
    if not collapsed:
        np.testing.assert_allclose(got, c.set_index(["county_code", "education"])["population"].reindex(got.index),
                                   rtol=1e-7)
    med = r.groupby("county_code")["w_final"].transform("median")
    ratio = r["w_final"] / med
    assert ratio.max() <= 5 * 1.001 and ratio.min() >= 0.2 * 0.999


def test_diagnostics_contract(jkn_run):
    paths, _ = jkn_run
    d = read_table(paths.processed("weighting_diagnostics.csv"), "weighting_diagnostics")
    for m in ("rr1", "rr3", "coop1", "kish_deff", "ess", "weight_min", "weight_median", "weight_max",
              "iterations", "max_margin_error", "trimmed", "margin", "base_weight_frame_ratio"):
        assert (d["metric"] == m).any(), m
    city = d[(d.metric == "rr3") & (d.level == "全市")]
    assert len(city) == 1 and 0 < city["value"].iloc[0] < 1
    final = d[(d.step == "final") & (d.metric == "margin")]
    assert final["control"].notna().all()
    rel = (final["value"] - final["control"]).abs() / final["control"].clip(lower=1)
    assert rel.max() < 1e-7
    deff = d[(d.step == "final") & (d.metric == "kish_deff")]["value"]
    assert (deff >= 1).all()
    ess = d[(d.step == "final") & (d.metric == "ess") & (d.level == "全市")]["value"].iloc[0]
    n = d[(d.step == "final") & (d.metric == "n") & (d.level == "全市")]["value"].iloc[0]
    kd = d[(d.step == "final") & (d.metric == "kish_deff") & (d.level == "全市")]["value"].iloc[0]
    assert ess == pytest.approx(n / kd)


def test_rerun_is_byte_identical(jkn_run):
    """Re-running through the command line (`python -m pipeline weight`) gives the same bytes."""
    from pipeline.cli import main

    paths, _ = jkn_run
    before = {p: paths.processed(p).read_bytes() for p in ("weighting_diagnostics.csv", "weights.parquet")}
    assert main(["weight", "--wave", "2024", "--root", str(paths.root), "--quiet"]) == 0
    for p, b in before.items():
        assert paths.processed(p).read_bytes() == b, p


def test_bootstrap_option(tables, tmp_path):
    design = DESIGN.replace("method: JKn ", "method: bootstrap ").replace("replicates: 200 ", "replicates: 30 ")
    assert "method: bootstrap" in design
    write_weighting_inputs(tmp_path, tables, design)
    paths = WavePaths(2024, root=tmp_path)
    run_weight(paths, progress=False)
    meta = json.loads(paths.processed("design.json").read_text(encoding="utf-8"))["replicates"]
    assert meta["method"] == "bootstrap" and meta["n_replicates"] == 30
    assert meta["scale"] == pytest.approx(1 / 29) and meta["rscales"] == [1.0] * 30
    assert meta["seed"] == 20240917 and meta["type"] == "subbootstrap"
    # in this small wave some bootstrap replicates drop the PSUs a sparse cell needs: they are reported
    d = read_table(paths.processed("weighting_diagnostics.csv"), "weighting_diagnostics")
    infeasible = d[(d.step == "calibration") & (d.metric == "replicates_infeasible")]["value"].iloc[0]
    assert infeasible >= 1
    full = d[(d.step == "final") & (d.metric == "max_margin_error") & d["variable"].isna()]["value"].iloc[0]
    assert full < 1e-8
    strict = design.replace("replicate_nonconvergence: report", "replicate_nonconvergence: error")
    paths.design.write_text(strict, encoding="utf-8")
    with pytest.raises(PipelineError, match=r"did not converge \(\d+ iterations.*\): margin .*replicate \d+"):
        run_weight(paths, progress=False)


def test_missing_control_file_is_named(tables, tmp_path):
    write_weighting_inputs(tmp_path, tables, DESIGN)
    paths = WavePaths(2024, root=tmp_path)
    (paths.controls / "county_education.csv").unlink()
    with pytest.raises(InputError, match="county_education.csv does not exist"):
        run_weight(paths, progress=False)


def test_empty_cell_without_collapse_rule_is_an_error(tables, tmp_path):
    t = dict(tables)
    resp = t["respondents"]
    drop = (resp["county_code"] == "350502") & (resp["education"] == "本科及以上")
    keep_ids = set(resp.loc[drop, "respondent_id"])
    t["respondents"] = resp[~drop]
    c = t["contacts"].copy()
    c.loc[c["respondent_id"].isin(keep_ids).fillna(False), "respondent_id"] = pd.NA
    t["contacts"] = c
    design = DESIGN.split("      - margin: county_education")[0] + "\n" + DESIGN.split("        min_psu: 2\n")[-1]
    assert "county_education\n        variable" not in design
    write_weighting_inputs(tmp_path, t, design)
    with pytest.raises(PipelineError, match="county_education.*no sample member: 350502|本科及以上"):
        run_weight(WavePaths(2024, root=tmp_path), progress=False)


def test_collapse_rule_merges_adjacent_age_band(tables):
    from pipeline.survey_design.spec import CollapseRule, ControlTable
    from pipeline.weighting.controls import build_margin

    r = tables["respondents"]
    r = r[~((r["county_code"] == "350502") & (r["sex"] == "男") & (r["urban"] == "城镇") & (r["age_band"] == "30-39"))]
    t = ControlTable("county_sex_age_urban", "x.csv", ("county_code", "sex", "age_band", "urban"))
    rule = CollapseRule("county_sex_age_urban", "age_band", ("18-29", "30-39", "40-49", "50-59", "60-69"))
    c = _controls(tables, "county_sex_age_urban")
    m, log = build_margin(r, c, t, rule)
    assert [(x.within, x.merged, x.label) for x in log] == [("350502|男|城镇", ("30-39", "40-49"), "30-39+40-49")]
    i = m.labels.index("350502|男|30-39+40-49|城镇")
    sel = (c["county_code"] == "350502") & (c["sex"] == "男") & (c["urban"] == "城镇") & c["age_band"].isin(["30-39", "40-49"])
    assert m.totals[i] == pytest.approx(c.loc[sel, "population"].sum())
    assert m.totals.sum() == pytest.approx(c["population"].sum())


def test_summary_gives_the_calibration_figures_the_report_gives():
    """One set of calibration figures: the first calibration, then the re-calibration after trimming, as
    the report's methods section says them (reporting/methods.py)."""
    from pipeline.weighting.run import WeightResult

    trimmed = WeightResult(10801, 0, 71, "JKn", 8, 2.8e-9, 6.6, first_iterations=18).summary()
    assert "校准迭代 18 次，截尾后重新校准迭代 8 次" in trimmed and "户" not in trimmed
    once = WeightResult(10801, 16224, 71, "JKn", 9, 2.8e-9, 6.6, first_iterations=9).summary()
    assert "校准迭代 9 次，" in once and "截尾后" not in once and once.startswith("16224 户、")
