"""The synthetic wave of the tests and benchmarks (pipeline/simulate/synthetic.py): its weighting view
reproduces the committed inputs of the R chain golden, its views describe the same persons, and a seed
fixes everything."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from pipeline.errors import PipelineError
from pipeline.instruments import load_instrument
from pipeline.paths import ROOT
from pipeline.schemas import RESPONDENTS
from pipeline.scoring.items import compile_items
from pipeline.simulate.answers import simulate
from pipeline.simulate.synthetic import (
    base_weights,
    draw_wave,
    estimation_tables,
    levels,
    scoring_respondents,
    weighting_tables,
)
from pipeline.vocabulary import counties

CHAIN = ROOT / "tests" / "data" / "golden" / "weighting" / "chain"
IDS = {"respondent_id": str, "household_id": str, "county_code": str, "stratum": str, "psu": str, "ssu": str,
       "disposition": str}
CHAIN_WAVE = dict(seed=3, counties=["350502", "350521", "350582", "QZTS"], psu_per_county=4, ssu_per_psu=3,
                  hh_per_ssu=30)


@pytest.fixture(scope="module")
def small():
    return draw_wave(seed=9, counties=counties().codes[:5], psu_per_county=4, hh_per_ssu=12)


def test_weighting_view_reproduces_the_chain_golden_inputs():
    """tests/data/golden/weighting/chain was written from the first version of this draw; the same
    arguments give the same households, persons, outcomes and controls, to the last digit."""
    t = weighting_tables(draw_wave(**CHAIN_WAVE))
    gold_r = pd.read_csv(CHAIN / "respondents.csv", dtype=IDS)
    ours = t["respondents"][list(gold_r.columns)].astype({c: object for c in IDS if c in gold_r})
    pd.testing.assert_frame_equal(ours, gold_r.astype({c: object for c in IDS if c in gold_r}), check_dtype=False,
                                  check_exact=True)
    gold_c = pd.read_csv(CHAIN / "contacts.csv", dtype=IDS, keep_default_na=False)
    ours_c = t["contacts"].assign(respondent_id=t["contacts"]["respondent_id"].fillna(""))
    pd.testing.assert_frame_equal(ours_c.astype({c: object for c in IDS}), gold_c.astype({c: object for c in IDS}),
                                  check_dtype=False, check_exact=True)
    # the R script's county × sex × age control is the first control summed over urban/rural
    csa = t["county_sex_age_urban"].groupby(["county_code", "sex", "age_band"], as_index=False)["population"].sum()
    gold_csa = pd.read_csv(CHAIN / "county_sex_age.csv", dtype={"county_code": str})
    pd.testing.assert_frame_equal(csa.astype({"county_code": object}), gold_csa.astype({"county_code": object}),
                                  check_dtype=False, check_exact=True)
    gold_ce = pd.read_csv(CHAIN / "county_education.csv", dtype={"county_code": str})
    np.testing.assert_allclose(t["county_education"]["population"], gold_ce["population"], rtol=1e-15)
    assert list(t["county_education"]["education"]) == list(gold_ce["education"])


def test_views_describe_the_same_respondents(small):
    t = weighting_tables(small)
    e = estimation_tables(small)
    ids = list(t["respondents"]["respondent_id"])
    assert len(ids) == small.n_respondents == len(set(ids)) > 0
    assert list(e.respondents["respondent_id"]) == ids
    assert list(e.scores["respondent_id"]) == ids == list(e.weights["respondent_id"])
    pd.testing.assert_frame_equal(e.respondents, t["respondents"])
    contacts = t["contacts"]
    assert sorted(contacts["respondent_id"].dropna()) == sorted(ids)
    assert set(contacts.loc[contacts["respondent_id"].notna(), "disposition"]) == {"1.1"}
    assert list(t["respondents"].columns) == list(RESPONDENTS.names)


def test_words_come_from_the_county_units_and_the_instrument(small):
    r = weighting_tables(small)["respondents"]
    units = counties()
    assert set(r["county_code"]) == set(units.codes[:5])
    assert (r["county"] == r["county_code"].map(units.name_of)).all()
    inst = load_instrument(ROOT / "survey_instruments" / "2024" / "instrument.yaml")
    for field in ("sex", "urban", "occupation", "hukou"):
        assert set(r[field]) <= set(inst.demographic(field).label_of().values()), field
    assert set(r["education"]) <= {band for band, _ in inst.demographic("education").derive}
    # key groups by the instrument's rules: farmers are occupation code 6, the elderly are aged 60–69
    farmer = inst.demographic("occupation").label_of()[6]
    assert (r["is_farmer"] == (r["occupation"] == farmer)).all() and r["is_farmer"].any()
    assert (r["is_elderly"] == r["age"].between(60, 69)).all()
    band_of = dict(zip(levels().age_bands, [(18, 29), (30, 39), (40, 49), (50, 59), (60, 69)], strict=True))
    lo, hi = np.array([band_of[b] for b in r["age_band"]]).T
    assert ((r["age"] >= lo) & (r["age"] <= hi)).all()


def test_controls_cover_every_cell_and_share_the_county_totals(small):
    t = weighting_tables(small)
    c1, c2 = t["county_sex_age_urban"], t["county_education"]
    lv = levels()
    assert len(c1) == 5 * len(lv.sexes) * len(lv.age_bands) * len(lv.urban) and len(c2) == 5 * len(lv.education)
    assert (c1["population"] == c1["population"].round()).all()
    by1 = c1.groupby("county_code")["population"].sum()
    by2 = c2.groupby("county_code")["population"].sum()
    np.testing.assert_allclose(by2.loc[by1.index], by1, rtol=1e-12)
    # within 5% noise of the base-weighted eligible persons of the sample
    elig = np.where(small.eligible, base_weights(small), 0.0).sum()
    assert abs(by1.sum() / elig - 1) < 0.05


def test_jkn_replicates_delete_one_psu_within_its_county(small):
    e = estimation_tables(small)
    w = e.weights
    n_h = w.groupby("stratum")["psu"].nunique()
    assert len(e.replicate_columns) == w["psu"].nunique() == len(e.rscales)
    for j, col in enumerate(e.replicate_columns):
        gone = w.loc[w[col] == 0, "psu"].unique()
        assert len(gone) == 1
        h = w.loc[w["psu"] == gone[0], "stratum"].iloc[0]
        f = w[col] / w["w_final"]
        inside = (w["stratum"] == h) & (w["psu"] != gone[0])
        # 4 PSUs in the county: the 3 kept are weighted up by 4/3, rscale (4 − 1)/4
        assert n_h[h] == 4 and e.rscales[j] == pytest.approx(0.75, abs=1e-15)
        np.testing.assert_allclose(f[inside], 4 / 3, rtol=1e-14)
        np.testing.assert_allclose(f[w["stratum"] != h], 1.0, rtol=1e-14)


def test_scores_follow_the_scoring_rule(small):
    sc = estimation_tables(small).scores
    ok = sc["scored"]
    assert sc.loc[~ok, ["total", "level"]].isna().all().all() and sc.loc[~ok, "literate"].isna().all()
    assert (sc.loc[ok, "literate"] == (sc.loc[ok, "total"] >= 70)).all()
    assert (sc.loc[ok & (sc["total"] >= 85), "level"] == "高阶").all()
    np.testing.assert_allclose(sc.loc[ok, ["knowledge", "methods", "spirit", "ability"]].sum(axis=1),
                               sc.loc[ok, "total"], rtol=1e-12)


def test_a_seed_fixes_the_wave():
    a = weighting_tables(draw_wave(seed=4, counties=counties().codes[:3], psu_per_county=2, hh_per_ssu=8))
    b = weighting_tables(draw_wave(seed=4, counties=counties().codes[:3], psu_per_county=2, hh_per_ssu=8))
    c = weighting_tables(draw_wave(seed=5, counties=counties().codes[:3], psu_per_county=2, hh_per_ssu=8))
    for name in a:
        pd.testing.assert_frame_equal(a[name], b[name], check_exact=True)
    assert not a["contacts"]["disposition"].equals(c["contacts"]["disposition"])


def test_scoring_respondents_are_n_completes_from_every_county():
    r = scoring_respondents(300, seed=2)
    assert len(r) == 300 and r["respondent_id"].is_unique
    units = counties()
    assert set(r["county_code"]) == set(units.codes)
    iset = compile_items(load_instrument(ROOT / "survey_instruments" / "2024" / "instrument.yaml").items)
    named = simulate(iset, 300, 5, respondent_ids=r["respondent_id"].to_numpy(object))
    plain = simulate(iset, 300, 5)
    assert list(named.respondent_ids) == list(r["respondent_id"])
    np.testing.assert_array_equal(named.chosen, plain.chosen)  # naming the respondents changes no draw
    np.testing.assert_array_equal(named.status, plain.status)


def test_an_unknown_county_is_refused():
    with pytest.raises(PipelineError, match="not county-level units"):
        draw_wave(counties=["350599"])
