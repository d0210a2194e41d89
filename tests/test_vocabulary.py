"""The one vocabulary: each word defined once (pipeline/vocabulary.py, survey_instruments/counties.yaml),
and no module of the package spelling it again."""

from __future__ import annotations

import io
import re
import tokenize
from pathlib import Path

import pytest

from pipeline import vocabulary as V
from pipeline.errors import SpecError
from pipeline.instruments import dimension_estimands, load_instrument
from pipeline.paths import ROOT, SPEC_ROOT

PACKAGE = ROOT / "pipeline"


def _code_strings(path: Path) -> list[tuple[int, str]]:
    """(line, text) of every string literal of a module that is not a docstring; comments are skipped."""
    out = []
    toks = list(tokenize.generate_tokens(io.StringIO(path.read_text(encoding="utf-8")).readline))
    prev = tokenize.NEWLINE
    for i, t in enumerate(toks):
        if t.type == tokenize.STRING:
            docstring = prev in (tokenize.NEWLINE, tokenize.INDENT, tokenize.DEDENT) and \
                toks[i + 1].type == tokenize.NEWLINE
            if not docstring:
                out.append((t.start[0], t.string))
        if t.type not in (tokenize.NL, tokenize.COMMENT):
            prev = t.type
    return out


def _spelled(words: tuple[str, ...], allowed: tuple[str, ...] = ("pipeline/vocabulary.py",)) -> list[str]:
    found = []
    for path in sorted(PACKAGE.rglob("*.py")):
        rel = path.relative_to(ROOT).as_posix()
        if rel in allowed:
            continue
        for line, text in _code_strings(path):
            found += [f"{rel}:{line}: {w}" for w in words if w in text]
    return found


def test_overall_label_is_spelled_only_in_the_vocabulary():
    assert _spelled((V.OVERALL_LABEL,)) == [], "use pipeline.vocabulary.OVERALL_LABEL"


def test_no_module_carries_a_table_of_county_names_or_codes():
    names = V.counties().names
    codes = tuple(c for c in V.counties().codes if c.isdigit())
    assert len(names) == 13 and len(codes) == 11
    found = _spelled(names + codes)
    assert found == [], "county units come from survey_instruments/counties.yaml (pipeline.vocabulary.counties())"


def test_missing_reasons_and_method_labels_are_defined_once():
    # A tuple of the three reasons, or a table of the Chinese labels of methods or checks, outside the
    # vocabulary (prose that names a method is fine).
    reasons = re.compile(r"""\(\s*["']dont_know["'],\s*["']refused["'],\s*["']skipped["']""")
    entries = [(k, v) for table in (V.VARIANCE_METHOD_LABELS, V.REPLICATE_METHOD_LABELS, V.CI_METHOD_LABELS,
                                    V.CALIBRATION_METHOD_LABELS, V.CHECK_LABELS) for k, v in table.items()]
    tables = re.compile("|".join(rf"""["']({re.escape(k)})["']\s*:\s*["']{re.escape(v)}""" for k, v in entries))
    hits = []
    for path in sorted(PACKAGE.rglob("*.py")):
        rel = path.relative_to(ROOT).as_posix()
        if rel == "pipeline/vocabulary.py":
            continue
        text = path.read_text(encoding="utf-8")
        hits += [f"{rel}: the missing reasons" for _ in reasons.finditer(text)]
        hits += [f"{rel}: a table of labels ({m.group(0)})" for m in tables.finditer(text)]
    assert hits == []


def test_the_instrument_takes_names_and_parents_from_the_county_units():
    inst = load_instrument(SPEC_ROOT / "2024" / "instrument.yaml")
    units = V.counties()
    assert [c.code for c in inst.counties] == list(units.codes)
    assert [c.name_zh for c in inst.counties] == list(units.names)
    assert {c.code: c.parent for c in inst.counties}["QZTS"] == "350521"
    assert [u.code for u in units.units if u.is_zone] == ["QZKF", "QZTS"]
    assert all(units.unit(u.parent).kind != "zone" for u in units.units if u.is_zone)


