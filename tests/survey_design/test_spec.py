"""design.yaml loading: the shipped spec loads; mistakes are named with the file and the key."""

from __future__ import annotations

import pytest

from pipeline.errors import SpecError
from pipeline.paths import ROOT
from pipeline.survey_design.spec import load_delivery, load_design_spec

DESIGN = ROOT / "survey_instruments" / "2024" / "design.yaml"


def test_shipped_design_loads():
    s = load_design_spec(DESIGN)
    assert s.design.stratum == "stratum" and s.design.psu == "psu" and s.design.lonely_psu == "fail"
    assert s.calibration.method == "raking" and s.calibration.margins == ("county_sex_age_urban", "county_education")
    assert s.replicates.method == "JKn" and s.primary == "replicate"
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
    ("primary: replicate ", "primary: jackknife ", "variance.primary 'jackknife' is not a variance method"),
    ("  mode: full\n", "  mode: postal\n", "delivery.mode 'postal'"),
])
def test_spec_mistakes_are_named(tmp_path, old, new, message):
    text = DESIGN.read_text(encoding="utf-8")
    assert old in text
    p = tmp_path / "design.yaml"
    p.write_text(text.replace(old, new), encoding="utf-8")
    with pytest.raises(SpecError, match=message):
        load_design_spec(p)


def test_grouped_jackknife_is_read(tmp_path):
    text = DESIGN.read_text(encoding="utf-8").replace("    replicates: 200 ", "    groups: 8\n    replicates: 200 ")
    p = tmp_path / "design.yaml"
    p.write_text(text, encoding="utf-8")
    assert load_design_spec(p).replicates.groups == 8
    assert load_design_spec(DESIGN).replicates.groups is None


@pytest.mark.parametrize("spelling,method", [("replicate", "replicate"), ("Replicates", "replicate"),
                                             ("linearisation", "taylor"), ("linearization", "taylor"),
                                             ("taylor", "taylor")])
def test_primary_spelling_is_normalised_once(tmp_path, spelling, method):
    p = tmp_path / "design.yaml"
    p.write_text(DESIGN.read_text(encoding="utf-8").replace("primary: replicate ", f"primary: {spelling} "),
                 encoding="utf-8")
    assert load_design_spec(p).primary == method


def test_delivery_comes_from_the_same_loader(tmp_path):
    text = DESIGN.read_text(encoding="utf-8").replace("  mode: full\n", "  mode: final_weight\n  recalibrate: false\n")
    p = tmp_path / "design.yaml"
    p.write_text(text, encoding="utf-8")
    spec = load_design_spec(p)
    assert spec.delivery.mode == "final_weight" and not spec.delivery.recalibrate
    assert load_delivery(p) == spec.delivery
    assert load_delivery(tmp_path / "absent.yaml").mode == "full"  # no design.yaml: a full delivery
