"""The weighting steps of the delivery modes on hand-worked numbers."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from pipeline.errors import InputError, SpecError
from pipeline.simulate.variants import response_counts
from pipeline.survey_design import load_delivery
from pipeline.weighting.modes import count_adjustment, delivered_base, respondent_psus


def test_count_table_factor_by_hand():
    # class A: 10 eligible, 4 respondents -> 2.5; class B: 6 eligible, 3 respondents -> 2.0
    resp = pd.DataFrame({"county_code": ["A"] * 4 + ["B"] * 3, "urban": ["城镇"] * 7})
    counts = pd.DataFrame({"county_code": ["A", "B", "C"], "urban": ["城镇"] * 3,
                           "completed": [5.0, 3.0, 2.0], "eligible": [10.0, 6.0, 4.0]})
    f, table = count_adjustment(resp, counts, ("county_code", "urban"), "t.csv")
    assert f.tolist() == [2.5] * 4 + [2.0] * 3
    assert np.isnan(table.loc["C|城镇", "factor"])  # a class without respondents adjusts nobody
    with pytest.raises(InputError, match="no row for class"):
        count_adjustment(resp.assign(county_code="D"), counts, ("county_code", "urban"), "t.csv")
    with pytest.raises(InputError, match="eligible"):
        count_adjustment(resp, counts.assign(eligible=[2.0, 6.0, 4.0]), ("county_code", "urban"), "t.csv")


def test_company_count_table_by_hand():
    # 1.1 ×2, 2.10 ×1 (resolved eligible 3), 4.10 ×1 (not eligible), 3.10 ×2 (unknown):
    # e = 3 / (3 + 1) = 0.75, eligible = 3 + 0.75·2 = 4.5, completed = 2
    c = pd.DataFrame({"county_code": ["A"] * 6, "urban": ["城镇"] * 6,
                      "disposition": ["1.1", "1.1", "2.10", "4.10", "3.10", "3.10"]})
    t = response_counts(c)
    assert t[["completed", "eligible"]].iloc[0].tolist() == [2.0, 4.5]


def test_delivered_weights_and_psus():
    from pipeline.instruments.delivery import Delivery

    r = pd.DataFrame({"respondent_id": ["a", "b"], "w_delivered": [120.0, 0.0], "stratum": ["S1", "S1"],
                      "psu": ["T1", "T2"]})
    with pytest.raises(InputError, match="not positive"):
        delivered_base(r, Delivery("final_weight"))
    assert delivered_base(r.iloc[:1], Delivery("final_weight")).tolist() == [120.0]
    codes, strata, labels = respondent_psus(r, "stratum", "psu")
    assert codes.tolist() == [0, 1] and strata.tolist() == ["S1", "S1"] and labels.tolist() == ["S1|T1", "S1|T2"]


@pytest.mark.parametrize("block, words", [
    ("delivery: {mode: partial}", "mode"),
    ("delivery: {mode: full, response_table: x.csv}", "response_table"),
    ("delivery: {interview_times: maybe}", "interview_times"),
    ("delivery: {mode: full, weights: x}", "unknown"),
])
def test_delivery_spec_errors(tmp_path, block, words):
    p = tmp_path / "design.yaml"
    p.write_text(f"schema_version: 1\n{block}\n", encoding="utf-8")
    with pytest.raises(SpecError, match=words):
        load_delivery(p)
