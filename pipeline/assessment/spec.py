"""survey_instruments/assessment.yaml and plan/targets.yaml → frozen objects, with messages that name the key."""

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
class Baseline:
    year: int
    est: float
    se: float | None
    rule: str
    label_zh: str
    source: str


@dataclass(frozen=True)
class Published:
    area: str
    area_zh: str
    year: int
    est: float
    source: str


@dataclass(frozen=True)
class AssessmentSpec:
    path: Path
    estimand: str
    target: float
    target_comparison: str
    final_year: int
    first_wave: int
    default_midterm_through: int
    domain_types: tuple[str, ...]
    level: float
    baseline: Baseline
    min_waves: int
    projection_interval: float
    status_rules: dict[str, str]
    rank_draws: int
    rank_seed: int
    rank_interval: float
    published: tuple[Published, ...]
    reference_targets: tuple[dict[str, Any], ...]
    indicator_folder: str
    indicator_sheet: str


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


def _need(data: dict, key: str, where: str) -> Any:
    if not isinstance(data, dict) or key not in data:
        raise SpecError(f"{where}: missing key {key!r}.")
    return data[key]


def _share(value: Any, where: str) -> float:
    try:
        v = float(value)
    except (TypeError, ValueError):
        raise SpecError(f"{where}: {value!r} is not a number; write shares as 0–1 fractions.") from None
    if not 0.0 <= v <= 1.0:
        raise SpecError(f"{where}: {v} is outside 0–1; write shares as fractions (0.16 for 16%).")
    return v


def load_assessment(path: Path) -> AssessmentSpec:
    data = read_yaml(path)
    where = str(path)
    comp = str(_need(data, "target_comparison", where))
    if comp not in COMPARISONS:
        raise SpecError(f"{where}: target_comparison {comp!r} must be one of {COMPARISONS}.")
    b = _need(data, "baseline", where)
    se = b.get("se")
    baseline = Baseline(int(_need(b, "year", f"{where} baseline")), _share(_need(b, "est", f"{where} baseline"),
                        f"{where} baseline.est"), None if se is None else float(se), str(_need(b, "rule", f"{where} baseline")),
                        str(b.get("label_zh", "基线")), str(b.get("source", "")))
    mid = _need(data, "midterm", where)
    interval = float(_need(mid, "interval", f"{where} midterm"))
    if not 0.5 <= interval < 1:
        raise SpecError(f"{where}: midterm.interval {interval} must be a two-sided level in [0.5, 1), e.g. 0.80.")
    fin = _need(data, "final", where)
    published = []
    for i, p in enumerate(_need(data, "published", where)):
        w = f"{where} published[{i}]"
        published.append(Published(str(_need(p, "area", w)), str(_need(p, "area_zh", w)), int(_need(p, "year", w)),
                                    _share(_need(p, "est", w), f"{w}.est"), str(_need(p, "source", w))))
    ind = _need(data, "indicators", where)
    return AssessmentSpec(
        path=path, estimand=str(_need(data, "estimand", where)), target=_share(_need(data, "target", where),
                                                                               f"{where} target"),
        target_comparison=comp, final_year=int(_need(data, "final_year", where)),
        first_wave=int(_need(data, "first_wave", where)),
        default_midterm_through=int(_need(data, "default_midterm_through", where)),
        domain_types=tuple(_need(data, "domain_types", where)), level=float(data.get("level", 0.95)),
        baseline=baseline, min_waves=int(_need(mid, "min_waves", f"{where} midterm")),
        projection_interval=interval, status_rules=dict(_need(mid, "status_rules", f"{where} midterm")),
        rank_draws=int(_need(fin, "rank_draws", f"{where} final")), rank_seed=int(_need(fin, "rank_seed", f"{where} final")),
        rank_interval=float(_need(fin, "rank_interval", f"{where} final")), published=tuple(published),
        reference_targets=tuple(data.get("reference_targets") or ()),
        indicator_folder=str(_need(ind, "folder", f"{where} indicators")),
        indicator_sheet=str(_need(ind, "sheet", f"{where} indicators")),
    )


def _target(raw: dict, where: str) -> PlanTarget:
    kind = str(_need(raw, "kind", where))
    if kind not in TARGET_KINDS:
        raise SpecError(f"{where}: kind {kind!r} is not one of {TARGET_KINDS}.")
    comp = str(_need(raw, "comparison", where))
    if comp not in COMPARISONS:
        raise SpecError(f"{where}: comparison {comp!r} must be one of {COMPARISONS}.")
    years = raw.get("years")
    deadline = raw.get("deadline")
    if (years is None) == (deadline is None):
        raise SpecError(f"{where}: give exactly one of `years` (annual, cumulative) or `deadline`.")
    if kind in ("annual_minimum", "cumulative") and years is None:
        raise SpecError(f"{where}: a {kind} target needs `years: [first, last]`.")
    value = float(_need(raw, "value", where))
    unit = str(_need(raw, "unit_zh", where))
    if unit == "%":
        value = _share(value, f"{where}.value")
    return PlanTarget(str(_need(raw, "id", where)), str(raw.get("action", "")), str(_need(raw, "name_zh", where)),
                      unit, kind, value, comp, tuple(int(y) for y in years) if years else None,
                      int(deadline) if deadline is not None else None, tuple(raw.get("lead_units_zh") or ()),
                      str(raw.get("source", "")))


def load_plan(path: Path) -> Plan:
    data = read_yaml(path)
    where = str(path)
    targets = tuple(_target(t, f"{where} targets[{i}] ({t.get('id', '?')})")
                    for i, t in enumerate(_need(data, "targets", where)))
    ids = [t.id for t in targets]
    dup = sorted({i for i in ids if ids.count(i) > 1})
    if dup:
        raise SpecError(f"{where}: target ids {dup} appear more than once.")
    period = tuple(int(y) for y in _need(data, "period", where))
    return Plan(path, period, tuple(int(y) for y in _need(data, "midterm_years", where)),
                int(_need(data, "final_year", where)), targets)
