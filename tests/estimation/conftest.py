"""A synthetic wave's estimation inputs written under a test's folder (the builder is
pipeline/simulate/synthetic.py; the design record is the tests' own, tests/design_records.py)."""

from __future__ import annotations

import shutil
from pathlib import Path

from pipeline.paths import ROOT, WavePaths
from pipeline.schemas import RESPONDENTS, SCORES
from pipeline.simulate.synthetic import draw_wave, estimation_tables
from pipeline.survey_design.record import write_record
from pipeline.tableio import write_table
from tests.design_records import record, uncollapsed_margin, write_weights


def write_wave(root: Path, wave: int = 2024, seed: int = 7, psu_per_county: int = 4, hh_per_ssu: int = 10,
               design: dict | None = None) -> WavePaths:
    """respondents, scores, weights and design record of a wave of every county unit (about 750
    respondents), with the wave's estimands.yaml. `design`: keywords of tests.design_records.record
    (primary, lonely_psu, ...)."""
    inputs = estimation_tables(draw_wave(seed=seed, psu_per_county=psu_per_county, hh_per_ssu=hh_per_ssu,
                                         wave=wave))
    paths = WavePaths(wave, root=root)
    write_table(inputs.respondents, paths.processed("respondents.parquet"), RESPONDENTS)
    write_table(inputs.scores, paths.processed("scores.parquet"), SCORES)
    write_weights(paths, inputs.weights, inputs.replicate_columns)
    margins = [uncollapsed_margin(name, by, inputs.respondents) for name, by in
               (("county_sex", ["county_code", "sex"]), ("county_education", ["county_code", "education"]))]
    write_record(record(list(inputs.replicate_columns), inputs.rscales, margins=margins, **(design or {})),
                 paths.processed("design.json"))
    paths.spec.mkdir(parents=True, exist_ok=True)
    shutil.copy(ROOT / "survey_instruments" / "2024" / "estimands.yaml", paths.estimands)
    return paths
