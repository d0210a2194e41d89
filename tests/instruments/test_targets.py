"""survey_instruments/plan/targets.yaml: the plan's quantified targets (DOMAIN.md §6) are well formed."""

from __future__ import annotations

import re

import pytest
import yaml

from pipeline.paths import PLAN_TARGETS

KINDS = {"survey_level", "annual_minimum", "cumulative", "coverage_by_deadline", "share_by_deadline",
         "unit_coverage"}
ACTIONS = {"overall", "youth", "farmers", "workers", "elderly", "officials", "infrastructure"}
SECTION = re.compile(r"^[一二三四五]（[一二三四五]）(\d+)?$")


@pytest.fixture(scope="module")
def plan():
    return yaml.safe_load(PLAN_TARGETS.read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def targets(plan):
    return {t["id"]: t for t in plan["targets"]}


def test_header(plan):
    assert plan["schema_version"] == 1
    assert plan["document_no"] == "泉政办〔2022〕25号"
    assert "全民科学素质行动规划纲要实施方案" in plan["title_zh"]
    assert plan["period"] == [2021, 2025]


def test_every_target_well_formed(plan):
    ids = [t["id"] for t in plan["targets"]]
    assert len(ids) == len(set(ids)) == 20
    for t in plan["targets"]:
        assert re.fullmatch(r"[a-z][a-z0-9_]*", t["id"]), t["id"]
        assert t["action"] in ACTIONS, t["id"]
        assert t["kind"] in KINDS, t["id"]
        assert t["comparison"] in (">", ">="), t["id"]
        assert isinstance(t["value"], (int, float)) and t["value"] > 0, t["id"]
        assert t["name_zh"] and t["unit_zh"] and t["lead_units_zh"], t["id"]
        assert SECTION.match(t["source"]), t["id"]
        assert ("years" in t) != ("deadline" in t), t["id"]
        if "years" in t:
            first, last = t["years"]
            assert 2021 <= first <= last <= 2025, t["id"]
        else:
            assert t["deadline"] == 2025, t["id"]
        if t["unit_zh"] == "%":
            assert 0 < t["value"] <= 1, t["id"]  # shares are fractions


def test_kinds_have_consistent_timing(plan):
    for t in plan["targets"]:
        if t["kind"] in ("annual_minimum", "cumulative"):
            assert t["years"] == [2021, 2025], t["id"]
        else:
            assert t["deadline"] == 2025, t["id"]
        if t["kind"] in ("coverage_by_deadline", "unit_coverage"):
            assert t["value"] == 1.0, t["id"]


def test_headline_and_group_targets(targets):
    overall = targets["overall_literacy_share"]
    assert (overall["kind"], overall["value"], overall["comparison"]) == ("survey_level", 0.16, ">")
    assert targets["elderly_scientific_exercise_share"]["value"] == 0.60
    assert targets["officials_trained"]["kind"] == "cumulative"
    assert targets["officials_science_activity_participants"]["value"] == 200000
    assert targets["youth_competition_participants"]["value"] == 100000
    counts = {a: sum(t["action"] == a for t in targets.values()) for a in ACTIONS}
    assert counts == {"overall": 1, "youth": 2, "farmers": 9, "workers": 4, "elderly": 1, "officials": 2,
                      "infrastructure": 1}