def _wave_with_counties(tmp_path: Path, entries: str, units: str | None = None) -> Path:
    src = (SPEC_ROOT / "2024" / "instrument.yaml").read_text(encoding="utf-8")
    head, rest = src.split("counties:", 1)
    tail = rest[rest.index("key_groups:"):]
    wave = tmp_path / "survey_instruments" / "2024"
    wave.mkdir(parents=True)
    (wave / "instrument.yaml").write_text(f"{head}counties:\n{entries}{tail}", encoding="utf-8")
    if units is not None:
        (tmp_path / "survey_instruments" / "counties.yaml").write_text(units, encoding="utf-8")
    return wave / "instrument.yaml"


def test_an_unknown_county_code_is_refused_with_the_known_ones(tmp_path):
    path = _wave_with_counties(tmp_path, '  - {raw: 1, code: "350599"}\n')
    with pytest.raises(SpecError, match=r"350599.*not a county-level unit.*350502"):
        load_instrument(path)


def test_a_county_name_in_the_instrument_must_agree_with_the_units(tmp_path):
    path = _wave_with_counties(tmp_path, '  - {raw: 1, code: "350502", name_zh: 丰泽区}\n')
    with pytest.raises(SpecError, match="350502 is 鲤城区"):
        load_instrument(path)


def test_a_raw_code_given_twice_is_refused(tmp_path):
    path = _wave_with_counties(tmp_path, '  - {raw: 1, code: "350502"}\n  - {raw: 1, code: "350503"}\n')
    with pytest.raises(SpecError, match=r"raw \[1\] appears more than once"):
        load_instrument(path)


def test_a_project_may_define_its_own_units_beside_its_waves(tmp_path):
    units = ("units:\n  - {code: A01, name_zh: 甲区, kind: district}\n"
             "  - {code: Z01, name_zh: 乙开发区, kind: zone, parent: A01}\n")
    path = _wave_with_counties(tmp_path, '  - {raw: 2, code: Z01}\n  - {raw: 1, code: A01}\n', units)
    inst = load_instrument(path)
    assert [(c.raw, c.code, c.name_zh, c.parent) for c in inst.counties] == [(1, "A01", "甲区", ""),
                                                                           (2, "Z01", "乙开发区", "A01")]


@pytest.mark.parametrize("units, message", [
    ("units: []\n", "missing or empty"),
    ("units:\n  - {code: A, name_zh: 甲, kind: town}\n", "kind 'town'"),
    ("units:\n  - {code: A, name_zh: 甲, kind: county}\n  - {code: A, name_zh: 乙, kind: county}\n", r"code \['A'\]"),
    ("units:\n  - {code: Z, name_zh: 甲, kind: zone, parent: Q}\n", "names parent 'Q'"),
    ("units:\n  - {code: A, name_zh: 甲, kind: county}\n  - {code: B, name_zh: 乙, kind: county, parent: A}\n",
     "not a zone but names a parent"),
])
def test_bad_county_units_are_refused_with_advice(tmp_path, units, message):
    path = tmp_path / "counties.yaml"
    path.write_text(units, encoding="utf-8")
    with pytest.raises(SpecError, match=message):
        V.load_counties(path)


def test_estimands_may_not_relabel_the_whole_city(tmp_path):
    from pipeline.estimation.spec import load_estimands

    src = (SPEC_ROOT / "2024" / "estimands.yaml").read_text(encoding="utf-8")
    path = tmp_path / "estimands.yaml"
    path.write_text("overall_label: 泉州市\n" + src, encoding="utf-8")
    with pytest.raises(SpecError, match="overall_label '泉州市'"):
        load_estimands(path)
    path.write_text(f"overall_label: {V.OVERALL_LABEL}\n" + src, encoding="utf-8")
    assert load_estimands(path).overall_label == V.OVERALL_LABEL


def test_dimension_names_come_from_frameworks():
    dims = dimension_estimands()
    assert [d[0] for d in dims] == ["score_knowledge", "score_methods", "score_spirit", "score_ability"]
    assert sum(d[3] for d in dims) == 100.0
