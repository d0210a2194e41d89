"""Load a wave's YAML specification into frozen dataclasses, cross-checking it on the way.

Every error names the file, the entry (item id, field) and what to change, because the people who
edit these files are survey methodologists, not programmers.
"""

from __future__ import annotations

from collections import Counter
from functools import lru_cache
from pathlib import Path
from typing import Any

import yaml

from pipeline.errors import SpecError
from pipeline.instruments.model import (
    Benchmark,
    CountyCoding,
    Demographic,
    Dimension,
    Frameworks,
    Identifier,
    Instrument,
    Item,
    MissingCode,
    QualityCheck,
    ScoringRule,
)
from pipeline.instruments.todos import refuse_todos
from pipeline.paths import FRAMEWORKS, project_paths
from pipeline.vocabulary import MISSING_REASONS, Counties, counties, load_counties

SCHEMA_VERSION = 1
ITEM_TYPES = ("true_false", "single", "multiple")
MULTIPLE_SCORING = ("all_or_nothing", "partial")
ONE_COLUMN = ("list", "digits", "letters")  # multiple answers in one column: "1,3", "13", "A,C" (or "AC")
REQUIRED_DEMOGRAPHICS = ("county", "township", "village", "sex", "birth_year", "education", "occupation",
                         "urban", "hukou", "n_adults")
REQUIRED_ADMIN = ("questionnaire_id", "interviewer_id")
TIME_ROLES = ("start_time", "end_time")  # both, or neither when design.yaml says the delivery has no times
REQUIRED_DESIGN_COLUMNS = ("p_psu", "p_ssu", "p_hh")
# the design columns of each delivery mode (pipeline/instruments/delivery.py): stage probabilities, or one weight
DESIGN_COLUMN_SETS = (REQUIRED_DESIGN_COLUMNS, ("design_weight",), ("final_weight",))
POINTS_TOL = 1e-9


class _StrictLoader(getattr(yaml, "CSafeLoader", yaml.SafeLoader)):
    """SafeLoader that refuses a key given twice in one mapping: plain YAML keeps the last one silently,
    and an item whose `key:` or `points:` is written twice would be scored by whichever came last.
    It parses with libyaml where PyYAML has it (eight times faster: every stage and the report read the
    instrument several times); a file that does not parse is read again by the pure-Python parser, whose
    message quotes the offending line."""


class _StrictPythonLoader(yaml.SafeLoader):
    """The same rules, parsed in Python: only for the message about a file that does not parse."""


def _mapping_without_duplicates(loader: yaml.BaseLoader, node: yaml.MappingNode, deep: bool = False) -> dict:
    seen: dict[Any, int] = {}
    for key_node, _ in node.value:
        key = loader.construct_object(key_node, deep=deep)
        if key in seen:
            raise SpecError(f"{loader.name}: line {key_node.start_mark.line + 1}: key {key!r} is given twice in the "
                            f"same entry (first on line {seen[key]}). Keep one of them.")
        seen[key] = key_node.start_mark.line + 1
    return loader.construct_mapping(node, deep=deep)


for _loader in (_StrictLoader, _StrictPythonLoader):
    _loader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _mapping_without_duplicates)


def _parse(text: str, name: str, loader_class: type) -> Any:
    loader = loader_class(text)
    loader.name = name
    try:
        return loader.get_single_data()
    finally:
        loader.dispose()


def read_yaml(path: str | Path) -> dict[str, Any]:
    path = Path(path)
    if not path.exists():
        raise SpecError(f"{path}: file not found. Every wave needs its specification in survey_instruments/<wave>/.")
    text = path.read_text(encoding="utf-8")
    try:
        data = _parse(text, str(path), _StrictLoader)
    except yaml.YAMLError:
        try:
            data = _parse(text, str(path), _StrictPythonLoader)
        except yaml.YAMLError as err:
            raise SpecError(f"{path}: not valid YAML ({err}). Fix the indentation or quoting at that line.") from None
    if not isinstance(data, dict):
        raise SpecError(f"{path}: expected a mapping of keys at the top level.")
    version = data.get("schema_version")
    if version != SCHEMA_VERSION:
        raise SpecError(f"{path}: schema_version is {version!r}; this version of the pipeline reads "
                        f"schema_version: {SCHEMA_VERSION}. Add or correct the key at the top of the file.")
    folder = path.parent.name
    if "wave" in data and folder.isdigit() and str(data["wave"]) != folder:
        raise SpecError(f"{path}: wave is {data['wave']!r}, but the file is in the folder of wave {folder}. A spec "
                        "copied from another wave must say its own wave: correct the key (or the folder).")
    return data


