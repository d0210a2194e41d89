"""The demo wave exported once for the export tests, in every format."""

from __future__ import annotations

import shutil

import pytest

from pipeline.paths import WavePaths


@pytest.fixture(scope="session")
def demo_estimated(demo_estimated, tmp_path_factory) -> WavePaths:
    """A copy of the session's estimated demo wave (tests/conftest.py) that the export tests write into:
    the same files, without scoring, weighting and estimating it a second time."""
    root = tmp_path_factory.mktemp("export") / "project"
    shutil.copytree(demo_estimated.root, root, symlinks=True)
    return WavePaths(demo_estimated.wave, root)


@pytest.fixture(scope="session")
def exported(demo_estimated):
    from pipeline.export import run_export

    return demo_estimated, run_export(demo_estimated, ["sav", "dta", "csv", "parquet"], progress=False)
