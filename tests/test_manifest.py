"""manifest.json: sha256 of every input and output, versions, seeds, parameters; no timestamps."""

from __future__ import annotations

import hashlib
import json
import re
import sys
from pathlib import Path

import pytest

import pipeline
from pipeline.manifest import build_manifest, find_seeds, verify_manifest, write_manifest
from pipeline.paths import WavePaths
from pipeline.tableio import write_json, write_text

WAVE = 2024


@pytest.fixture()
def project(tmp_path) -> WavePaths:
    paths = WavePaths(WAVE, root=tmp_path)
    write_text("design: {stratum: stratum}\nvariance:\n  primary: replicate\n  replicates: {method: bootstrap, seed: 7}\n"
               "created: 2024-05-01\n", paths.design)
    write_text("variance: {methods: [replicate]}\n", paths.estimands)
    write_text("benchmarks: []\n", tmp_path / "survey_instruments" / "frameworks.yaml")
    paths.raw.mkdir(parents=True)
    (paths.raw / "survey.sav").write_bytes(b"raw bytes")
    (paths.raw / "controls").mkdir()
    (paths.raw / "controls" / "sex.csv").write_text("sex,population\n男,1\n", encoding="utf-8")
    write_text("a,b\n1,2\n", paths.processed("estimates.csv"))
    write_json({"rows_read": 1}, paths.processed("ingest_report.json"))
    write_text("<html></html>", paths.report_dir / "report.html")
    (paths.report_dir / ".report.html.abc.tmp").write_text("half-written", encoding="utf-8")
    return paths


def _sha(p: Path) -> str:
    return hashlib.sha256(p.read_bytes()).hexdigest()


def test_lists_every_output_with_correct_sha(project):
    path = write_manifest(project)
    m = json.loads(path.read_text(encoding="utf-8"))
    out = m["outputs"]
    expected = {"data/processed/2024/estimates.csv", "data/processed/2024/ingest_report.json",
                "data/processed/2024/report/report.html"}
    assert set(out) == expected  # the manifest itself and temp files are not listed
    for rel, digest in out.items():
        assert digest == _sha(project.root / rel)


def test_inputs_versions_seeds_parameters(project):
    m = build_manifest(project)
    assert set(m["inputs"]["raw"]) == {"data/raw/2024/survey.sav", "data/raw/2024/controls/sex.csv"}
    assert m["inputs"]["raw"]["data/raw/2024/survey.sav"] == hashlib.sha256(b"raw bytes").hexdigest()
    assert set(m["inputs"]["spec"]) == {"survey_instruments/frameworks.yaml", "survey_instruments/2024/design.yaml",
                                         "survey_instruments/2024/estimands.yaml"}
    assert m["package"]["version"] == pipeline.__version__
    assert m["environment"]["python"] == ".".join(map(str, sys.version_info[:3]))
    assert {"numpy", "pandas"} <= set(m["environment"])
    assert m["seeds"] == {"survey_instruments/2024/design.yaml:variance.replicates.seed": 7}
    assert m["parameters"]["survey_instruments/2024/design.yaml"]["variance"]["primary"] == "replicate"
    assert m["demo_data"] is False


def test_deterministic_and_free_of_timestamps(project):
    a = write_manifest(project).read_bytes()
    b = write_manifest(project).read_bytes()
    assert a == b
    text = a.decode("utf-8")
    # the only date is the one written in the spec file itself
    assert re.findall(r"\d{4}-\d{2}-\d{2}", text) == ["2024-05-01"]


def test_verify_detects_changed_output(project):
    path = write_manifest(project)
    assert verify_manifest(path, project.root) == []
    (project.processed("estimates.csv")).write_text("a,b\n1,3\n", encoding="utf-8")
    assert verify_manifest(path, project.root) == ["data/processed/2024/estimates.csv"]


def test_find_seeds_nested():
    assert find_seeds({"a": {"seed": 1, "b": [{"rng_seed": 2}]}, "seeds": [3]}) == {
        "a.seed": 1, "a.b[0].rng_seed": 2, "seeds": [3]}
