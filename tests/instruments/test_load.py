"""The 2024 instrument loads and is internally consistent; broken instruments fail with a clear message.

Each negative test copies the real instrument.yaml to a temporary folder, changes one thing and checks
that the SpecError names the file and, where relevant, the item to fix.
"""

from __future__ import annotations

import copy
import re
from collections import Counter
from pathlib import Path

import pytest
import yaml

from pipeline.errors import SpecError
from pipeline.instruments import load_frameworks, load_instrument, load_scoring
from pipeline.paths import FRAMEWORKS, SPEC_ROOT

INSTRUMENT_2024 = SPEC_ROOT / "2024" / "instrument.yaml"
SCORING_2024 = SPEC_ROOT / "2024" / "scoring.yaml"
_Loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # libyaml when available keeps the suite fast
_Dumper = getattr(yaml, "CSafeDumper", yaml.SafeDumper)


@pytest.fixture(scope="module")
def frameworks():
    return load_frameworks(FRAMEWORKS)


@pytest.fixture(scope="module")
def instrument(frameworks):
    return load_instrument(INSTRUMENT_2024, frameworks)


@pytest.fixture(scope="module")
def raw_spec() -> dict:
    return yaml.load(INSTRUMENT_2024.read_text(encoding="utf-8"), Loader=_Loader)


@pytest.fixture
def broken(tmp_path, raw_spec, frameworks):
    """Write a mutated copy of the 2024 instrument and return (path, load)."""

    path = tmp_path / "2024" / "instrument.yaml"
    path.parent.mkdir()

    def write(mutate) -> Path:
        data = copy.deepcopy(raw_spec)
        mutate(data)
        path.write_text(yaml.dump(data, Dumper=_Dumper, allow_unicode=True, sort_keys=False), encoding="utf-8")
        return path

    def load():
        return load_instrument(path, frameworks)

    return write, load, path


def _item(data: dict, item_id: str) -> dict:
    return next(it for it in data["items"] if it["id"] == item_id)


def _names(path: Path, *parts: str) -> str:
    """A regex that requires the file path and then each part, in order, in the message."""
    return ".*".join(re.escape(p) for p in (str(path), *parts))


# ---------------------------------------------------------------- the real 2024 instrument


def test_real_instrument_loads(instrument):
    assert instrument.wave == 2024
    assert len(instrument.items) >= 60
    assert instrument.total_points == pytest.approx(100.0, abs=1e-12)


def test_points_by_dimension(instrument):
    assert instrument.points_by_dimension() == {"knowledge": 40.0, "methods": 20.0, "spirit": 20.0,
                                                 "ability": 20.0}


def test_points_are_exact_in_binary(instrument):
    # multiples of 0.25 add up without rounding error, so 70 and 85 cut-offs are exact
    assert all((it.points * 4).is_integer() for it in instrument.items)
    assert sum(it.points for it in instrument.items) == 100.0


def test_all_benchmarks_covered(instrument, frameworks):
    covered = {b for it in instrument.items for b in it.benchmarks}
    assert covered == set(range(1, 27)) == set(frameworks.benchmark_ids)


def test_item_dimension_matches_benchmark_group(instrument, frameworks):
    group = {b.id: b.group for b in frameworks.benchmarks}
    for it in instrument.items:
        assert {group[b] for b in it.benchmarks} == {it.dimension}, it.id


def test_ids_and_columns_in_questionnaire_order(instrument):
    prefix = {"knowledge": "K", "methods": "M", "spirit": "S", "ability": "A"}
    assert [it.column for it in instrument.items] == [f"Q{n:02d}" for n in range(1, len(instrument.items) + 1)]
    for dim, p in prefix.items():
        ids = [it.id for it in instrument.items if it.dimension == dim]
        assert ids == [f"{p}{n:02d}" for n in range(1, len(ids) + 1)], dim


def test_multiple_item_raw_columns(instrument):
    a07 = instrument.item("A07")
    assert a07.type == "multiple"
    assert a07.column == "Q55"
    assert a07.raw_columns == ("Q55_1", "Q55_2", "Q55_3", "Q55_4")
    assert a07.key == (1, 3)
    assert a07.scoring == "partial"
    single = instrument.item("K01")
    assert single.raw_columns == ("Q01",)