def _need(data: dict, key: str, where: str) -> Any:
    if key not in data or data[key] is None:
        raise SpecError(f"{where}: missing key {key!r}. See survey_instruments/README.md for the keys it needs.")
    return data[key]


def load_frameworks(path: str | Path = FRAMEWORKS) -> Frameworks:
    data = read_yaml(path)
    dims = tuple(Dimension(str(d["id"]), str(d["name_zh"]), float(d["points"])) for d in _need(data, "dimensions", str(path)))
    dim_ids = {d.id for d in dims}
    benches = []
    for b in _need(data, "benchmarks", str(path)):
        where = f"{path}: benchmark {b.get('id')!r}"
        group = _need(b, "group", where)
        if group not in dim_ids:
            raise SpecError(f"{where}: group {group!r} is not a dimension ({sorted(dim_ids)}).")
        benches.append(Benchmark(int(b["id"]), str(_need(b, "title_zh", where)), str(group)))
    ids = [b.id for b in benches]
    dup = [i for i, n in Counter(ids).items() if n > 1]
    if dup:
        raise SpecError(f"{path}: benchmark ids {dup} appear more than once; each 基准 needs one entry.")
    return Frameworks(dims, tuple(sorted(benches, key=lambda b: b.id)))


def _codes(raw: Any, where: str) -> tuple[tuple[int | str, str], ...]:
    if raw is None:
        return ()
    if not isinstance(raw, dict):
        raise SpecError(f"{where}: codes must be a mapping code: label.")
    return tuple((k, str(v)) for k, v in raw.items())


def _item(raw: dict, path: Path, frameworks: Frameworks) -> Item:
    item_id = str(raw.get("id", "?"))
    where = f"{path}: item {item_id}"
    typ = _need(raw, "type", where)
    if typ not in ITEM_TYPES:
        raise SpecError(f"{where}: type {typ!r} is not one of {ITEM_TYPES}.")
    options = _codes(_need(raw, "options", where), where)
    codes = [int(c) for c, _ in options]
    key_raw = _need(raw, "key", where)
    key = tuple(int(k) for k in (key_raw if isinstance(key_raw, list) else [key_raw]))
    if not key:
        raise SpecError(f"{where}: key is empty; list the correct option code(s), e.g. key: [1, 3].")
    if len(set(key)) != len(key):
        raise SpecError(f"{where}: key {list(key)} names an option more than once; list each correct option once.")
    for k in key:
        if k not in codes:
            raise SpecError(f"{where}: key {k} is not among the option codes {codes}. "
                            "Correct the key or add the option.")
    if typ == "true_false" and len(options) != 2:
        raise SpecError(f"{where}: a true_false item has exactly two options (对/错), found {len(options)}.")
    if typ in ("true_false", "single") and len(key) != 1:
        raise SpecError(f"{where}: a {typ} item has exactly one key, found {list(key)}. "
                        "Use type: multiple for several correct options.")
    scoring = str(raw.get("scoring", "all_or_nothing"))
    if typ == "multiple" and scoring not in MULTIPLE_SCORING:
        raise SpecError(f"{where}: scoring {scoring!r} must be one of {MULTIPLE_SCORING}.")
    dim = str(_need(raw, "dimension", where))
    if dim not in {d.id for d in frameworks.dimensions}:
        raise SpecError(f"{where}: dimension {dim!r} is not one of {[d.id for d in frameworks.dimensions]}.")
    benches = tuple(int(b) for b in _need(raw, "benchmarks", where))
    unknown = [b for b in benches if b not in frameworks.benchmark_ids]
    if unknown or not benches:
        raise SpecError(f"{where}: benchmark ids {unknown or '[]'} are not in frameworks.yaml (1–26); "
                        "name at least one existing 基准.")
    points = float(_need(raw, "points", where))
    if not points > 0:
        raise SpecError(f"{where}: points must be positive, found {points}.")
    one = raw.get("one_column")
    if one is not None:
        if typ != "multiple" or one not in ONE_COLUMN:
            raise SpecError(f"{where}: one_column {one!r}: only a multiple item takes it, as one of {list(ONE_COLUMN)} "
                            "(\"1,3\" / \"13\" / \"A,C\" in one column).")
        if one == "digits" and not all(1 <= c <= 9 for c in codes):
            raise SpecError(f"{where}: one_column: digits needs option codes 1–9 (one digit each), found {codes}.")
        if one == "letters" and len(codes) > 26:
            raise SpecError(f"{where}: one_column: letters allows at most 26 options.")
    return Item(item_id, str(_need(raw, "column", where)), typ, str(_need(raw, "text_zh", where)),
                tuple((int(c), lab) for c, lab in options), key, points, dim, benches, scoring,
                None if one is None else str(one))


