"""A demo wave run through every stage once, to copy from: the fault tests change or break copies."""

from __future__ import annotations

import shutil

import pytest

from pipeline.paths import WavePaths
from tests.faults.kit import ORDER, run_stage


@pytest.fixture(scope="session")
def demo_done(demo_raw, tmp_path_factory) -> WavePaths:
    from tests.conftest import make_project

    root = make_project(tmp_path_factory.mktemp("done"))
    shutil.copytree(demo_raw.raw, root / "data" / "raw" / "2024")
    paths = WavePaths(2024, root)
    for stage in ORDER:
        run_stage(stage, paths)
    return paths
