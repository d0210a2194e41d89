"""Status of every activity indicator in every assessed year: 达标, 未达标 or 未报送.

What a year is compared with depends on the kind of target (plan/targets.yaml):

- annual_minimum: the year's value against the target.
- cumulative over years [a, b] (n = b − a + 1 years): after k years the running total of reported values
  against the pro-rata share value × k / n; in the last year this is the target itself. A year not
  reported counts as zero in later running totals (only reported work is credited; the note says so).
- coverage_by_deadline, share_by_deadline, unit_coverage (deadline D): before D, the value against the
  straight path from the value reported for the plan's first year a (the base) to the target in D,
  min(base + (target − base)·(y − a)/(D − a), target); in D, the target. Without a base year, the target.

A year without an accepted value is 未报送 whatever its neighbours say.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from pipeline.plan.targets import DEADLINE_KINDS, Plan, PlanTarget
from pipeline.schemas import C, TableSchema

MET, NOT_MET, NOT_REPORTED = "达标", "未达标", "未报送"

STATUS = TableSchema("indicator_status", (
    C("indicator_id", "str", False), C("action", "str", False), C("name_zh", "str", False),
    C("unit_zh", "str", False), C("kind", "str", False), C("year", "int", False), C("value", "float"),
    C("running_total", "float"), C("expected", "float"), C("target", "float", False),
    C("comparison", "str", False), C("status", "str", False), C("note", "str")),
    key=("indicator_id", "year"))


def _meets(value: float, expected: float, comparison: str) -> bool:
    # a tolerance of 1e-9 keeps 0.6 entered as 60% from failing a 0.60 target by float rounding
    return value > expected + 1e-9 if comparison == ">" else value >= expected - 1e-9


def expected_path(t: PlanTarget, year: int, base: float | None, period: tuple[int, int]) -> float:
    """The value a deadline target expects in `year` (see the module docstring)."""
    first, deadline = period[0], t.deadline
    if year >= deadline or base is None or deadline == first:
        return t.value
    return min(base + (t.value - base) * (year - first) / (deadline - first), t.value)


def indicator_years(t: PlanTarget, period: tuple[int, int], through: int) -> list[int]:
    first, last = t.years if t.years else (period[0], t.deadline)
    return list(range(first, min(last, through) + 1))


def status_table(plan: Plan, accepted: pd.DataFrame, through: int) -> pd.DataFrame:
    """accepted: year, indicator_id, value (fractions for percentages) for every accepted submission."""
    values = {(int(r.year), r.indicator_id): float(r.value) for r in accepted.itertuples(index=False)}
    rows = []
    for t in plan.activity:
        years = indicator_years(t, plan.period, through)
        running, missing = 0.0, []
        base = values.get((plan.period[0], t.id)) if t.kind in DEADLINE_KINDS else None
        for y in years:
            v = values.get((y, t.id))
            row = {"indicator_id": t.id, "action": t.action, "name_zh": t.name_zh, "unit_zh": t.unit_zh,
                   "kind": t.kind, "year": y, "value": np.nan if v is None else v, "running_total": np.nan,
                   "target": t.value, "comparison": t.comparison, "note": None}
            if t.kind == "annual_minimum":
                expected, compared = t.value, v
            elif t.kind == "cumulative":
                first, last = t.years
                running += 0.0 if v is None else v
                expected = t.value * (y - first + 1) / (last - first + 1)
                compared = running
                row["running_total"] = running
                if missing and v is not None:
                    row["note"] = f"累计值中{'、'.join(map(str, missing))}年未报送，按0计"
                if v is None:
                    missing.append(y)
            elif t.kind in DEADLINE_KINDS:
                expected, compared = expected_path(t, y, base, plan.period), v
                if y == plan.period[0] and base is not None and y < t.deadline:
                    row["note"] = "基期（到期目标路径的起点）"
                elif base is None and y < t.deadline:
                    row["note"] = f"无{plan.period[0]}年报送值，无法确定路径，按{t.deadline}年目标本身比较"
            else:
                raise ValueError(f"{t.id}: kind {t.kind!r} has no status rule")
            row["expected"] = expected
            if v is None:
                row["status"] = NOT_REPORTED
            else:
                row["status"] = MET if _meets(compared, expected, t.comparison) else NOT_MET
            rows.append(row)
    out = pd.DataFrame(rows)
    out["note"] = out["note"].astype("string")
    return out[[c.name for c in STATUS.columns]]


SUMMARY = TableSchema("indicator_summary", (
    C("indicator_id", "str", False), C("name_zh", "str", False), C("kind", "str", False),
    C("years", "int", False), C("met", "int", False), C("not_met", "int", False),
    C("not_reported", "int", False), C("latest_year", "int", False), C("latest_status", "str", False)),
    key=("indicator_id",))


def summary_table(status: pd.DataFrame) -> pd.DataFrame:
    """Per indicator: how many assessed years were met, missed, not reported, and the latest year's status."""
    rows = []
    for ind, g in status.groupby("indicator_id", sort=False):
        g = g.sort_values("year")
        counts = g["status"].value_counts()
        rows.append({"indicator_id": ind, "name_zh": g["name_zh"].iloc[0], "kind": g["kind"].iloc[0],
                     "years": len(g), "met": int(counts.get(MET, 0)), "not_met": int(counts.get(NOT_MET, 0)),
                     "not_reported": int(counts.get(NOT_REPORTED, 0)), "latest_year": int(g["year"].iloc[-1]),
                     "latest_status": g["status"].iloc[-1]})
    return pd.DataFrame(rows)