def _demographic(raw: dict, path: Path) -> Demographic:
    where = f"{path}: demographic {raw.get('field', '?')!r}"
    bands = raw.get("bands") or {}
    rng = raw.get("range")
    return Demographic(
        field=str(_need(raw, "field", where)),
        column=str(_need(raw, "column", where)),
        label_zh=str(raw.get("label_zh", "")),
        codes=_codes(raw.get("codes"), where),
        derive=tuple((str(k), tuple(v)) for k, v in bands.items()),
        range=(float(rng[0]), float(rng[1])) if rng else None,
    )


def _counties(data: dict, path: Path) -> tuple[CountyCoding, ...]:
    """The delivery's county codes joined to the county-level units. Name and parent are defined once, in
    survey_instruments/counties.yaml (beside the instrument's wave folder, else the project's own); an
    entry may repeat the name for the reader, and then it must agree."""
    units_path = project_paths(path.resolve().parents[2]).counties
    units: Counties = load_counties(units_path) if units_path.exists() else counties()
    known = {u.code: u for u in units.units}
    out = []
    for c in _need(data, "counties", str(path)):
        code = str(_need(c, "code", f"{path}: counties entry {c!r}"))
        if code not in known:
            raise SpecError(f"{path}: counties: code {code!r} is not a county-level unit of {units_path.name} "
                            f"({', '.join(known)}); use the unit's code, or add the unit there.")
        unit = known[code]
        if c.get("name_zh") is not None and str(c["name_zh"]) != unit.name_zh:
            raise SpecError(f"{path}: counties: code {code} is {unit.name_zh} in {units_path.name}, not "
                            f"{c['name_zh']}; correct the code or drop the name (it comes from {units_path.name}).")
        out.append(CountyCoding(int(_need(c, "raw", f"{path}: counties entry {code}")), code, unit.name_zh, unit.parent))
    for what, seen in (("raw", [c.raw for c in out]), ("code", [c.code for c in out])):
        dup = sorted({x for x in seen if seen.count(x) > 1})
        if dup:
            raise SpecError(f"{path}: counties: {what} {dup} appears more than once; each unit is coded once.")
    return tuple(sorted(out, key=lambda c: c.raw))  # ingest looks a raw code up by its rank


