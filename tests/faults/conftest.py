"""The small demo wave of the fault tests, as delivered and run through every stage once with the light
variance spec, to copy from: the fault tests change or break copies."""

from __future__ import annotations

import shutil

import pytest

from pipeline.paths import WavePaths
from tests.faults.kit import FAULTS_WAVE, ORDER, lighten, run_stage


@pytest.fixture(scope="session")
def faults_raw(tmp_path_factory) -> WavePaths:
    """The delivery of the fault tests' wave (read-only for tests: copy before changing)."""
    from pipeline.simulate import run_simulate
    from tests.conftest import make_project

    root = make_project(tmp_path_factory.mktemp("faults-raw"))
    paths = WavePaths(2024, root)
    run_simulate(2024, paths.raw, root=root, **FAULTS_WAVE)
    return paths


@pytest.fixture(scope="session")
def demo_done(faults_raw, tmp_path_factory) -> WavePaths:
    """That wave with the light variance spec (kit.lighten), through every stage."""
    from tests.conftest import make_project

    root = make_project(tmp_path_factory.mktemp("done"))
    shutil.copytree(faults_raw.raw, root / "data" / "raw" / "2024")
    paths = WavePaths(2024, root)
    lighten(paths)
    for stage in ORDER:
        run_stage(stage, paths)
    return paths
