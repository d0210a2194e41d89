"""The design record: written by the weighting stage, read by every later stage.

- it round-trips (read → write gives the same bytes; a rerun writes the same bytes);
- the calibration cells it records are those the estimation stage rebuilt before the record existed, by
  replaying the weighting's log of merges, on a wave where 74 sparse cells were merged (some more than
  once): tests/data/golden/design_record/collapsed_cells.csv, made by make_collapsed_cells.py there
  against the code before the record;
- a delivery mode that changes the steps shows in the record.
"""

from __future__ import annotations

import json
from dataclasses import replace

import numpy as np
import pandas as pd
import pytest

from pipeline.errors import InputError
from pipeline.instruments.delivery import Delivery
from pipeline.paths import ROOT, WavePaths
from pipeline.simulate.synthetic import draw_wave, weighting_tables, write_weighting_inputs
from pipeline.survey_design.record import SCHEMA_VERSION, MarginCells, read_record, validate, write_record
from pipeline.survey_design.spec import load_design_spec
from pipeline.tableio import read_table
from pipeline.vocabulary import counties
from pipeline.weighting import run_weight, weight_wave
from pipeline.weighting.controls import read_controls

GOLDEN = ROOT / "tests" / "data" / "golden" / "design_record" / "collapsed_cells.csv"
DESIGN = (ROOT / "survey_instruments" / "2024" / "design.yaml").read_text(encoding="utf-8")


@pytest.fixture(scope="module")
def collapsed(tmp_path_factory):
    """The golden's wave: as make_collapsed_cells.py builds it (min_count 15 merges 74 cells)."""
    root = tmp_path_factory.mktemp("collapsed")
    tables = weighting_tables(draw_wave(seed=5, counties=counties().codes[:6], psu_per_county=6))
    write_weighting_inputs(root, tables, DESIGN.replace("min_count: 10 ", "min_count: 15 "))
    paths = WavePaths(2024, root=root)
    run_weight(paths, progress=False)
    return paths, tables


def test_record_round_trips_and_is_deterministic(collapsed, tmp_path):
    paths, _ = collapsed
    path = paths.processed("design.json")
    first = path.read_bytes()
    rec = read_record(path)
    assert rec.data == json.loads(first)
    write_record(rec, tmp_path / "design.json")
    assert (tmp_path / "design.json").read_bytes() == first
    run_weight(paths, progress=False)
    assert path.read_bytes() == first  # no times, sorted keys: the same inputs give the same bytes
    assert b"T0" not in first and b"seconds" not in first


def test_record_names_what_estimation_needs(collapsed):
    paths, _ = collapsed
    rec = read_record(paths.processed("design.json"))
    w = read_table(paths.processed("weights.parquet"), "weights")
    assert rec.weight in w.columns and rec.regression_weight in w.columns
    # the replicates live in blocks beside it; every replicate is stored by at least one block
    assert not [c for c in w.columns if c.startswith(rec.replicate_prefix)]
    assert sorted({j for b in rec.replicate_blocks for j in b}) == list(range(len(rec.replicate_columns)))
    assert len(rec.replicates["rscales"]) == len(rec.replicate_columns) == rec.replicates["n_replicates"]
    assert (rec.stratum, rec.psu, rec.fpc, rec.lonely_psu) == ("stratum", "psu", None, "fail")
    assert rec.primary == "replicate" and rec.replicate_method == "JKn"
    assert rec.steps == ("base", "replicates", "nonresponse", "calibration", "trimming")
    assert [m.name for m in rec.margins] == ["county_sex_age_urban", "county_education"]
    assert len(rec.data["calibration"]["collapsed"]) == 74


def test_recorded_cells_equal_the_replay_before_the_record(collapsed):
    paths, tables = collapsed
    rec = read_record(paths.processed("design.json"))
    gold = pd.read_csv(GOLDEN, encoding="utf-8-sig", dtype=str)
    frame = tables["respondents"].set_index("respondent_id").loc[gold["respondent_id"]].reset_index()
    merged = 0
    for m in rec.margins:
        assert list(m.cell_labels(frame)) == list(gold[m.name])  # the same cells, labelled the same
        np.testing.assert_array_equal(m.codes(frame), gold[m.name + "_code"].astype(int))  # in the same order
        merged += int(gold[m.name].str.contains("+", regex=False).sum())
    assert merged > 100  # the wave exercises the merges (chains of three categories included)
    assert gold["county_sex_age_urban"].str.count(r"\+").max() >= 2