def test_item_types(instrument):
    types = Counter(it.type for it in instrument.items)
    assert set(types) == {"true_false", "single", "multiple"}
    assert 3 <= types["multiple"] <= 5
    assert any(it.scoring == "partial" for it in instrument.items if it.type == "multiple")
    assert any(it.scoring == "all_or_nothing" for it in instrument.items if it.type == "multiple")


def test_option_shapes(instrument):
    for it in instrument.items:
        labels = [lab for _, lab in it.options]
        assert "不知道" not in labels, it.id  # 不知道 is the missing code 97, never an option
        if it.type == "true_false":
            assert labels == ["对", "错"], it.id
        elif it.type == "single":
            assert len(it.options) == 4, it.id
        else:
            assert 2 <= len(it.key) < len(it.options), it.id


def test_required_items_and_keys(instrument):
    by_text = {it.text_zh: it for it in instrument.items}
    expected = {"地球绕太阳转一圈需要一年。": "对", "抗生素能杀死病毒。": "错", "光速比声速快。": "对",
                "激光是由汇聚声波而产生的。": "错", "最早期的人类与恐龙生活在同一个年代。": "错",
                "就我们目前所知，大陆板块一直在缓慢移动。": "对", "父亲的基因决定孩子的性别。": "对",
                "求签能够预测一个人的未来。": "错"}
    for text, answer in expected.items():
        it = by_text[text]
        assert dict(it.options)[it.key[0]] == answer, text


def test_raw_columns_unique_and_disjoint_from_missing_codes(instrument):
    cols = [c for it in instrument.items for c in it.raw_columns]
    assert len(cols) == len(set(cols))
    assert instrument.missing_by_code == {97: "dont_know", 98: "refused", 99: "skipped"}
    assert not {c for it in instrument.items for c in it.option_codes} & {97, 98, 99}


def test_counties_checks_and_groups(instrument):
    codes = [c[1] for c in instrument.counties]
    assert len(codes) == 13 and len(set(codes)) == 13
    assert "350527" not in codes  # 金门县 is never a stratum
    assert dict((c[1], c[3]) for c in instrument.counties)["QZTS"] == "350521"
    assert instrument.check("short_interview").threshold == 12
    assert instrument.check("too_many_missing").action == "warn"
    assert dict(instrument.key_groups)["is_farmer"] == (("occupation", (6,)),)


def test_scoring_2024():
    rule = load_scoring(SCORING_2024)
    assert rule.rule == "threshold_total"
    assert rule.param("cutoff") == 70
    assert rule.levels == (("高阶", 85.0), ("具备", 70.0), ("基本具备", 55.0), ("较低", 0.0))
    assert dict(rule.levels)["具备"] == rule.param("cutoff")
    assert rule.max_missing_items == 6


# ---------------------------------------------------------------- broken instruments


def _move_points(d):
    _item(d, "K01")["points"] = 1.0   # knowledge 39.75
    _item(d, "M01")["points"] = 2.75  # methods 20.25; total still 100


