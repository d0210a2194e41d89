"""The demo submissions: deterministic, with every planted fault caught by validation."""

from __future__ import annotations

import pandas as pd
import pytest

from pipeline.assessment.indicators import status_table, validate_year
from pipeline.errors import PipelineError
from pipeline.paths import PLAN_TARGETS
from pipeline.plan.targets import load_plan
from pipeline.simulate.indicators import MARKER, demo_files, run_indicator_simulate

PLAN = load_plan(PLAN_TARGETS)


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    out = tmp_path_factory.mktemp("ind") / "indicators"
    run_indicator_simulate(PLAN, out)
    return out


def test_demo_is_deterministic():
    assert demo_files(PLAN) == demo_files(PLAN)


def test_planted_faults_are_all_found(demo):
    found = {}
    accepted = []
    for year in range(2021, 2026):
        v = validate_year(demo / str(year), year, PLAN, rel_to=demo.parent)
        accepted.append(v.accepted)
        for r in v.issues.itertuples(index=False):
            found.setdefault((year, r.code), []).append(r)
    assert {(2021, "year_outside_plan"), (2022, "unknown_indicator"), (2023, "value_not_numeric"),
            (2023, "duplicate"), (2024, "value_negative"), (2024, "conflict"),
            (2025, "percent_as_fraction")} <= set(found)
    missing_2024 = {r.indicator_id for r in found[(2024, "missing_submission")]}
    assert "elderly_scientific_exercise_share" in missing_2024  # 市卫健委 sent nothing in 2024
    status = status_table(PLAN, pd.concat(accepted), 2025)
    counts = status["status"].value_counts()
    assert counts["未达标"] >= 5 and counts["未报送"] >= 5 and counts["达标"] > counts["未达标"]


def test_real_submissions_are_never_overwritten(tmp_path):
    real = tmp_path / "indicators"
    (real / "2023").mkdir(parents=True)
    (real / "2023" / "市科协.xlsx").write_bytes(b"real")
    with pytest.raises(PipelineError, match="never overwrites"):
        run_indicator_simulate(PLAN, real)
    assert (real / "2023" / "市科协.xlsx").read_bytes() == b"real"


def test_demo_folder_needs_force(demo):
    assert (demo / MARKER).exists()
    with pytest.raises(PipelineError, match="--force"):
        run_indicator_simulate(PLAN, demo)
