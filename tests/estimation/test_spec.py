"""Spec loading: the committed estimands.yaml and clear errors (design.yaml: tests/survey_design)."""

import pytest

from pipeline.errors import SpecError
from pipeline.estimation.spec import load_estimands
from pipeline.paths import ROOT


def test_committed_estimands():
    s = load_estimands(ROOT / "survey_instruments" / "2024" / "estimands.yaml")
    ids = [e.id for e in s.estimands]
    assert ids[:10] == ["literate", "class_advanced", "class_literate", "class_basic", "class_low", "score_total",
                        "score_knowledge", "score_methods", "score_spirit", "score_ability"]
    assert ids[10:] == [f"bench_{i:02d}" for i in range(1, 27)]
    assert s.target.value == 0.16 and s.target.estimand == "literate"
    assert s.ci_method == "logit" and s.variance_methods == ("replicate", "taylor")
    assert [d.name for d in s.domains] == ["overall", "county", "sex", "age_band", "education", "urban", "group",
                                           "county_group", "county_urban"]


def test_primary_method_is_not_named_in_estimands(tmp_path):
    """One place names the primary variance method (design.yaml); estimands.yaml only lists methods."""
    src = (ROOT / "survey_instruments" / "2024" / "estimands.yaml").read_text(encoding="utf-8")
    p = tmp_path / "estimands.yaml"
    p.write_text(src.replace("  methods: [replicate, taylor]", "  methods: [replicates, linearisation]"),
                 encoding="utf-8")
    assert load_estimands(p).variance_methods == ("replicate", "taylor")
    p.write_text(src.replace("  methods: [replicate, taylor]", "  methods: [replicate, taylor]\n  primary: taylor"),
                 encoding="utf-8")
    with pytest.raises(SpecError, match="variance.primary belongs in design.yaml"):
        load_estimands(p)
    p.write_text(src.replace("  methods: [replicate, taylor]", "  methods: [replicate, bootstrapped]"),
                 encoding="utf-8")
    with pytest.raises(SpecError, match="'bootstrapped' is not a variance method"):
        load_estimands(p)


def test_estimands_errors(tmp_path):
    src = (ROOT / "survey_instruments" / "2024" / "estimands.yaml").read_text(encoding="utf-8")
    p = tmp_path / "estimands.yaml"
    p.write_text(src.replace("id: class_low,", "id: literate,"), encoding="utf-8")
    with pytest.raises(SpecError, match=r"estimand ids \['literate'\] appear more than once"):
        load_estimands(p)
    p.write_text(src.replace("statistic: mean, variable: total", "statistic: median, variable: total"), encoding="utf-8")
    with pytest.raises(SpecError, match="statistic 'median'"):
        load_estimands(p)
    p.write_text(src.replace("proportion: logit ", "proportion: exact "), encoding="utf-8")
    with pytest.raises(SpecError, match="ci.proportion 'exact'"):
        load_estimands(p)