# (case, mutation of the 2024 instrument, parts the message names in order after the file path)
BROKEN = [
    ("duplicate item id", lambda d: _item(d, "K02").update(id="K01"), ("item ids ['K01']", "more than once")),
    ("key not among options", lambda d: _item(d, "K01").update(key=3),
     ("item K01", "key 3 is not among the option codes")),
    ("multiple key not among options", lambda d: _item(d, "A07").update(key=[1, 5]), ("item A07", "key 5 is not among")),
    ("points not adding to 100", lambda d: _item(d, "K01").update(points=2.25), ("add up to 101, not 100",)),
    ("dimension points wrong", _move_points, ("dimension knowledge", "39.75 points", "says 40")),
    ("unknown benchmark", lambda d: _item(d, "K01").update(benchmarks=[27]),
     ("item K01", "benchmark ids [27]", "not in frameworks.yaml")),
    ("empty benchmarks", lambda d: _item(d, "K01").update(benchmarks=[]), ("item K01", "benchmark")),
    ("uncovered benchmark", lambda d: _item(d, "A11").update(benchmarks=[23]),  # A11 is the only item on 基准 22
     ("no item covers benchmark(s) [22]",)),
    ("true_false with three options", lambda d: _item(d, "K01").update(options={1: "对", 2: "错", 3: "说不清"}),
     ("item K01", "exactly two options", "found 3")),
    ("single with two keys", lambda d: _item(d, "K25").update(key=[2, 3]),
     ("item K25", "single item has exactly one key")),
    ("option code collides with missing code",
     lambda d: _item(d, "K25").update(options={1: "铁", 2: "水银（汞）", 3: "铜", 97: "铝"}),
     ("item K25", "option codes [97] collide")),
    ("duplicate raw column", lambda d: _item(d, "K02").update(column="Q01"), ("raw columns ['Q01']", "K01", "K02")),
    ("unknown item type", lambda d: _item(d, "K01").update(type="open"), ("item K01", "type 'open'")),
    ("item without points", lambda d: _item(d, "S03").pop("points"), ("item S03", "missing key 'points'")),
    ("missing codes incomplete", lambda d: d.update(missing_codes=d["missing_codes"][:2]),
     ("missing_codes must define",)),
    ("wrong schema version", lambda d: d.update(schema_version=2), ("schema_version is 2",)),
    ("empty key", lambda d: _item(d, "A07").update(key=[]), ("item A07", "key is empty")),
    ("repeated key", lambda d: _item(d, "A07").update(key=[1, 1]), ("item A07", "names an option more than once")),
    ("key-group code", lambda d: d["key_groups"].update(is_farmer={"occupation": [60]}),
     ("key_groups: is_farmer", "codes [60] are not in the codebook")),
    ("key-group field", lambda d: d["key_groups"].update(is_worker={"n_adults": [2]}),
     ("key_groups: is_worker", "'n_adults' is not a coded")),
    ("key-group ages", lambda d: d["key_groups"].update(is_elderly={"age": [69, 60]}),
     ("key_groups: is_elderly", "[lowest, highest]")),
]


@pytest.mark.parametrize("mutate, parts", [(m, p) for _, m, p in BROKEN], ids=[c for c, _, _ in BROKEN])
def test_broken_instrument_is_refused_by_name(broken, mutate, parts):
    write, load, path = broken
    write(mutate)
    with pytest.raises(SpecError, match=_names(path, *parts)):
        load()


def test_missing_file(tmp_path, frameworks):
    path = tmp_path / "2019" / "instrument.yaml"
    with pytest.raises(SpecError, match=_names(path, "file not found")):
        load_instrument(path, frameworks)


def test_invalid_yaml(tmp_path, frameworks):
    path = tmp_path / "instrument.yaml"
    text = INSTRUMENT_2024.read_text(encoding="utf-8")
    path.write_text(text.replace("    key: 1\n", "    key: [1\n", 1), encoding="utf-8")
    line = text[:text.index("    key: 1\n")].count("\n") + 2  # the parser notices on the line after the bracket
    with pytest.raises(SpecError, match=_names(path, "not valid YAML")) as err:
        load_instrument(path, frameworks)
    # the message comes from the parser that quotes the line, whichever parser read the file first
    assert f'in "{path}", line {line}' in str(err.value) and "^" in str(err.value)


def test_scoring_levels_out_of_order(tmp_path):
    path = tmp_path / "scoring.yaml"
    data = yaml.safe_load(SCORING_2024.read_text(encoding="utf-8"))
    data["levels"] = list(reversed(data["levels"]))
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    with pytest.raises(SpecError, match=_names(path, "highest cut-off down")):
        load_scoring(path)


def test_key_given_twice_in_one_entry(tmp_path, frameworks):
    path = tmp_path / "instrument.yaml"
    text = INSTRUMENT_2024.read_text(encoding="utf-8")
    assert text.count("    key: 1\n    points: 1.25\n") > 0
    path.write_text(text.replace("    key: 1\n    points: 1.25\n", "    key: 1\n    key: 2\n    points: 1.25\n", 1),
                    encoding="utf-8")
    with pytest.raises(SpecError, match=_names(path, "line 86", "key 'key' is given twice", "first on line 85")):
        load_instrument(path, frameworks)


def test_scoring_levels_with_equal_cut_offs(tmp_path):
    path = tmp_path / "scoring.yaml"
    data = yaml.safe_load(SCORING_2024.read_text(encoding="utf-8"))
    data["levels"][1]["min"] = data["levels"][0]["min"]
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    with pytest.raises(SpecError, match=_names(path, "share the cut-off(s) [85.0]")):
        load_scoring(path)
