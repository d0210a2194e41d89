"""Frozen dataclasses for a wave's specification: the frameworks, the instrument, the scoring rule."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, NamedTuple


@dataclass(frozen=True)
class Dimension:
    id: str  # knowledge | methods | spirit | ability
    name_zh: str
    points: float


@dataclass(frozen=True)
class Benchmark:
    id: int  # 1..26, the 基准 of 《中国公民科学素质基准》
    title_zh: str
    group: str  # a dimension id


@dataclass(frozen=True)
class Frameworks:
    dimensions: tuple[Dimension, ...]
    benchmarks: tuple[Benchmark, ...]

    def dimension(self, dim_id: str) -> Dimension:
        return {d.id: d for d in self.dimensions}[dim_id]

    @property
    def benchmark_ids(self) -> tuple[int, ...]:
        return tuple(b.id for b in self.benchmarks)


class CountyCoding(NamedTuple):
    """How a delivery codes one county-level unit: `raw` is the value in its county column (county_raw),
    `code` the unit's standard code (county_code); name and parent come from survey_instruments/counties.yaml."""

    raw: int
    code: str
    name_zh: str
    parent: str  # "" unless the unit is a zone


@dataclass(frozen=True)
class MissingCode:
    reason: str  # dont_know | refused | skipped
    code: int
    label_zh: str


@dataclass(frozen=True)
class Item:
    id: str
    column: str  # raw column; multiple-answer items use column_1 … column_k (one 0/1 column per option)
    # unless `one_column` says how one column holds the chosen options: list ("1,3"), digits ("13"), letters ("A,C")
    type: str  # true_false | single | multiple
    text_zh: str
    options: tuple[tuple[int, str], ...]  # (code, label)
    key: tuple[int, ...]  # correct option code(s)
    points: float
    dimension: str
    benchmarks: tuple[int, ...]
    scoring: str = "all_or_nothing"  # multiple only: all_or_nothing | partial
    one_column: str | None = None  # multiple only: list | digits | letters (pipeline/ingest/answers.py)

    @property
    def option_codes(self) -> tuple[int, ...]:
        return tuple(code for code, _ in self.options)

    @property
    def raw_columns(self) -> tuple[str, ...]:
        """The 0/1 column of each option (for an answer in one column: the ones ingest splits it into)."""
        if self.type == "multiple":
            sep = "#" if self.one_column else "_"
            return tuple(f"{self.column}{sep}{code}" for code in self.option_codes)
        return (self.column,)

    @property
    def delivered_columns(self) -> tuple[str, ...]:
        return (self.column,) if self.one_column else self.raw_columns


@dataclass(frozen=True)
class Demographic:
    field: str  # processed field name (county_code, sex, birth_year, education, …)
    column: str  # raw column
    label_zh: str
    codes: tuple[tuple[int | str, str], ...] = ()  # (raw code, Chinese label); empty = free value
    derive: tuple[tuple[str, tuple[int | str, ...]], ...] = ()  # band label → raw codes (e.g. education bands)
    range: tuple[float, float] | None = None

    def label_of(self) -> dict[Any, str]:
        return dict(self.codes)


@dataclass(frozen=True)
class Identifier:
    column: str
    kind: str  # name | phone | id_number | address | gps
    label_zh: str


@dataclass(frozen=True)
class QualityCheck:
    id: str
    action: str  # quarantine | warn | dedupe
    threshold: float | None = None
    description_zh: str = ""


@dataclass(frozen=True)
class Instrument:
    wave: int
    title_zh: str
    source_file: str
    encoding: str | None
    missing_codes: tuple[MissingCode, ...]
    identifiers: tuple[Identifier, ...]
    admin: tuple[tuple[str, str], ...]  # (role, raw column): questionnaire_id, interviewer_id, start_time, end_time
    demographics: tuple[Demographic, ...]
    items: tuple[Item, ...]
    checks: tuple[QualityCheck, ...] = ()
    counties: tuple[CountyCoding, ...] = ()  # the delivery's county codes, by raw code
    key_groups: tuple[tuple[str, tuple[tuple[str, tuple], ...]], ...] = ()  # flag → ((field, values), …)
    frameworks: Frameworks | None = field(default=None, compare=False, repr=False)
    # Share of delivered records that may be quarantined before ingest stops: beyond it the delivery, not
    # a few interviews, is at fault (e.g. refusals coded -8 instead of the agreed missing codes).
    max_quarantined_share: float = 0.05

    def item(self, item_id: str) -> Item:
        return self.item_map[item_id]

    @property
    def item_map(self) -> dict[str, Item]:
        return {it.id: it for it in self.items}

    def demographic(self, name: str) -> Demographic:
        return {d.field: d for d in self.demographics}[name]

    def admin_column(self, role: str) -> str:
        return dict(self.admin)[role]

    def check(self, check_id: str) -> QualityCheck | None:
        return {c.id: c for c in self.checks}.get(check_id)

    @property
    def missing_by_code(self) -> dict[int, str]:
        return {m.code: m.reason for m in self.missing_codes}

    def missing_code(self, reason: str) -> int:
        return {m.reason: m.code for m in self.missing_codes}[reason]

    @property
    def total_points(self) -> float:
        return float(sum(it.points for it in self.items))

    def points_by_dimension(self) -> dict[str, float]:
        out: dict[str, float] = {}
        for it in self.items:
            out[it.dimension] = out.get(it.dimension, 0.0) + it.points
        return out


@dataclass(frozen=True)
class ScoringRule:
    rule: str  # a key of pipeline.scoring SCORING_RULES: threshold_total | all_dimensions
    params: tuple[tuple[str, Any], ...]
    levels: tuple[tuple[str, float], ...]  # (label, inclusive lower cut-off), highest first
    max_missing_items: int
    max_missing_share: float | None = None

    def param(self, name: str, default: Any = None) -> Any:
        return dict(self.params).get(name, default)