def load_instrument(path: str | Path, frameworks: Frameworks | None = None) -> Instrument:
    path = Path(path)
    frameworks = frameworks or load_frameworks()
    data = read_yaml(path)
    where = str(path)
    refuse_todos(data, where)
    missing = tuple(MissingCode(str(m["reason"]), int(m["code"]), str(m["label_zh"]))
                    for m in _need(data, "missing_codes", where))
    if sorted(m.reason for m in missing) != sorted(MISSING_REASONS):
        raise SpecError(f"{path}: missing_codes must define exactly {MISSING_REASONS} (不知道, 拒答, 跳过).")
    identifiers = tuple(Identifier(str(i["column"]), str(i["kind"]), str(i.get("label_zh", "")))
                        for i in _need(data, "identifiers", where))
    admin_raw = _need(data, "admin", where)
    for role in REQUIRED_ADMIN:
        _need(admin_raw, role, f"{path}: admin")
    times = [r for r in TIME_ROLES if admin_raw.get(r) is not None]
    if len(times) == 1:
        raise SpecError(f"{path}: admin names {times[0]} but not the other interview time; give both start_time and "
                        "end_time, or neither when the delivery has no interview times.")
    design_raw = _need(data, "design_columns", where)
    roles = tuple(sorted(k for k, v in design_raw.items() if v is not None))
    if roles not in {tuple(sorted(s)) for s in DESIGN_COLUMN_SETS}:
        if set(roles) & set(REQUIRED_DESIGN_COLUMNS) or not roles:
            for role in REQUIRED_DESIGN_COLUMNS:
                _need(design_raw, role, f"{path}: design_columns")
        raise SpecError(f"{path}: design_columns {list(roles)}: name the three selection probabilities (p_psu, p_ssu, "
                        "p_hh), or one design_weight column, or one final_weight column (see delivery modes in "
                        "survey_instruments/README.md).")
    admin = tuple((str(k), str(v)) for k, v in {**admin_raw, **design_raw}.items())
    demographics = tuple(_demographic(d, path) for d in _need(data, "demographics", where))
    fields = [d.field for d in demographics]
    # age may be delivered instead of the birth year (field `age`: completed years at interview)
    absent = [f for f in REQUIRED_DEMOGRAPHICS if f not in fields and not (f == "birth_year" and "age" in fields)]
    if absent:
        raise SpecError(f"{path}: demographics lack {absent}; the pipeline needs {list(REQUIRED_DEMOGRAPHICS)} "
                        "(or `age` instead of birth_year).")
    if "birth_year" in fields and "age" in fields:
        raise SpecError(f"{path}: demographics give both birth_year and age; keep the one the eligibility rule "
                        "(18–69) should use: age when the questionnaire asks 周岁, else birth_year.")
    items = tuple(_item(raw, path, frameworks) for raw in _need(data, "items", where))
    checks = tuple(QualityCheck(str(c["id"]), str(c["action"]),
                                None if c.get("threshold") is None else float(c["threshold"]),
                                str(c.get("description_zh", "")))
                   for c in data.get("checks") or [])
    for c in checks:
        if c.action not in ("quarantine", "warn"):
            raise SpecError(f"{path}: check {c.id!r} has action {c.action!r}; use quarantine or warn.")
    inst = Instrument(
        wave=int(_need(data, "wave", where)),
        title_zh=str(data.get("title_zh", "")),
        source_file=str(data.get("source_file", "survey.sav")),
        encoding=data.get("encoding"),
        missing_codes=missing,
        identifiers=identifiers,
        admin=admin,
        demographics=demographics,
        items=items,
        checks=checks,
        frameworks=frameworks,
        counties=_counties(data, path),
        key_groups=tuple((str(k), tuple((str(a), tuple(b)) for a, b in v.items()))
                         for k, v in (data.get("key_groups") or {}).items()),
        max_quarantined_share=_share(data.get("max_quarantined_share", 0.05), path, "max_quarantined_share"),
    )
    cross_check(inst, frameworks, path)
    return inst