def test_cell_lookup_refuses_a_combination_it_never_saw():
    keys = pd.DataFrame({"county_code": ["A", "A", "A", "B"], "age_band": ["18-29", "30-39", "40-49", "18-29"]})
    labels = np.array(["A|18-29+30-39+40-49", "B|18-29"], dtype=object)
    m = MarginCells.from_codes("ca", ["county_code", "age_band"], keys, np.array([0, 0, 0, 1]), labels)
    assert list(m.cell_labels(keys)) == ["A|18-29+30-39+40-49"] * 3 + ["B|18-29"]
    assert list(m.codes(keys)) == [0, 0, 0, 1]
    assert MarginCells.from_dict(json.loads(json.dumps(m.as_dict()))) == m
    with pytest.raises(InputError, match="row 0.*'B'.*'40-49'.*re-run the weighting stage"):
        m.codes(pd.DataFrame({"county_code": ["B"], "age_band": ["40-49"]}))


def test_a_mode_that_changes_the_steps_shows_in_the_record(collapsed):
    paths, tables = collapsed
    spec = load_design_spec(paths.design)
    controls = {n: read_controls(paths.controls, t) for n, t in spec.controls.items()}
    resp = tables["respondents"]
    no_contacts = weight_wave(resp, None, controls, spec, delivery=Delivery("no_contacts"))
    assert no_contacts.metadata["steps"] == ["base", "replicates", "calibration", "trimming"]
    assert no_contacts.metadata["slots"] == {"base": "base", "replicates": "replicates", "calibration": "calibration",
                                             "trimming": "trimming"}
    assert no_contacts.metadata["delivery"]["nonresponse"] == "none"
    # no diagnostics under the name of a step that did not run
    assert "nonresponse" not in set(no_contacts.diagnostics["step"])
    final = weight_wave(resp.assign(w_delivered=2000.0), None, controls, replace(spec, trimming=None),
                        delivery=Delivery("final_weight", recalibrate=False))
    assert final.metadata["steps"] == ["delivered_weight", "replicates"]
    # nothing re-weighted the replicates: estimation may take their PSU factors from one row per PSU
    assert final.metadata["replicates"]["constant_within_psu"] is True
    assert no_contacts.metadata["replicates"]["constant_within_psu"] is False
    assert final.metadata["slots"] == {"delivered_weight": "base", "replicates": "replicates"}
    assert final.metadata["calibration"]["cells"] == [] and final.metadata["calibration"]["regression_weight"] is None
    w = final.weights
    assert (w["w_final"] == 2000.0).all() and (w["w_nr"] == w["w_final"]).all()


def test_missing_or_foreign_record_is_named(tmp_path):
    with pytest.raises(InputError, match="design.json does not exist.*weight"):
        read_record(tmp_path / "design.json")
    (tmp_path / "design.json").write_text(f'{{"schema_version": {SCHEMA_VERSION}, "weights": {{}}}}', encoding="utf-8")
    with pytest.raises(InputError, match="lacks"):
        read_record(tmp_path / "design.json")
    # a record of the version before replicate blocks: its weights.parquet would be read wrongly, so re-weight
    (tmp_path / "design.json").write_text('{"schema_version": 1, "weights": {}}', encoding="utf-8")
    with pytest.raises(InputError, match="schema version 2; re-run the weighting"):
        read_record(tmp_path / "design.json")


def test_a_step_without_its_slot_is_refused():
    from tests.design_records import record

    data = record([], [])
    assert validate(data, "design record").slots["nonresponse"] == "nonresponse"
    del data["slots"]["nonresponse"]
    with pytest.raises(InputError, match="steps .*nonresponse.* and their slots .* do not match"):
        validate(data, "design record")
