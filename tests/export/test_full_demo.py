"""The committed R output for the full demo wave of `make survey-2024` (r_output_survey_2024.txt: R's survey
package running the exported design_2024.R on data/processed/2024/export/) against the pipeline's own
estimates for that wave, rebuilt here from the simulator (slow: the full 10,800-interview wave)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from pipeline.paths import WavePaths

from .test_export import GOLD, TOL, _county_names, _published, _r_output


@pytest.mark.slow
def test_r_output_of_the_make_survey_wave_equals_its_estimates(tmp_path: Path):
    from pipeline.ingest import run_ingest
    from pipeline.simulate import run_simulate
    from tests.conftest import make_project

    from .build import estimated_copy

    raw = WavePaths(2024, make_project(tmp_path / "raw"))
    run_simulate(2024, raw.raw, root=raw.root)
    run_ingest(raw, progress=False)
    paths = estimated_copy(raw, tmp_path / "wave")
    r = _r_output((GOLD / "r_output_survey_2024.txt").read_text(encoding="utf-8"))
    r["name"] = r["domain"].map(_county_names(paths))
    pub = _published(paths)
    got = r[r["method"] == "replicate_JKn"].set_index("name")
    assert len(got) == 14 and set(got.index) == set(pub.index)
    np.testing.assert_allclose(got["est"], pub.loc[got.index, "est"], rtol=TOL, atol=0)
    np.testing.assert_allclose(got["se"], pub.loc[got.index, "se"], rtol=TOL, atol=0)
