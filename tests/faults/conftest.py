"""The small demo wave of the fault tests, as delivered, run through every stage once with the light
variance spec, and made once by `make`, to copy from: the fault tests change or break copies."""

from __future__ import annotations

import pytest

from pipeline.paths import WavePaths
from tests.faults.kit import FAULTS_WAVE, ORDER, lighten, make, make_project_for_make, run_stage, stages_run


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
    from tests.conftest import project_with

    paths = project_with(tmp_path_factory.mktemp("done"), faults_raw.raw)
    lighten(paths)
    for stage in ORDER:
        run_stage(stage, paths)
    return paths


@pytest.fixture(scope="session")
def made(faults_raw, tmp_path_factory):
    """A project that `make` runs in (kit.make_project_for_make) with that wave, after one complete
    `make survey-2024`: the tests of reruns start from a `cp -a` copy of it (kit.copy_project), so each
    makes only the stages its change reruns, in a project of its own."""
    root = make_project_for_make(tmp_path_factory.mktemp("made"), faults_raw.raw)
    first = make(root, "survey-2024")
    assert first.returncode == 0, first.stderr[-3000:]
    assert stages_run(first) == set(ORDER)
    return root
