"""AAPOR rates and the weighting-class adjustment on a hand-worked example."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from pipeline.errors import InputError, PipelineError
from pipeline.weighting.nonresponse import nonresponse_adjustment, response_rates


def _contacts() -> pd.DataFrame:
    # County A: 6 completes (one quarantined by ingest, so no respondent_id), 2 refusals, 1 break-off,
    # 3 non-contacts, 2 unknown eligibility, 2 not eligible. County B: 3 completes, 1 non-contact,
    # 1 not eligible.
    disp_a = ["1.1"] * 6 + ["2.11"] * 2 + ["2.12"] + ["2.20"] * 3 + ["3.10"] * 2 + ["4.50"] * 2
    disp_b = ["1.1"] * 3 + ["2.20"] + ["4.50"]
    rid_a = [f"A{i}" for i in range(5)] + [None] + [None] * 10
    rid_b = ["B0", "B1", "B2", None, None]
    # household base weights: A: 10, except unknowns 20 and not-eligible 5; B: 4
    w_a = [10.0] * 12 + [20.0] * 2 + [5.0] * 2
    w_b = [4.0] * 5
    return pd.DataFrame({
        "household_id": [f"h{i:02d}" for i in range(21)],
        "county_code": ["A"] * 16 + ["B"] * 5,
        "urban": "城镇",
        "disposition": disp_a + disp_b,
        "respondent_id": pd.array(rid_a + rid_b, dtype="string"),
        "w": w_a + w_b,
    })


def test_aapor_rates_hand_worked():
    r = response_rates(_contacts())
    # A: I=5 (the quarantined complete counts as other, O=1), R=3, NC=3, U=2, NE=2.
    #    resolved eligible = 5+3+3+1 = 12, e = 12/14 = 6/7
    #    RR1 = 5/(12+2) = 5/14; RR3 = 5/(12 + 2*6/7) = 35/96; COOP1 = 5/(5+3+1) = 5/9
    assert r.loc["A", ["I", "R", "NC", "O", "U", "NE"]].tolist() == [5, 3, 3, 1, 2, 2]
    assert r.loc["A", "rr1"] == pytest.approx(5 / 14, rel=1e-12)
    assert r.loc["A", "rr3"] == pytest.approx(35 / 96, rel=1e-12)
    assert r.loc["A", "coop1"] == pytest.approx(5 / 9, rel=1e-12)
    # B: I=3, NC=1, NE=1: RR1 = RR3 = 3/4, COOP1 = 3/3
    assert r.loc["B", "rr1"] == pytest.approx(0.75) and r.loc["B", "rr3"] == pytest.approx(0.75)
    assert r.loc["B", "coop1"] == pytest.approx(1.0)
    # City: I=8, R=3, NC=4, O=1, U=2, NE=3: e = 16/19, RR1 = 8/18, RR3 = 8/(16 + 32/19) = 19/42, COOP1 = 8/12
    assert r.loc["全市", "rr1"] == pytest.approx(8 / 18, rel=1e-12)
    assert r.loc["全市", "rr3"] == pytest.approx(19 / 42, rel=1e-12)
    assert r.loc["全市", "coop1"] == pytest.approx(2 / 3, rel=1e-12)


def test_nonresponse_adjustment_hand_worked():
    c = _contacts()
    resp_ids = pd.Series(["A0", "A3", "B2"])
    H = np.column_stack([c["w"], 3 * c["w"]])  # a second column scaled by 3 must give the same factors
    adj = nonresponse_adjustment(c, H, ("county_code",), resp_ids)
    # A: RESP = 5*10 = 50, ENR = 7*10 = 70 (1 quarantined + 3 refusals/break-off + 3 non-contacts),
    #    UNK = 2*20 = 40, NE = 2*5 = 10. e = 120/130 = 12/13; factor = (120 + 40*12/13)/50 = 204/65
    # B: RESP = 3*4 = 12, ENR = 4, NE = 4, UNK = 0: factor = 16/12 = 4/3
    assert adj.class_labels == ("A", "B")
    np.testing.assert_allclose(adj.factors[:, 0], [204 / 65, 4 / 3], rtol=1e-13)
    np.testing.assert_allclose(adj.factors[:, 1], adj.factors[:, 0], rtol=1e-13)
    np.testing.assert_allclose(adj.eligibility[:, 0], [12 / 13, 16 / 20], rtol=1e-13)
    assert adj.resp_class.tolist() == [0, 0, 1]


def test_bad_disposition_is_named():
    c = _contacts()
    c.loc[3, "disposition"] = "9.99"
    with pytest.raises(InputError, match="disposition.*9.99"):
        response_rates(c)


def test_class_without_respondents_is_refused():
    c = _contacts()
    c.loc[c["county_code"] == "B", "respondent_id"] = pd.NA
    with pytest.raises(PipelineError, match=r"classes \['B'\].*no respondent"):
        nonresponse_adjustment(c, c["w"].to_numpy(), ("county_code",), pd.Series(["A0"]))


def test_respondent_without_household_is_refused():
    c = _contacts()
    with pytest.raises(InputError, match="no household in contacts.parquet.*ZZ"):
        nonresponse_adjustment(c, c["w"].to_numpy(), ("county_code",), pd.Series(["A0", "ZZ"]))
