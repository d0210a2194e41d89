"""Item credit by hand, for every item type, and the parsing of response codes."""

import numpy as np
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
    parse_code,
)
from tests.scoring.conftest import OPTS4, item, matrix_from_rows

TFI = item("T1", "true_false", 1, 2, "knowledge")
SGL = item("S1", "single", 3, 3, "knowledge")
AON = item("M1", "multiple", (1, 3), 2, "methods")
PAR = item("P1", "multiple", (1, 3), 2.5, "spirit", scoring="partial")


@pytest.mark.parametrize("it, code, mask", [
    (TFI, "1", 0b01), (TFI, "2", 0b10), (SGL, "3", 0b0100), (AON, "1,3", 0b0101), (AON, "3,1", 0b0101),
    (AON, "", 0), (PAR, "1,2,3,4", 0b1111),
])
def test_parse_valid(it, code, mask):
    assert parse_code(it, code) == mask


@pytest.mark.parametrize("it, code", [
    (TFI, "3"), (TFI, ""), (SGL, "1,3"), (SGL, "03"), (SGL, "3.0"), (SGL, "x"), (AON, "1,1"), (AON, "1,5"),
    (AON, "1;3"),
])
def test_parse_invalid(it, code):
    assert parse_code(it, code) is None


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


def test_absent_row_is_missing():
    iset, m = matrix_from_rows([TFI, SGL], [("r1", "T1", "1", "answered"), ("r2", "T1", "2", "answered"),
                                            ("r2", "S1", "3", "answered")])
    assert m.status[0, 1] == ABSENT
    c = credit(iset, m.chosen, m.status)
    assert np.isnan(c[0, 1]) and c[1, 1] == 1.0


def test_respondent_without_rows_is_all_missing():
    iset, m = matrix_from_rows([TFI, SGL], [("r1", "T1", "1", "answered"), ("r1", "S1", "3", "answered")],
                               ids=["r0", "r1"])
    assert m.status[0].tolist() == [ABSENT, ABSENT]
    assert np.isnan(credit(iset, m.chosen, m.status)[0]).all()


def test_status_codes():
    iset, m = matrix_from_rows([SGL], [("a", "S1", "3", "answered"), ("b", "S1", None, "dont_know"),
                                       ("c", "S1", None, "refused"), ("d", "S1", None, "skipped")])
    assert m.status[:, 0].tolist() == [ANSWERED, DONT_KNOW, REFUSED, SKIPPED]


def test_invalid_answer_names_item_and_value():
    with pytest.raises(InputError, match=r"item S1.*'7'"):
        matrix_from_rows([SGL], [("r1", "S1", "7", "answered")])
    with pytest.raises(InputError, match=r"item S1.*None"):
        matrix_from_rows([SGL], [("r1", "S1", None, "answered")])


def test_bad_rows_are_refused():
    with pytest.raises(InputError, match="not in the instrument"):
        matrix_from_rows([SGL], [("r1", "ZZ9", "1", "answered")])
    with pytest.raises(InputError, match="missing_reason"):
        matrix_from_rows([SGL], [("r1", "S1", "1", "maybe")])
    with pytest.raises(InputError, match="2 rows for item S1"):
        matrix_from_rows([SGL], [("r1", "S1", "1", "answered"), ("r1", "S1", "3", "answered")])
    with pytest.raises(InputError, match="not in respondents"):
        matrix_from_rows([SGL], [("r1", "S1", "1", "answered")], ids=["r2"])
    with pytest.raises(InputError, match="have no rows"):
        matrix_from_rows([SGL, TFI], [("r1", "S1", "1", "answered")])


def test_compile_rejects_bad_spec():
    with pytest.raises(SpecError, match="repeat"):
        compile_items([SGL, SGL])
    bad = item("X", "single", 9, 1, "knowledge", options=OPTS4)
    with pytest.raises(SpecError, match="key"):
        compile_items([bad])
