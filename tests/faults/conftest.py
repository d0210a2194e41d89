"""The small demo wave of the fault tests, as delivered, run through every stage once with the light
variance spec, and made once by `make`, to copy from: the fault tests change or break copies. Each is
built once per test run (tests/conftest.py `shared_folder`), whichever fault test file asks first."""

from __future__ import annotations

from pathlib import Path

import pytest

from pipeline.paths import WavePaths
from tests.conftest import make_project, project_with, shared_folder
from tests.faults.kit import (
    FAULTS_WAVE,
    ORDER,
    copy_project,
    lighten,
    make,
    make_project_for_make,
    run_stage,
    stages_run,
)


@pytest.fixture(scope="session")
def faults_raw(tmp_path_factory) -> WavePaths:
    """The delivery of the fault tests' wave (read-only for tests: copy before changing)."""
    from pipeline.simulate import run_simulate

    def build(root: Path) -> None:
        make_project(root)
        run_simulate(2024, WavePaths(2024, root).raw, root=root, **FAULTS_WAVE)

    return WavePaths(2024, shared_folder(tmp_path_factory, "faults-raw", build))


@pytest.fixture(scope="session")
def demo_done(faults_raw, tmp_path_factory) -> WavePaths:
    """That wave with the light variance spec (kit.lighten), through every stage."""

    def build(root: Path) -> None:
        paths = project_with(root, faults_raw.raw)
        lighten(paths)
        for stage in ORDER:
            run_stage(stage, paths)

    return WavePaths(2024, shared_folder(tmp_path_factory, "done", build))


@pytest.fixture(scope="session")
def made(faults_raw, tmp_path_factory):
    """A project that `make` runs in (kit.make_project_for_make) with that wave, after one complete
    `make survey-2024`: the tests of reruns start from a `cp -a` copy of it (kit.copy_project), so each
    makes only the stages its change reruns, in a project of its own."""

    def build(root: Path) -> None:
        make_project_for_make(root, faults_raw.raw)
        first = make(root, "survey-2024")
        assert first.returncode == 0, first.stderr[-3000:]
        assert stages_run(first) == set(ORDER)

    return shared_folder(tmp_path_factory, "made", build)


@pytest.fixture
def project(made, tmp_path):
    """The session's made wave, copied with its dates: what a test changes never reaches another test."""
    return copy_project(made, tmp_path / "project")
