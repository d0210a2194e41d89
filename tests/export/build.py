"""The demo wave of the test session carried through score, weight, estimate and export."""

from __future__ import annotations

import shutil
from pathlib import Path

from pipeline.paths import WavePaths


def estimated_copy(ingested: WavePaths, root: Path) -> WavePaths:
    """A project of its own holding the ingested demo wave, then scored, weighted and estimated."""
    from pipeline.estimation import run_estimate
    from pipeline.scoring.run import run_score
    from pipeline.weighting.run import run_weight
    from tests.conftest import make_project

    make_project(root)
    shutil.copytree(ingested.raw, root / "data" / "raw" / str(ingested.wave))
    shutil.copytree(ingested.out, root / "data" / "processed" / str(ingested.wave))
    paths = WavePaths(ingested.wave, root)
    run_score(paths, progress=False)
    run_weight(paths, progress=False)
    run_estimate(paths, progress=False)
    return paths
