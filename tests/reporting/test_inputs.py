"""Bad or missing stage outputs stop the report with a message that names the file and the fix."""

from __future__ import annotations

import shutil

import pandas as pd
import pytest

from pipeline.errors import InputError
from pipeline.reporting.inputs import load_inputs, primary_variance_method
from pipeline.tableio import write_table, write_text


def test_missing_estimates_says_how_to_fix(project):
    project.processed("estimates.csv").unlink()
    with pytest.raises(InputError, match=r"estimates\.csv.*make survey-2024"):
        load_inputs(project)


def test_unknown_reliability_value_named(project):
    e = pd.read_csv(project.processed("estimates.csv"), encoding="utf-8-sig")
    e.loc[3, "reliability"] = "unreliable"
    write_table(e, project.processed("estimates.csv"), "estimates")
    with pytest.raises(InputError, match=r"'reliability'.*'unreliable'"):
        load_inputs(project)


def test_unknown_verdict_named(project):
    t = pd.read_csv(project.processed("targets.csv"), encoding="utf-8-sig")
    t.loc[0, "verdict"] = "maybe"
    write_table(t, project.processed("targets.csv"), "targets")
    with pytest.raises(InputError, match=r"targets\.csv.*'verdict'.*'maybe'"):
        load_inputs(project)


def test_targets_from_another_run_detected(project):
    t = pd.read_csv(project.processed("targets.csv"), encoding="utf-8-sig")
    t.loc[t["domain_type"] == "overall", "est"] = 0.2
    write_table(t, project.processed("targets.csv"), "targets")
    with pytest.raises(InputError, match="different runs"):
        load_inputs(project)


def test_targets_without_overall_row(project):
    t = pd.read_csv(project.processed("targets.csv"), encoding="utf-8-sig")
    write_table(t[t["domain_type"] != "overall"], project.processed("targets.csv"), "targets")
    with pytest.raises(InputError, match=r"targets\.csv has no row with domain_type 'overall'"):
        load_inputs(project)


def test_missing_headline_row(project):
    e = pd.read_csv(project.processed("estimates.csv"), encoding="utf-8-sig")
    e = e[~((e["estimand_id"] == "literate") & (e["domain_type"] == "overall"))]
    write_table(e, project.processed("estimates.csv"), "estimates")
    with pytest.raises(InputError, match="headline"):
        load_inputs(project)


def test_primary_variance_from_design_then_default(project):
    assert load_inputs(project).variance_method == "replicate"
    write_text("schema_version: 1\nvariance:\n  primary: linearisation\n", project.design)
    assert load_inputs(project).variance_method == "taylor"
    write_text("schema_version: 1\nvariance:\n  primary: replicate\n", project.estimands)  # estimands.yaml wins
    assert load_inputs(project).variance_method == "replicate"
    project.estimands.unlink()
    project.design.unlink()
    assert primary_variance_method(project, {"replicate", "taylor"}) == "replicate"
    assert primary_variance_method(project, {"taylor"}) == "taylor"


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
    assert inputs.ingest is None and inputs.diagnostics is None and inputs.weights_meta is None
