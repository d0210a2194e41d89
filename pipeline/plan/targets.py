"""survey_instruments/plan/targets.yaml → a frozen Plan: the quantified targets of the 2021–2025 plan
(DOMAIN.md §6), read by the assessments and by the demo generator of indicator submissions."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pipeline.errors import SpecError
from pipeline.instruments import read_yaml

TARGET_KINDS = ("survey_level", "annual_minimum", "cumulative", "coverage_by_deadline", "share_by_deadline",
                "unit_coverage")
DEADLINE_KINDS = ("coverage_by_deadline", "share_by_deadline", "unit_coverage")
COMPARISONS = (">", ">=")


@dataclass(frozen=True)
class PlanTarget:
    id: str
    action: str
    name_zh: str
    unit_zh: str
    kind: str
    value: float
    comparison: str
    years: tuple[int, int] | None
    deadline: int | None
    lead_units_zh: tuple[str, ...]
    source: str

    @property
    def is_percent(self) -> bool:
        return self.unit_zh == "%"

    def applies_to(self, year: int, period: tuple[int, int]) -> bool:
        first, last = self.years if self.years else (period[0], self.deadline or period[1])
        return first <= year <= last


@dataclass(frozen=True)
class Plan:
    path: Path
    period: tuple[int, int]
    midterm_years: tuple[int, int]
    final_year: int
    targets: tuple[PlanTarget, ...]

    @property
    def activity(self) -> tuple[PlanTarget, ...]:
        """The targets that departments report on (every kind but the survey indicator)."""
        return tuple(t for t in self.targets if t.kind != "survey_level")

    def target(self, target_id: str) -> PlanTarget:
        for t in self.targets:
            if t.id == target_id:
                return t
        raise KeyError(target_id)


def need(data: dict, key: str, where: str) -> Any:
    if not isinstance(data, dict) or key not in data:
        raise SpecError(f"{where}: missing key {key!r}.")
    return data[key]


def share(value: Any, where: str) -> float:
    try:
        v = float(value)
    except (TypeError, ValueError):
        raise SpecError(f"{where}: {value!r} is not a number; write shares as 0–1 fractions.") from None
    if not 0.0 <= v <= 1.0:
        raise SpecError(f"{where}: {v} is outside 0–1; write shares as fractions (0.16 for 16%).")
    return v


def _target(raw: dict, where: str) -> PlanTarget:
    kind = str(need(raw, "kind", where))
    if kind not in TARGET_KINDS:
        raise SpecError(f"{where}: kind {kind!r} is not one of {TARGET_KINDS}.")
    comp = str(need(raw, "comparison", where))
    if comp not in COMPARISONS:
        raise SpecError(f"{where}: comparison {comp!r} must be one of {COMPARISONS}.")
    years = raw.get("years")
    deadline = raw.get("deadline")
    if (years is None) == (deadline is None):
        raise SpecError(f"{where}: give exactly one of `years` (annual, cumulative) or `deadline`.")
    if kind in ("annual_minimum", "cumulative") and years is None:
        raise SpecError(f"{where}: a {kind} target needs `years: [first, last]`.")
    value = float(need(raw, "value", where))
    unit = str(need(raw, "unit_zh", where))
    if unit == "%":
        value = share(value, f"{where}.value")
    return PlanTarget(str(need(raw, "id", where)), str(raw.get("action", "")), str(need(raw, "name_zh", where)),
                      unit, kind, value, comp, tuple(int(y) for y in years) if years else None,
                      int(deadline) if deadline is not None else None, tuple(raw.get("lead_units_zh") or ()),
                      str(raw.get("source", "")))


def load_plan(path: Path) -> Plan:
    data = read_yaml(path)
    where = str(path)
    targets = tuple(_target(t, f"{where} targets[{i}] ({t.get('id', '?')})")
                    for i, t in enumerate(need(data, "targets", where)))
    ids = [t.id for t in targets]
    dup = sorted({i for i in ids if ids.count(i) > 1})
    if dup:
        raise SpecError(f"{where}: target ids {dup} appear more than once.")
    period = tuple(int(y) for y in need(data, "period", where))
    return Plan(path, period, tuple(int(y) for y in need(data, "midterm_years", where)),
                int(need(data, "final_year", where)), targets)
