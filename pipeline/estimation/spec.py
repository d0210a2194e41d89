"""The estimation spec: estimands.yaml (written for this stage), loaded into frozen dataclasses; anything
missing or misspelt stops with a SpecError naming the file and the key. The design (and the primary
variance method) comes from the weighting stage's design record, not from here.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from pipeline.errors import SpecError
from pipeline.estimation.intervals import CI_METHODS
from pipeline.estimation.targets import SUPPRESSED_POLICIES
from pipeline.instruments.load import read_yaml
from pipeline.survey_design.spec import variance_method
from pipeline.vocabulary import OVERALL_LABEL

STATISTICS = ("proportion", "mean", "total")
DOMAIN_TYPES = ("overall", "county", "sex", "age_band", "education", "urban", "group", "county_group",
                "county_urban")


@dataclass(frozen=True)
class Estimand:
    id: str
    statistic: str
    variable: str
    equals: str | None = None  # share of respondents whose `variable` equals this label


@dataclass(frozen=True)
class DomainType:
    name: str
    by: tuple[str, ...]  # columns crossed (labels joined with "/")
    flags: tuple[tuple[str, str], ...] = ()  # (label, bool column): one domain per flag, crossed with `by`


@dataclass(frozen=True)
class TargetSpec:
    estimand: str
    value: float
    domain_types: tuple[str, ...]
    suppressed: str = "verdict"  # what is published for a cell withheld for precision: verdict | caution | none


@dataclass(frozen=True)
class EstimandsSpec:
    estimands: tuple[Estimand, ...]
    domains: tuple[DomainType, ...]
    ci_method: str
    level: float
    target: TargetSpec
    overall_label: str
    sae: dict | None
    variance_methods: tuple[str, ...] = ("replicate", "taylor")


def _load(path: Path) -> dict:
    return read_yaml(path)


def _need(d: dict, key: str, path: Path, where: str):
    if key not in d:
        raise SpecError(f"{path}: key {where}{key!r} is missing.")
    return d[key]


def load_estimands(path: Path) -> EstimandsSpec:
    data = _load(path)
    ests = []
    for i, e in enumerate(_need(data, "estimands", path, "")):
        for k in ("id", "statistic", "variable"):
            _need(e, k, path, f"estimands[{i}].")
        if e["statistic"] not in STATISTICS:
            raise SpecError(f"{path}: estimands[{i}] ({e['id']}): statistic {e['statistic']!r} not in {STATISTICS}.")
        ests.append(Estimand(str(e["id"]), e["statistic"], str(e["variable"]),
                             None if e.get("equals") is None else str(e["equals"])))
    ids = [e.id for e in ests]
    dup = sorted({x for x in ids if ids.count(x) > 1})
    if dup:
        raise SpecError(f"{path}: estimand ids {dup} appear more than once.")
    doms = []
    for name, d in _need(data, "domains", path, "").items():
        if name not in DOMAIN_TYPES:
            raise SpecError(f"{path}: domain type {name!r} is not one of {DOMAIN_TYPES}.")
        d = d or {}
        flags = tuple((str(k), str(v)) for k, v in (d.get("flags") or {}).items())
        doms.append(DomainType(name, tuple(d.get("by") or ()), flags))
    ci = data.get("ci", {})
    method = ci.get("proportion", "logit")
    if method not in CI_METHODS:
        raise SpecError(f"{path}: ci.proportion {method!r} is not one of {sorted(CI_METHODS)}.")
    level = ci.get("level", 0.95)
    if isinstance(level, bool) or not isinstance(level, (int, float)) or not 0 < level < 1:
        raise SpecError(f"{path}: ci.level is {level!r}; give the confidence level as a proportion strictly between "
                        "0 and 1 (0.95 for 95%, not 95).")
    t = _need(data, "target", path, "")
    policy = str(t.get("suppressed", "verdict"))
    if policy not in SUPPRESSED_POLICIES:
        raise SpecError(f"{path}: target.suppressed {policy!r} is not one of {list(SUPPRESSED_POLICIES)} "
                        "(verdict: publish the verdict with the estimate withheld; caution: publish the estimate "
                        "with a caution mark; none: publish neither).")
    target = TargetSpec(str(_need(t, "estimand", path, "target.")), float(_need(t, "value", path, "target.")),
                        tuple(_need(t, "domain_types", path, "target.")), policy)
    if target.estimand not in ids:
        raise SpecError(f"{path}: target.estimand {target.estimand!r} is not an estimand id.")
    stat = next(e.statistic for e in ests if e.id == target.estimand)
    if stat == "proportion" and not 0 < target.value < 1:
        raise SpecError(f"{path}: target.value is {t['value']!r}, but target.estimand {target.estimand!r} is a "
                        "proportion: give the target as a proportion strictly between 0 and 1 (0.16 for 16%).")
    unknown = [x for x in target.domain_types if x not in [d.name for d in doms]]
    if unknown:
        raise SpecError(f"{path}: target.domain_types {unknown} are not listed under domains.")
    variance = data.get("variance") or {}
    if "primary" in variance:
        raise SpecError(f"{path}: variance.primary belongs in design.yaml (variance.primary), beside the replicate "
                        "weights it refers to; estimands.yaml lists only the methods written beside it "
                        "(variance.methods). Remove the key here.")
    methods = variance.get("methods", ["replicate", "taylor"])
    methods = [variance_method(m, "variance.methods entry", path) for m in methods]
    if str(data.get("overall_label", OVERALL_LABEL)) != OVERALL_LABEL:
        raise SpecError(f"{path}: overall_label {data['overall_label']!r}: the whole city is labelled "
                        f"{OVERALL_LABEL} in every table and report (pipeline/vocabulary.py); drop the key.")
    return EstimandsSpec(tuple(ests), tuple(doms), method, float(level), target,
                         OVERALL_LABEL, data.get("sae"),
                         tuple(dict.fromkeys(methods)))
