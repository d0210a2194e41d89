"""design.yaml loading: the shipped spec loads; mistakes are named with the file and the key."""

from __future__ import annotations

import pytest

from pipeline.errors import SpecError
from pipeline.paths import ROOT
from pipeline.weighting.spec import load_weighting_spec

DESIGN = ROOT / "survey_instruments" / "2024" / "design.yaml"


def test_shipped_design_loads():
    s = load_weighting_spec(DESIGN)
    assert s.design.stratum == "stratum" and s.design.psu == "psu" and s.design.lonely_psu == "fail"
    assert s.calibration.method == "raking" and s.calibration.margins == ("county_sex_age_urban", "county_education")
    assert s.replicates.method == "JKn" and s.variance_primary == "replicate"
    assert s.trimming.upper == 5.0 and s.trimming.lower == 0.2


@pytest.mark.parametrize("old,new,message", [
    ("lonely_psu: fail", "lonely_psu: sometimes", "lonely_psu = 'sometimes'"),
    ("method: JKn ", "method: BRR ", "replicates.method = 'BRR'"),
    ("margins: [county_sex_age_urban, county_education]", "margins: [county_sex_age_urban, county_income]",
     r"margins \['county_income'\] are not in weighting.controls"),
    ("bounds: null", "bounds: [1.2, 3]", "0 <= lower < 1 < upper"),
    ("    seed: 20240917\n", "", "variance.replicates.seed` is missing"),
    ("schema_version: 1", "schema_version: 2", "schema_version: 1"),
    ("    replicates: 200 ", "    groups: 1\n    replicates: 200 ", "replicates.groups = 1"),
    ("    replicates: 200 ", "    groups: eight\n    replicates: 200 ", "replicates.groups = 'eight'"),
    ("method: JKn ", "method: bootstrap\n    groups: 8\n   ", "only with method JKn"),
])
def test_spec_mistakes_are_named(tmp_path, old, new, message):
    text = DESIGN.read_text(encoding="utf-8")
    assert old in text
    p = tmp_path / "design.yaml"
    p.write_text(text.replace(old, new), encoding="utf-8")
    with pytest.raises(SpecError, match=message):
        load_weighting_spec(p)


def test_grouped_jackknife_is_read(tmp_path):
    text = DESIGN.read_text(encoding="utf-8").replace("    replicates: 200 ", "    groups: 8\n    replicates: 200 ")
    p = tmp_path / "design.yaml"
    p.write_text(text, encoding="utf-8")
    assert load_weighting_spec(p).replicates.groups == 8
    assert load_weighting_spec(DESIGN).replicates.groups is None
