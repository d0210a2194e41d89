"""Item credit by hand, for every item type, and the checks on the responses table scoring reads."""

import numpy as np
import pandas as pd
import pytest

from pipeline.errors import InputError, SpecError
from pipeline.scoring.items import (
    ABSENT,
    ANSWERED,
    DONT_KNOW,
    REFUSED,
    SKIPPED,
    compile_items,
    credit,
)
from pipeline.scoring.responses import build_matrix
from tests.scoring.conftest import OPTS4, item, mask, matrix_from_rows, responses_df

TFI = item("T1", "true_false", 1, 2, "knowledge")
SGL = item("S1", "single", 3, 3, "knowledge")
AON = item("M1", "multiple", (1, 3), 2, "methods")
PAR = item("P1", "multiple", (1, 3), 2.5, "spirit", scoring="partial")


@pytest.mark.parametrize("it, code, bits", [
    (TFI, "1", 0b01), (TFI, "2", 0b10), (SGL, "3", 0b0100), (AON, "1,3", 0b0101), (AON, "3,1", 0b0101),
    (AON, "", 0), (PAR, "1,2,3,4", 0b1111),
])
def test_masks_follow_the_option_order(it, code, bits):
    # bit j = the j-th option listed in the instrument (the responses contract)
    assert mask(it, code) == bits
    assert matrix_from_rows([it], [("r1", it.id, code, "answered")])[1].chosen[0, 0] == bits


def one(it, code, reason="answered"):
    iset, m = matrix_from_rows([it], [("r1", it.id, code, reason)])
    return credit(iset, m.chosen, m.status)[0, 0]


def test_true_false_and_single():
    assert one(TFI, "1") == 1.0 and one(TFI, "2") == 0.0
    assert one(SGL, "3") == 1.0 and one(SGL, "4") == 0.0


def test_multiple_all_or_nothing():
    assert one(AON, "1,3") == 1.0
    assert one(AON, "1") == 0.0  # a subset of the key is not the key
    assert one(AON, "1,3,4") == 0.0  # nor is a superset
    assert one(AON, "") == 0.0


@pytest.mark.parametrize("code, expected", [
    # options 1–4, key {1,3}; credit = options classified correctly / 4
    ("1,3", 4 / 4),  # all four right
    ("1,2", 2 / 4),  # 1 right (key, chosen), 2 wrong (chosen), 3 wrong (key, not chosen), 4 right
    ("", 2 / 4),  # 1 wrong, 2 right, 3 wrong, 4 right
    ("1,2,3,4", 2 / 4),  # 1 right, 2 wrong, 3 right, 4 wrong
    ("1", 3 / 4),  # 1 right, 2 right, 3 wrong, 4 right
    ("2,4", 0 / 4),  # every option misclassified
])
def test_multiple_partial_credit(code, expected):
    assert one(PAR, code) == pytest.approx(expected, abs=0)
    # points: 2.5 × credit, e.g. "1,2" earns 1.25
    assert one(PAR, code) * PAR.points == pytest.approx(2.5 * expected, abs=1e-15)


def test_dont_know_scores_zero_missing_is_nan():
    assert one(SGL, None, "dont_know") == 0.0
    assert np.isnan(one(SGL, None, "refused"))
    assert np.isnan(one(SGL, None, "skipped"))
    # a refused row that still carries a code is missing all the same
    assert np.isnan(one(SGL, "3", "refused"))


def test_respondent_without_rows_is_all_missing():
    iset, m = matrix_from_rows([TFI, SGL], [("r1", "T1", "1", "answered"), ("r1", "S1", "3", "answered")],
                               ids=["r0", "r1"])
    assert m.status[0].tolist() == [ABSENT, ABSENT]
    assert np.isnan(credit(iset, m.chosen, m.status)[0]).all()


