"""Raw data is never written by code: the demo generator refuses every folder holding a file it did not
write, and `make` fires the demo rule only when the survey file the instrument names is absent."""

from __future__ import annotations

import itertools
import shutil

import pytest

from pipeline.errors import PipelineError
from pipeline.simulate import MARKER, run_simulate
from tests.conftest import make_project
from tests.faults.kit import make, make_project_for_make, snapshot

PIECES = ("survey.sav", "contacts.csv", "frame.csv", "controls", "SHA256SUMS", "truth.json")


def _delivery(src, dest, pieces) -> None:
    """A copy of the demo delivery with only `pieces`, and without the generator's marker: as a person
    would assemble it from a real delivery."""
    dest.mkdir(parents=True)
    for piece in pieces:
        if (src / piece).is_dir():
            shutil.copytree(src / piece, dest / piece)
        else:
            shutil.copy2(src / piece, dest / piece)


# every non-empty part of a delivery, with and without its survey file
SHAPES = [c for r in range(1, len(PIECES) + 1) for c in itertools.combinations(PIECES, r)]


def test_every_partial_delivery_is_left_untouched(faults_raw, tmp_path):
    root = make_project(tmp_path / "project")
    refused = 0
    for i, shape in enumerate(SHAPES):
        out = tmp_path / f"shape{i}"
        _delivery(faults_raw.raw, out, shape)
        before = snapshot(out)
        with pytest.raises(PipelineError, match="did not write|already holds") as err:
            run_simulate(2024, out, per_stratum=40, root=root, force=False)
        assert "Traceback" not in str(err.value)
        assert snapshot(out) == before, f"the generator changed a delivery made of {shape}"
        refused += 1
    assert refused == len(SHAPES) == 63


def test_a_demo_file_edited_by_a_person_is_theirs(faults_raw, tmp_path):
    """A person's edit of one demo file makes the folder theirs: it is not regenerated over it."""
    root = make_project(tmp_path / "project")
    out = tmp_path / "demo"
    shutil.copytree(faults_raw.raw, out)
    assert (out / MARKER).exists()
    (out / "survey.sav").unlink()  # the generator may fill in its own missing file ...
    with (out / "contacts.csv").open("a", encoding="utf-8") as fh:
        fh.write("H9,350502,1,1,城镇,0.5,0.5,0.5,2.20,\n")  # ... but not beside a file a person changed
    before = snapshot(out)
    with pytest.raises(PipelineError, match="contacts.csv"):
        run_simulate(2024, out, per_stratum=40, root=root)
    assert snapshot(out) == before


def test_demo_regenerates_into_its_own_folder_and_empty_ones(tmp_path):
    root = make_project(tmp_path / "project")
    out = tmp_path / "empty"
    out.mkdir()
    run_simulate(2024, out, per_stratum=40, scale=0.05, root=root)
    first = snapshot(out)
    (out / "survey.sav").unlink()
    run_simulate(2024, out, per_stratum=40, scale=0.05, root=root)  # its own folder, survey file missing
    assert snapshot(out) == first
    with pytest.raises(PipelineError, match="--force"):
        run_simulate(2024, out, per_stratum=40, scale=0.05, root=root)
    run_simulate(2024, out, per_stratum=40, scale=0.05, root=root, force=True)
    assert snapshot(out) == first


def _instrument_names(root, name: str) -> None:
    inst = root / "survey_instruments" / "2024" / "instrument.yaml"
    text = inst.read_text(encoding="utf-8")
    assert "source_file: survey.sav" in text
    inst.write_text(text.replace("source_file: survey.sav", f"source_file: {name}"), encoding="utf-8")


def test_make_never_fires_the_demo_rule_beside_a_real_delivery(faults_raw, tmp_path):
    # contacts and controls arrived, the survey file not yet: a clear refusal, nothing written
    root = make_project_for_make(tmp_path / "partial", None)
    raw = root / "data" / "raw" / "2024"
    _delivery(faults_raw.raw, raw, ("contacts.csv", "controls", "frame.csv"))
    before = snapshot(raw)
    run = make(root, "survey-2024")
    assert run.returncode != 0
    assert "did not write" in run.stderr and "survey.sav" in run.stderr
    assert "Traceback" not in run.stderr
    assert snapshot(raw) == before
    assert not (root / "data" / "processed" / "2024" / "respondents.parquet").exists()

    # the instrument names survey.zsav and it is there: no demo rule, ingest reads it
    root = make_project_for_make(tmp_path / "zsav", None)
    _instrument_names(root, "survey.zsav")
    raw = root / "data" / "raw" / "2024"
    _delivery(faults_raw.raw, raw, ("contacts.csv", "controls", "frame.csv", "SHA256SUMS"))
    shutil.copy2(faults_raw.raw / "survey.sav", raw / "survey.zsav")  # (content irrelevant to the plan)
    plan = make(root, "survey-2024", dry=True)
    assert plan.returncode == 0, plan.stderr
    assert "simulate" not in plan.stdout and "pipeline ingest --wave 2024" in plan.stdout

    # the instrument names survey.zsav, only survey.sav was delivered: refused, not generated beside it
    (raw / "survey.zsav").unlink()
    shutil.copy2(faults_raw.raw / "survey.sav", raw / "survey.sav")
    before = snapshot(raw)
    run = make(root, "survey-2024")
    assert run.returncode != 0 and "survey.zsav" in run.stderr and "Traceback" not in run.stderr
    assert snapshot(raw) == before
