"""The demo wave exported once for the export tests, in every format."""

from __future__ import annotations

import pytest

from pipeline.paths import WavePaths

from .build import estimated_copy


@pytest.fixture(scope="session")
def demo_estimated(demo_ingested, tmp_path_factory) -> WavePaths:
    return estimated_copy(demo_ingested, tmp_path_factory.mktemp("export"))


@pytest.fixture(scope="session")
def exported(demo_estimated):
    from pipeline.export import run_export

    return demo_estimated, run_export(demo_estimated, ["sav", "dta", "csv", "parquet"], progress=False)