def test_status_codes():
    iset, m = matrix_from_rows([SGL], [("a", "S1", "3", "answered"), ("b", "S1", None, "dont_know"),
                                       ("c", "S1", None, "refused"), ("d", "S1", None, "skipped")])
    assert m.status[:, 0].tolist() == [ANSWERED, DONT_KNOW, REFUSED, SKIPPED]


def _table(**cells):
    df = responses_df([SGL, AON], [("r1", "S1", "3", "answered"), ("r1", "M1", "1", "answered"),
                                   ("r2", "S1", None, "refused"), ("r2", "M1", "", "answered")])
    for col, value in cells.items():
        df.loc[0, col] = value
    return df


def read(df, items=(SGL, AON), ids=("r1", "r2")):
    return build_matrix(df, compile_items(list(items)), np.array(ids, dtype=object))


def test_the_contract_reads_back():
    m = read(_table())
    assert m.chosen.tolist() == [[0b0100, 0b0001], [0, 0]]
    assert m.status.tolist() == [[ANSWERED, ANSWERED], [REFUSED, ANSWERED]]
    assert m.chosen.flags["C_CONTIGUOUS"] and m.status.flags["C_CONTIGUOUS"]
    # rows in another order than the respondents' give the same matrices
    again = read(_table().iloc[::-1])
    np.testing.assert_array_equal(again.chosen, m.chosen)
    np.testing.assert_array_equal(again.status, m.status)


@pytest.mark.parametrize("cells, match", [
    ({"chosen_S1": 1 << 5}, r"item S1, respondent r1: chosen_S1 is 32"),  # beyond the 4 options
    ({"chosen_S1": 0b0101}, r"item S1.*one option"),  # two options for a single item
    ({"chosen_S1": 0}, r"item S1.*chosen_S1 is 0"),  # answered, nothing chosen: only multiple items may
    ({"chosen_M1": 1 << 4}, r"item M1.*a mask of its 4 options"),
    ({"chosen_M1": -1}, r"item M1.*chosen_M1 is -1"),
    ({"reason_S1": 7}, r"reason_S1 is 7 for respondent r1"),
])
def test_values_outside_the_contract_are_refused(cells, match):
    with pytest.raises(InputError, match=match):
        read(_table(**cells))


def test_a_code_on_an_unanswered_item_is_refused():
    df = _table()
    df.loc[1, "chosen_S1"] = 0b0100  # r2 refused S1 yet carries an answer
    with pytest.raises(InputError, match=r"item S1, respondent r2: chosen_S1 is 4 with reason_S1 refused"):
        read(df)


def test_bad_tables_are_refused():
    with pytest.raises(InputError, match=r"\['ZZ9'\] are not in the instrument"):
        read(_table().assign(chosen_ZZ9=np.int32(0), reason_ZZ9=np.int8(0)))
    with pytest.raises(InputError, match=r"item\(s\) \['T1'\].*no chosen_/reason_ columns"):
        read(_table(), items=(SGL, AON, TFI))
    with pytest.raises(InputError, match="r1 has more than one row"):
        read(pd.concat([_table(), _table().iloc[:1]]))
    with pytest.raises(InputError, match=r"\['r2'\] \(1 in all\) are not in respondents"):
        read(_table(), ids=("r1",))
    with pytest.raises(InputError, match="whole numbers without missing values"):
        read(_table().astype({"chosen_S1": float}).assign(chosen_S1=lambda d: d["chosen_S1"].where(d.index > 0)))
    with pytest.raises(InputError, match="respondent_id is missing at row 0"):
        read(_table().assign(respondent_id=[None, "r2"]))
    with pytest.raises(InputError, match="repeats ids"):
        read(_table(), ids=("r1", "r1"))


def test_compile_rejects_bad_spec():
    with pytest.raises(SpecError, match="repeat"):
        compile_items([SGL, SGL])
    bad = item("X", "single", 9, 1, "knowledge", options=OPTS4)
    with pytest.raises(SpecError, match="key"):
        compile_items([bad])
