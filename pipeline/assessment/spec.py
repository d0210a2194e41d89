"""survey_instruments/assessment.yaml → a frozen AssessmentSpec, with messages that name the key (the plan's
targets: pipeline.plan)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pipeline.errors import SpecError
from pipeline.instruments import read_yaml
from pipeline.plan.targets import COMPARISONS
from pipeline.plan.targets import need as _need
from pipeline.plan.targets import share as _share


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
