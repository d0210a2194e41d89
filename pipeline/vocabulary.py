"""The project's one vocabulary: every category word that more than one stage uses, defined once.

Stages import these names and never spell the words themselves; tests/test_vocabulary.py fails when a
literal such as the overall label or a county name creeps back into another module.

- The county-level units are data: `survey_instruments/counties.yaml` (code, name, kind, parent), loaded
  once into a frozen `Counties`. A wave's instrument.yaml only maps its delivery's codes onto them.
- The names of the four parts of the test come from `survey_instruments/frameworks.yaml` (`dimensions`,
  as estimands: pipeline.instruments.dimension_estimands).
- The rest are the words below: the label of the whole city, the missing reasons of an answer, the
  Chinese names of the domain types, of the ingest checks and of the variance, replicate, interval and
  calibration methods.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from pathlib import Path

import yaml

from pipeline.errors import SpecError
from pipeline.paths import COUNTIES

# The domain label of the whole city in estimates.csv and targets.csv, and the word readers see for it.
OVERALL_LABEL = "全市"

# What happened to one answer (responses.parquet `missing_reason`); the last three are the missing codes
# every instrument must define (不知道 is an answer scored as wrong; refused and skipped are missing).
ANSWERED = "answered"
MISSING_REASONS = ("dont_know", "refused", "skipped")
RESPONSE_STATUSES = (ANSWERED, *MISSING_REASONS)

DOMAIN_TYPE_LABELS = {
    "overall": OVERALL_LABEL,
    "county": "县（市、区）",
    "sex": "性别",
    "age_band": "年龄段",
    "education": "文化程度",
    "urban": "城乡",
    "group": "重点人群",
    "county_group": "县区×重点人群",
    "county_urban": "县区×城乡",
}

# Codes of the ingest stage's checks (quarantine reasons and warnings) as readers see them.
CHECK_LABELS = {
    "age_out_of_range": "年龄不在18–69岁", "code_outside_codebook": "代码不在编码表内", "duplicate_id": "编号重复",
    "duplicate_respondent": "编号重复", "unknown_county": "地区代码无法识别",
    "missing_id": "缺少问卷编号",
    "duplicate_identical": "完全重复的记录", "unknown_area": "地区代码无法识别", "invalid_design_value": "抽样设计变量无效",
    "short_interview": "访问时间过短", "straightlining": "连续作答同一选项", "too_many_missing": "缺答题目过多",
    "out_of_range": "取值超出规定范围或不是整数",
}
UNKNOWN_CHECK_LABEL = "其他核查项目"

# Labels only: which variance method is primary is the design's business, not this module's.
VARIANCE_METHOD_LABELS = {"replicate": "重复权数法", "taylor": "泰勒线性化法"}
REPLICATE_METHOD_LABELS = {
    "jk1": "刀切法（JK1）", "jkn": "分层刀切法（JKn）", "jk2": "成对刀切法（JK2）",
    "brr": "平衡重复复制法（BRR）", "fay": "Fay修正BRR法", "bootstrap": "Rao–Wu重抽样自助法",
    "rao-wu": "Rao–Wu重抽样自助法", "subbootstrap": "Rao–Wu重抽样自助法",
}
CI_METHOD_LABELS = {
    "logit": "logit变换法", "korn-graubard": "Korn–Graubard（beta）法", "korn_graubard": "Korn–Graubard（beta）法",
    "beta": "Korn–Graubard（beta）法", "kg": "Korn–Graubard（beta）法", "t": "t分布法",
    "wald": "Wald法（估计值±t分位数×标准误，用于均值）",
    "wilson": "Wilson法", "clopper-pearson": "Clopper–Pearson法",
}
CALIBRATION_METHOD_LABELS = {"raking": "耙式加权（迭代比例拟合）", "linear": "线性校准（GREG）",
                             "logit": "logit有界校准", "poststratify": "事后分层"}


def variance_method_label(method: str) -> str:
    return VARIANCE_METHOD_LABELS.get(method, method)


def check_label(code: str) -> str:
    return CHECK_LABELS.get(str(code), UNKNOWN_CHECK_LABEL)


# ---- county-level units --------------------------------------------------------------------------------

UNIT_KINDS = ("district", "county", "city", "zone")


@dataclass(frozen=True)
class CountyUnit:
    """One county-level unit. `code` is the standard code of outputs (county_code); `name_zh` is what
    readers see (the `county` column); a zone (开发区) has no official code and names its `parent`."""

    code: str
    name_zh: str
    kind: str  # district | county | city | zone
    parent: str = ""
    population_10k: float | None = None  # year-end residents (万), yearbook
    urban_pct: float | None = None
    demo_literacy_shift: float = 0.0  # read only by the demo generator (pipeline/simulate)

    @property
    def is_zone(self) -> bool:
        return self.kind == "zone"


@dataclass(frozen=True)
class Counties:
    units: tuple[CountyUnit, ...]  # in published order

    @property
    def codes(self) -> tuple[str, ...]:
        return tuple(u.code for u in self.units)

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(u.name_zh for u in self.units)

    @property
    def name_of(self) -> dict[str, str]:
        """county_code → Chinese name."""
        return {u.code: u.name_zh for u in self.units}

    def unit(self, code: str) -> CountyUnit:
        return {u.code: u for u in self.units}[code]


def load_counties(path: str | Path = COUNTIES) -> Counties:
    path = Path(path)
    if not path.exists():
        raise SpecError(f"{path}: file not found. It lists the county-level units (code, name_zh, kind, parent).")
    with path.open(encoding="utf-8") as fh:
        data = yaml.safe_load(fh) or {}
    raw = data.get("units")
    if not isinstance(raw, list) or not raw:
        raise SpecError(f"{path}: `units:` is missing or empty; list the county-level units, one per line.")
    units = []
    for i, u in enumerate(raw, start=1):
        if not isinstance(u, dict) or not u.get("code") or not u.get("name_zh"):
            raise SpecError(f"{path}: units entry {i} ({u!r}) needs code and name_zh.")
        kind = str(u.get("kind", ""))
        if kind not in UNIT_KINDS:
            raise SpecError(f"{path}: unit {u['code']}: kind {kind!r}; use one of {list(UNIT_KINDS)}.")
        numbers = {}
        for key in ("population_10k", "urban_pct", "demo_literacy_shift"):
            try:
                numbers[key] = None if u.get(key) is None else float(u[key])
            except (TypeError, ValueError):
                raise SpecError(f"{path}: unit {u['code']}: {key} {u[key]!r} is not a number.") from None
        units.append(CountyUnit(str(u["code"]), str(u["name_zh"]), kind, str(u.get("parent") or ""),
                                numbers["population_10k"], numbers["urban_pct"],
                                numbers["demo_literacy_shift"] or 0.0))
    codes = [u.code for u in units]
    names = [u.name_zh for u in units]
    for what, seen in (("code", codes), ("name_zh", names)):
        dup = sorted({x for x in seen if seen.count(x) > 1})
        if dup:
            raise SpecError(f"{path}: {what} {dup} is given to more than one unit; each unit needs its own.")
    for u in units:
        if u.is_zone and u.parent not in codes:
            raise SpecError(f"{path}: zone {u.code} ({u.name_zh}) names parent {u.parent!r}, which is not a unit "
                            "of the list; give the code of the county-level division it lies in.")
        if not u.is_zone and u.parent:
            raise SpecError(f"{path}: unit {u.code} ({u.name_zh}) is not a zone but names a parent; only zones "
                            "(kind: zone) are folded into a parent.")
    return Counties(tuple(units))


@cache
def counties() -> Counties:
    """The project's county-level units (survey_instruments/counties.yaml)."""
    return load_counties(COUNTIES)
