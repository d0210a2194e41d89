"""The demo generator: determinism, realism of the population truth, the delivery's shape and labels."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pyreadstat
import pytest

from pipeline.errors import PipelineError
from pipeline.simulate import run_simulate
from pipeline.simulate.sample import pps_probabilities
from tests.conftest import make_project


def test_same_seed_gives_byte_identical_files(tmp_path):
    root = make_project(tmp_path)
    a, b = tmp_path / "a", tmp_path / "b"
    # a small population (5%) keeps this fast; the code path is the full one
    run_simulate(2024, a, seed=7, per_stratum=40, scale=0.05, root=root)
    run_simulate(2024, b, seed=7, per_stratum=40, scale=0.05, root=root)
    for name in ("survey.sav", "contacts.csv", "frame.csv", "controls/county_education.csv",
                 "controls/county_sex_age_urban.csv", "truth.json", "faults.json", "SHA256SUMS"):
        assert (a / name).read_bytes() == (b / name).read_bytes(), name
    c = tmp_path / "c"
    run_simulate(2024, c, seed=8, per_stratum=40, scale=0.05, root=root)
    assert (a / "survey.sav").read_bytes() != (c / "survey.sav").read_bytes()


def test_never_overwrites_real_data(tmp_path):
    root = make_project(tmp_path)
    out = tmp_path / "real"
    out.mkdir()
    (out / "survey.sav").write_bytes(b"$FL2 real delivery")
    with pytest.raises(PipelineError, match="real delivery"):
        run_simulate(2024, out, per_stratum=40, root=root)
    assert (out / "survey.sav").read_bytes() == b"$FL2 real delivery"


def test_truth_is_realistic(demo_raw):
    truth = json.loads((demo_raw.raw / "truth.json").read_text(encoding="utf-8"))
    assert 0.15 <= truth["overall"]["literate"] <= 0.17  # the verdict against 16% is a real question
    lit = truth["literate"]
    # gradients in the direction of the national 2023 breakdowns (DOMAIN.md §2)
    assert lit["sex"]["男"] > lit["sex"]["女"]
    assert lit["urban"]["城镇"] > 1.5 * lit["urban"]["乡村"]
    ages = [lit["age_band"][b] for b in ("18-29", "30-39", "40-49", "50-59", "60-69")]
    assert all(x > y for x, y in zip(ages, ages[1:])) and ages[0] > 5 * ages[-1]
    edu = [lit["education"][b] for b in ("本科及以上", "大专", "高中/中专", "初中", "小学及以下")]
    assert all(x > y for x, y in zip(edu, edu[1:])) and edu[0] > 0.35
    g = lit["group"]
    assert g["领导干部和公务员"] > g["产业工人"] > g["农民"]
    assert len(lit["county"]) == 13
    classes = [truth["overall"][k] for k in ("class_advanced", "class_literate", "class_basic", "class_low")]
    assert abs(sum(classes) - 1) < 1e-9
    assert abs(classes[0] + classes[1] - truth["overall"]["literate"]) < 1e-9


def test_clustering_gives_design_effect_above_one(demo_raw):
    """Township and village effects make answers cluster: the design effect of the mean share correct
    (ultimate-cluster variance over the SRS variance with the same n) is clearly above 1."""
    df, _ = pyreadstat.read_sav(str(demo_raw.raw / "survey.sav"), user_missing=True)
    items = [c for c in df.columns if c.startswith("Q") and "_" not in c]
    share = (df[items].isin([1.0, 2.0, 3.0, 4.0]) & (df[items] < 97)).mean(axis=1)  # any answer given
    y = share.to_numpy()
    psu = df["S2"].to_numpy()
    stratum = df["S1"].to_numpy()
    n = y.size
    # with-replacement ultimate-cluster variance of the mean (equal weights), summed over strata
    d = pd.DataFrame({"y": y - y.mean(), "psu": psu, "h": stratum})
    tot = d.groupby(["h", "psu"])["y"].sum().reset_index()
    var = 0.0
    for _, g in tot.groupby("h"):
        m = len(g)
        if m > 1:
            var += m / (m - 1) * ((g["y"] - g["y"].mean()) ** 2).sum()
    var /= n**2
    srs = y.var(ddof=1) / n
    assert var / srs > 1.5


def test_delivery_reads_back_with_chinese_labels(demo_raw):
    df, meta = pyreadstat.read_sav(str(demo_raw.raw / "survey.sav"), user_missing=True)
    labels = dict(zip(meta.column_names, meta.column_labels))
    assert labels["A1"] == "性别"
    assert meta.variable_value_labels["A1"] == {1.0: "男", 2.0: "女"}
    assert meta.variable_value_labels["S1"][1.0] == "鲤城区"
    assert meta.variable_value_labels["Q01"][97.0] == "不知道"
    assert "地球" in labels["Q01"]
    # identifiers are there, as in a real delivery: the pipeline must remove them
    assert {"XM", "SJHM", "SFZH", "ZZ", "GPS"} <= set(df.columns)
    assert df["SFZH"].str.fullmatch(r"\d{17}[\dX]").all()
    # every selection probability recorded and valid
    for col in ("RYGL_XZ", "RYGL_CJ", "RYGL_HH"):
        assert ((df[col] > 0) & (df[col] <= 1)).all()
    per_county = df[df["S1"] <= 13].groupby("S1").size()  # two planted rows carry an unknown code
    assert per_county.between(200, 400).all()  # 300 targeted per unit in this fixture


def test_contacts_and_controls(demo_raw):
    c = pd.read_csv(demo_raw.raw / "contacts.csv", dtype=str, encoding="utf-8-sig")
    assert set(c["disposition"]) <= {"1.1", "2.11", "2.12", "2.20", "3.10", "4.50"}
    rr = (c["disposition"] == "1.1").sum() / c["disposition"].isin(["1.1", "2.11", "2.12", "2.20"]).sum()
    assert 0.6 < rr < 0.8
    ctrl = pd.read_csv(demo_raw.raw / "controls" / "county_sex_age_urban.csv", encoding="utf-8-sig")
    edu = pd.read_csv(demo_raw.raw / "controls" / "county_education.csv", encoding="utf-8-sig")
    assert ctrl["population"].sum() == edu["population"].sum()
    assert 5.5e6 < ctrl["population"].sum() < 7e6  # 18–69 share of 8.8 million residents


def test_pps_probabilities_take_large_units_with_certainty():
    # sizes 50, 30, 10, 10 with n = 2: π = 2·50/100 = 1 → certainty; the other 50 share 1 draw:
    # π = 1·30/50 = 0.6, 10/50 = 0.2, 0.2
    p = pps_probabilities(np.array([50, 30, 10, 10]), 2)
    assert np.allclose(p, [1.0, 0.6, 0.2, 0.2])
    assert np.isclose(p.sum(), 2)


def test_planted_faults_are_recorded(demo_raw):
    faults = json.loads((demo_raw.raw / "faults.json").read_text(encoding="utf-8"))
    kinds = pd.Series([f["fault"] for f in faults]).value_counts()
    assert kinds["duplicate_conflict"] == 6 and kinds["duplicate_identical"] == 2
    assert len({f["source_row"] for f in faults}) == len(faults)
