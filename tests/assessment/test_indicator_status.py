"""Target arithmetic for every kind of plan target, with hand-worked cases."""

from __future__ import annotations

import pandas as pd
import pytest

from pipeline.assessment.indicators.status import MET, NOT_MET, NOT_REPORTED, status_table, summary_table
from pipeline.paths import PLAN_TARGETS
from pipeline.plan.targets import Plan, PlanTarget, load_plan


def _t(id_, kind, value, comparison=">=", years=None, deadline=None, unit="人次"):
    return PlanTarget(id_, "x", id_, unit, kind, value, comparison, years, deadline, ("市科协",), "")


def _plan(*targets):
    return Plan(PLAN_TARGETS, (2021, 2025), (2022, 2024), 2025, tuple(targets))


def _values(id_, by_year):
    return pd.DataFrame({"year": list(by_year), "indicator_id": id_, "value": [float(v) for v in by_year.values()]})


def _status(plan, accepted, through=2025):
    s = status_table(plan, accepted, through)
    return {int(r.year): r for r in s.itertuples(index=False)}


def test_annual_minimum():
    # ≥ 50,000 a year: 52,000 met; 49,999 not met; exactly 50,000 met (不少于); 2024 not reported
    plan = _plan(_t("a", "annual_minimum", 50000, years=(2021, 2025)))
    s = _status(plan, _values("a", {2021: 52000, 2022: 49999, 2023: 50000, 2025: 60000}))
    assert [s[y].status for y in range(2021, 2026)] == [MET, NOT_MET, MET, NOT_REPORTED, MET]
    assert all(s[y].expected == 50000 for y in s)


def test_annual_strictly_above():
    # "超过": exactly the target is not enough
    plan = _plan(_t("a", "annual_minimum", 20, comparison=">", years=(2021, 2025)))
    s = _status(plan, _values("a", {2021: 20, 2022: 21}), through=2022)
    assert (s[2021].status, s[2022].status) == (NOT_MET, MET)
    assert set(s) == {2021, 2022}  # years after --through are not assessed


def test_cumulative_pro_rata():
    # ≥ 100,000 over 2021–2025 (5 years): expected after k years = 100,000·k/5 = 20k, 40k, 60k, 80k, 100k
    # reported 17,000, 18,500, —, 21,000, 23,000 → running 17,000, 35,500, (35,500), 56,500, 79,500
    # 2021 17,000 < 20,000 未达标; 2022 35,500 < 40,000 未达标; 2023 未报送;
    # 2024 56,500 < 80,000 未达标 (2023 counted as 0, noted); 2025 79,500 < 100,000 未达标
    plan = _plan(_t("c", "cumulative", 100000, years=(2021, 2025)))
    s = _status(plan, _values("c", {2021: 17000, 2022: 18500, 2024: 21000, 2025: 23000}))
    assert [s[y].expected for y in range(2021, 2026)] == [20000, 40000, 60000, 80000, 100000]
    assert [s[y].running_total for y in (2021, 2022, 2023, 2024, 2025)] == [17000, 35500, 35500, 56500, 79500]
    assert [s[y].status for y in range(2021, 2026)] == [NOT_MET, NOT_MET, NOT_REPORTED, NOT_MET, NOT_MET]
    assert "2023年未报送" in s[2024].note


def test_cumulative_on_pace_at_midterm_and_exact_at_the_end():
    # 20,000 a year: 2023 running 60,000 = 60,000 pro-rata (met at mid-term); 2025 exactly 100,000 (met, ≥)
    plan = _plan(_t("c", "cumulative", 100000, years=(2021, 2025)))
    s = _status(plan, _values("c", {y: 20000 for y in range(2021, 2026)}))
    assert s[2023].running_total == 60000 and s[2023].status == MET
    assert s[2025].running_total == 100000 and s[2025].status == MET
    s = _status(plan, _values("c", {2021: 30000, 2022: 15000, 2023: 14000}), through=2023)
    # 2023: 59,000 < 60,000 → 未达标 although 2021 alone was ahead of pace
    assert (s[2021].status, s[2022].status, s[2023].status) == (MET, MET, NOT_MET)


def test_share_by_deadline_path_from_base():
    # ≥ 60% by 2025, base 2021 = 52%: path 52 + (60 − 52)·(y − 2021)/4 → 54, 56, 58, then 60 in 2025
    # 2022 54% met (on the path exactly); 2023 55.5% < 56% not met; 2024 59% met; 2025 61% ≥ 60% met
    plan = _plan(_t("e", "share_by_deadline", 0.60, deadline=2025, unit="%"))
    s = _status(plan, _values("e", {2021: 0.52, 2022: 0.54, 2023: 0.555, 2024: 0.59, 2025: 0.61}))
    assert [round(s[y].expected, 6) for y in range(2021, 2026)] == [0.52, 0.54, 0.56, 0.58, 0.60]
    assert [s[y].status for y in range(2021, 2026)] == [MET, MET, NOT_MET, MET, MET]
    assert "基期" in s[2021].note


def test_coverage_by_deadline_final_year_is_the_target_itself():
    # 100% by 2025: 98% in 2025 is not met even though it is on a rising path
    plan = _plan(_t("f", "coverage_by_deadline", 1.0, deadline=2025, unit="%"))
    s = _status(plan, _values("f", {2021: 0.70, 2023: 0.85, 2025: 0.98}))
    # path 70 + 30·(y − 2021)/4: 2023 → 85% (met exactly); 2022, 2024 not reported
    assert s[2023].expected == pytest.approx(0.85) and s[2023].status == MET
    assert s[2025].expected == 1.0 and s[2025].status == NOT_MET
    assert s[2022].status == NOT_REPORTED


def test_deadline_target_without_base_and_with_base_above_target():
    plan = _plan(_t("u", "unit_coverage", 1.0, deadline=2025, unit="%"),
                 _t("g", "share_by_deadline", 0.60, deadline=2025, unit="%"))
    acc = pd.concat([_values("u", {2022: 0.9, 2025: 1.0}), _values("g", {2021: 0.70, 2023: 0.61})])
    s = status_table(plan, acc, 2025)
    u = {int(r.year): r for r in s[s["indicator_id"] == "u"].itertuples(index=False)}
    # no 2021 value: the path cannot be drawn, so 2022 is held to the 2025 target (90% < 100%)
    assert u[2022].expected == 1.0 and u[2022].status == NOT_MET and "无2021年报送值" in u[2022].note
    assert u[2025].status == MET
    g = {int(r.year): r for r in s[s["indicator_id"] == "g"].itertuples(index=False)}
    # base 70% already above 60%: the path never asks for more than the target (min(65%, 60%) = 60% in 2023)
    assert g[2023].expected == pytest.approx(0.60) and g[2023].status == MET


def test_summary_counts():
    plan = _plan(_t("a", "annual_minimum", 10, years=(2021, 2025)))
    s = status_table(plan, _values("a", {2021: 12, 2022: 9, 2024: 11}), 2024)
    row = summary_table(s).iloc[0]
    assert (row["met"], row["not_met"], row["not_reported"], row["latest_status"]) == (2, 1, 1, MET)


def test_every_activity_target_of_the_plan_has_a_status_rule():
    plan = load_plan(PLAN_TARGETS)
    s = status_table(plan, pd.DataFrame(columns=["year", "indicator_id", "value"]), 2025)
    assert set(s["indicator_id"]) == {t.id for t in plan.activity}
    assert (s["status"] == NOT_REPORTED).all()
    assert "overall_literacy_share" not in set(s["indicator_id"])