def cross_check(inst: Instrument, frameworks: Frameworks, path: Path) -> None:
    """The consistency rules of an instrument; each failure says which entry to fix."""
    ids = [it.id for it in inst.items]
    dup = sorted(i for i, n in Counter(ids).items() if n > 1)
    if dup:
        raise SpecError(f"{path}: item ids {dup} are used more than once; give each item its own id.")
    columns = [c for it in inst.items for c in it.raw_columns]
    columns += [d.column for d in inst.demographics] + [c for _, c in inst.admin] + [i.column for i in inst.identifiers]
    dupc = sorted(c for c, n in Counter(columns).items() if n > 1)
    if dupc:
        owners = {c: [it.id for it in inst.items if c in it.raw_columns] for c in dupc}
        raise SpecError(f"{path}: raw columns {dupc} are claimed twice (items: {owners}); each answer needs "
                        "its own column.")
    miss = set(inst.missing_by_code)
    for it in inst.items:
        clash = miss & set(it.option_codes)
        if clash:
            raise SpecError(f"{path}: item {it.id}: option codes {sorted(clash)} collide with the missing "
                            "codes; renumber the options.")
    total = inst.total_points
    if abs(total - 100.0) > POINTS_TOL:
        raise SpecError(f"{path}: item points add up to {total:g}, not 100. Adjust the points of some items.")
    by_dim = inst.points_by_dimension()
    for d in frameworks.dimensions:
        got = by_dim.get(d.id, 0.0)
        if abs(got - d.points) > POINTS_TOL:
            raise SpecError(f"{path}: dimension {d.id} ({d.name_zh}) has {got:g} points, frameworks.yaml "
                            f"says {d.points:g}. Move points between items of that dimension.")
    covered = {b for it in inst.items for b in it.benchmarks}
    uncovered = [b for b in frameworks.benchmark_ids if b not in covered]
    if uncovered:
        raise SpecError(f"{path}: no item covers benchmark(s) {uncovered}; every 基准 needs at least one item.")
    if not inst.counties:
        raise SpecError(f"{path}: counties is empty; list the county-level units (strata).")
    demo = {d.field: d for d in inst.demographics}
    for flag, rules in inst.key_groups:
        for field, values in rules:
            if field == "age":
                if len(values) != 2 or not values[0] <= values[1]:
                    raise SpecError(f"{path}: key_groups: {flag}: age needs [lowest, highest] years, found {list(values)}.")
                continue
            if field not in demo or not demo[field].codes:
                coded = sorted(f for f, d in demo.items() if d.codes) + ["age"]
                raise SpecError(f"{path}: key_groups: {flag}: field {field!r} is not a coded demographic; use one "
                                f"of {coded}.")
            known = {float(c) for c, _ in demo[field].codes}
            unknown = [v for v in values if float(v) not in known]
            if unknown:
                raise SpecError(f"{path}: key_groups: {flag}: {field} codes {unknown} are not in the codebook of "
                                f"demographic {field!r} ({sorted(int(k) for k in known)}). A flag on a code nobody "
                                "can have would stay empty: correct the code.")


def _share(value, path, key: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value <= 1:
        raise SpecError(f"{path}: {key} is {value!r}; give a share between 0 and 1 (0.05 for 5%).")
    return float(value)


def load_scoring(path: str | Path) -> ScoringRule:
    data = read_yaml(path)
    where = str(path)
    levels = tuple((str(lv["label"]), float(lv["min"])) for lv in _need(data, "levels", where))
    cuts = [c for _, c in levels]
    if cuts != sorted(cuts, reverse=True):
        raise SpecError(f"{path}: levels must be listed from the highest cut-off down, found {cuts}.")
    same = sorted({c for c in cuts if cuts.count(c) > 1})
    if same:
        raise SpecError(f"{path}: levels share the cut-off(s) {same}; the lower level could never be reached. "
                        "Give each level its own minimum.")
    params = data.get("params") or {}
    cutoff = params.get("cutoff")
    if cutoff is not None and float(cutoff) not in cuts:
        raise SpecError(f"{path}: params.cutoff {cutoff} is not the minimum of any level ({cuts}): the share literate "
                        "and the share in the levels at or above the cut-off would disagree. Make the cut-off "
                        "equal to the minimum of the lowest literate level.")
    mmi = _need(data, "max_missing_items", where)
    if isinstance(mmi, bool) or not isinstance(mmi, int) or mmi < 0:
        raise SpecError(f"{path}: max_missing_items is {mmi!r}; give the number of missing items a respondent may "
                        "have and still be scored, a whole number of at least 0.")
    return ScoringRule(
        rule=str(_need(data, "rule", where)),
        params=tuple(sorted(params.items())),
        levels=levels,
        max_missing_items=mmi,
        max_missing_share=data.get("max_missing_share"),
    )


def dimension_estimands(frameworks_path: str | Path = FRAMEWORKS) -> tuple[tuple[str, str, str, float], ...]:
    """(estimand id, dimension id, Chinese name, full marks) of each part of the test, from frameworks.yaml:
    the dimension score of part `knowledge` is the estimand `score_knowledge`."""
    return _dimension_estimands(str(Path(frameworks_path).resolve()))


@lru_cache(maxsize=8)
def _dimension_estimands(path: str) -> tuple[tuple[str, str, str, float], ...]:
    return tuple((f"score_{d.id}", d.id, d.name_zh, float(d.points)) for d in load_frameworks(path).dimensions)
