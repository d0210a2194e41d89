"""The whole chain (base weights → non-response adjustment → raking) for the full sample and every
JKn replicate against an independent R computation (make_golden_chain.R, R survey's JKn factors and
rake() on an svrepdesign)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from pipeline.survey_design.spec import load_design_spec
from pipeline.weighting.run import weight_wave
from tests.weighting.conftest import GOLDEN

CHAIN = GOLDEN / "chain"
IDS = {"respondent_id": str, "household_id": str, "county_code": str, "stratum": str, "psu": str, "ssu": str,
       "disposition": str}

DESIGN = """
schema_version: 1
design: {stratum: stratum, psu: psu, ssu: ssu, fpc: null, lonely_psu: fail}
weighting:
  frame_check: county_sex_age
  nonresponse: {classes: [county_code, urban]}
  controls:
    county_sex_age: {file: county_sex_age.csv, by: [county_code, sex, age_band]}
    county_education: {file: county_education.csv, by: [county_code, education]}
  calibration: {method: raking, margins: [county_sex_age, county_education], tolerance: 1.0e-13, max_iter: 1000}
variance:
  primary: replicate
  replicates: {method: JKn, seed: 1}
"""


def test_full_chain_matches_r(tmp_path):
    (tmp_path / "design.yaml").write_text(DESIGN, encoding="utf-8")
    spec = load_design_spec(tmp_path / "design.yaml")
    resp = pd.read_csv(CHAIN / "respondents.csv", dtype=IDS)
    cont = pd.read_csv(CHAIN / "contacts.csv", dtype=IDS)
    cont["respondent_id"] = cont["respondent_id"].astype("string")
    controls = {n: pd.read_csv(CHAIN / f"{n}.csv", dtype={"county_code": str}) for n in ("county_sex_age", "county_education")}
    out = weight_wave(resp, cont, controls, spec).replicate_frame()
    gold = pd.read_csv(CHAIN / "chain_weights.csv", dtype={"respondent_id": str, "psu": str}, skipinitialspace=True)
    m = out.merge(gold, on="respondent_id", suffixes=("", "_r"))
    assert len(m) == len(resp) == len(gold)
    for col in ("w_base", "w_nr"):
        np.testing.assert_allclose(m[col], m[f"{col}_r"], rtol=1e-12)
    np.testing.assert_allclose(m["w_cal"], m["w_cal_r"], rtol=1e-8)
    ours = m[[c for c in out if c.startswith("w_rep_")]].to_numpy()
    theirs = m[[c for c in gold if c[0] == "r" and c[1:].isdigit()]].to_numpy()
    assert ours.shape == theirs.shape == (len(resp), 16)
    # match replicates by the PSU each one deletes
    psu_of = lambda W: [m.loc[W[:, j] == 0, "psu"].unique().tolist() for j in range(W.shape[1])]  # noqa: E731
    ours_by = {tuple(p): j for j, p in enumerate(psu_of(ours))}
    order = [ours_by[tuple(p)] for p in psu_of(theirs)]
    mapped = ours[:, order]
    assert ((mapped == 0) == (theirs == 0)).all()
    nz = theirs > 0
    assert np.max(np.abs(mapped[nz] - theirs[nz]) / theirs[nz]) < 1e-8
