"""Bad or missing stage outputs stop the report with a message that names the file and the fix."""

from __future__ import annotations

import json
import shutil

import pandas as pd
import pytest

from pipeline.errors import InputError
from pipeline.reporting.inputs import load_inputs, primary_variance_method
from pipeline.survey_design.record import write_record
from pipeline.tableio import write_table, write_text


def test_missing_estimates_says_how_to_fix(project):
    project.processed("estimates.csv").unlink()
    with pytest.raises(InputError, match=r"estimates\.csv.*make survey-2024"):
        load_inputs(project)


def _set(rows, column, value):
    def edit(df):
        df.loc[rows(df) if callable(rows) else rows, column] = value
        return df
    return edit


# (case, table, edit of its rows, what the message must say)
SPOILED = [
    ("unknown reliability value named", "estimates", _set(3, "reliability", "unreliable"),
     r"'reliability'.*'unreliable'"),
    ("unknown verdict named", "targets", _set(0, "verdict", "maybe"), r"targets\.csv.*'verdict'.*'maybe'"),
    ("targets from another run detected", "targets", _set(lambda t: t["domain_type"] == "overall", "est", 0.2),
     "different runs"),
    ("targets without overall row", "targets", lambda t: t[t["domain_type"] != "overall"],
     r"targets\.csv has no row with domain_type 'overall'"),
    ("missing headline row", "estimates",
     lambda e: e[~((e["estimand_id"] == "literate") & (e["domain_type"] == "overall"))], "headline"),
]


@pytest.mark.parametrize("table, edit, message", [row[1:] for row in SPOILED], ids=[row[0] for row in SPOILED])
def test_spoiled_input_is_named(project, table, edit, message):
    path = project.processed(f"{table}.csv")
    write_table(edit(pd.read_csv(path, encoding="utf-8-sig")), path, table)
    with pytest.raises(InputError, match=message):
        load_inputs(project)


def test_primary_variance_is_the_design_records(project):
    """One resolution: the record the weighting stage wrote from design.yaml, not the specs as they are now."""
    assert load_inputs(project).variance_method == "replicate"
    write_text("schema_version: 1\nvariance:\n  primary: linearisation\n", project.design)
    assert load_inputs(project).variance_method == "replicate"  # design.yaml edited, weights not re-made
    rec = json.loads(project.processed("design.json").read_text(encoding="utf-8"))
    rec["variance"]["primary"] = "taylor"
    write_record(rec, project.processed("design.json"))
    assert load_inputs(project).variance_method == "taylor"
    assert primary_variance_method(project, {"replicate", "taylor"}) == "taylor"
    project.processed("design.json").unlink()
    with pytest.raises(InputError, match="design.json does not exist"):
        primary_variance_method(project, {"replicate", "taylor"})


def test_named_primary_absent_from_estimates(project):
    e = pd.read_csv(project.processed("estimates.csv"), encoding="utf-8-sig")
    write_table(e[e["variance_method"] == "taylor"], project.processed("estimates.csv"), "estimates")
    with pytest.raises(InputError, match=r"design\.yaml.*'replicate'"):
        load_inputs(project)


def test_demo_flag_is_presence_of_truth_json(project):
    assert load_inputs(project).is_demo
    (project.raw / "truth.json").unlink()
    assert not load_inputs(project).is_demo


def test_run_records_are_optional(project):
    for name in ("ingest_report.json", "weighting_diagnostics.csv", "weights.parquet"):
        project.processed(name).unlink()
    shutil.rmtree(project.root / "survey_instruments" / "frameworks.yaml", ignore_errors=True)
    inputs = load_inputs(project)
    assert inputs.ingest is None and inputs.diagnostics is None
    # what the weighting did comes from the design record, not from weights.parquet
    assert inputs.weights_meta == json.loads(project.processed("design.json").read_text(encoding="utf-8"))
