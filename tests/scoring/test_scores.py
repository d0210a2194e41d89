"""Respondent scores, both literacy rules and the classes, worked by hand."""

import numpy as np
import pytest

from pipeline.errors import SpecError
from pipeline.instruments import load_frameworks
from pipeline.schemas import ITEM_SCORES, SCORES, validate
from pipeline.scoring.items import answer_codes, compile_items, credit
from pipeline.scoring.rules import SCORING_RULES, classify
from pipeline.scoring.scores import item_scores_frame, score, scores_frame
from tests.scoring.conftest import item, matrix_from_rows, rule

# knowledge 5 points (T1 2 + S1 3), methods 2 (M1), spirit 2.5 (P1), ability 1 (A1)
ITEMS = [
    item("T1", "true_false", 1, 2, "knowledge", benchmarks=(11,)),
    item("S1", "single", 3, 3, "knowledge", benchmarks=(11, 12)),
    item("M1", "multiple", (1, 3), 2, "methods", benchmarks=(9,)),
    item("P1", "multiple", (1, 3), 2.5, "spirit", benchmarks=(1,), scoring="partial"),
    item("A1", "true_false", 2, 1, "ability", benchmarks=(17,)),
]
ROWS = [
    # r1: T1 right 2, S1 right 3, M1 right 2, P1 {1,2} → 2/4 × 2.5 = 1.25, A1 don't know 0 → total 8.25
    ("r1", "T1", "1", "answered"), ("r1", "S1", "3", "answered"), ("r1", "M1", "1,3", "answered"),
    ("r1", "P1", "1,2", "answered"), ("r1", "A1", None, "dont_know"),
    # r2: all wrong except P1 "" → 2/4 × 2.5 = 1.25; A1 refused: missing, within the allowance of 1 → 0
    ("r2", "T1", "2", "answered"), ("r2", "S1", "1", "answered"), ("r2", "M1", "1,3,4", "answered"),
    ("r2", "P1", "", "answered"), ("r2", "A1", None, "refused"),
    # r3: two missing items (> 1 allowed) → unscored, never a zero
    ("r3", "T1", None, "skipped"), ("r3", "S1", None, "refused"), ("r3", "M1", "1,3", "answered"),
    ("r3", "P1", "1,3", "answered"), ("r3", "A1", "2", "answered"),
    # r4: S1 right (knowledge 3/5 = 0.6), M1 right (methods 2/2), P1 all right, A1 right → total 8.5
    ("r4", "T1", "2", "answered"), ("r4", "S1", "3", "answered"), ("r4", "M1", "3,1", "answered"),
    ("r4", "P1", "1,3", "answered"), ("r4", "A1", "2", "answered"),
]
LEVELS = (("高", 8.25), ("中", 1.25), ("低", 0.0))


def run(rows=ROWS, items=ITEMS, r=None):
    iset, m = matrix_from_rows(items, rows)
    r = r or rule(params={"cutoff": 8.25}, levels=LEVELS, max_missing_items=1)
    return iset, m, score(iset, answer_codes(iset, m.chosen, m.status), m.respondent_ids, r)


def test_hand_worked_threshold_total():
    _, _, s = run()
    assert s.respondent_ids.tolist() == ["r1", "r2", "r3", "r4"]
    assert s.scored.tolist() == [True, True, False, True]
    assert s.n_missing.tolist() == [0, 1, 2, 0]
    np.testing.assert_array_equal(s.dims["knowledge"], [5.0, 0.0, np.nan, 3.0])
    np.testing.assert_array_equal(s.dims["methods"], [2.0, 0.0, np.nan, 2.0])
    np.testing.assert_array_equal(s.dims["spirit"], [1.25, 1.25, np.nan, 2.5])
    np.testing.assert_array_equal(s.dims["ability"], [0.0, 0.0, np.nan, 1.0])
    np.testing.assert_array_equal(s.total, [8.25, 1.25, np.nan, 8.5])
    # cut-off 8.25 is inclusive: r1 at exactly 8.25 is literate
    assert s.literate.tolist() == [True, False, None, True]
    assert s.level.tolist() == ["高", "中", None, "高"]
    # benchmark 11 = T1 (2) + S1 (3); 12 = S1 only; 9 = M1; 1 = P1; 17 = A1
    np.testing.assert_array_equal(s.bench[11], [1.0, 0.0, np.nan, 3 / 5])
    np.testing.assert_array_equal(s.bench[12], [1.0, 0.0, np.nan, 1.0])
    np.testing.assert_array_equal(s.bench[1], [0.5, 0.5, np.nan, 1.0])
    np.testing.assert_array_equal(s.bench[17], [0.0, 0.0, np.nan, 1.0])


def test_all_dimensions_rule():
    r = rule("all_dimensions", params={"cutoffs": {"knowledge": 0.6, "methods": 0.5}}, levels=LEVELS)
    _, _, s = run(r=r)
    # r1: knowledge 5/5, methods 2/2 → pass (spirit and ability not listed, ignored)
    # r2: knowledge 0/5 → fail; r3 unscored; r4: knowledge 3/5 = 0.6 exactly (inclusive), methods 2/2 → pass
    assert s.literate.tolist() == [True, False, None, True]
    r = rule("all_dimensions", params={"cutoffs": {"knowledge": 0.61, "methods": 0.5}}, levels=LEVELS)
    assert run(r=r)[2].literate.tolist() == [True, False, None, False]
    r = rule("all_dimensions", params={"cutoffs": {"knowledge": 0.6, "spirit": 0.6}}, levels=LEVELS)
    # spirit: r1 1.25/2.5 = 0.5 < 0.6 → fail; r4 2.5/2.5 → pass
    assert run(r=r)[2].literate.tolist() == [False, False, None, True]


def test_registry_and_rule_errors():
    assert set(SCORING_RULES) == {"threshold_total", "all_dimensions"}
    with pytest.raises(SpecError, match="not known"):
        run(r=rule("miller", levels=LEVELS))
    with pytest.raises(SpecError, match="cutoff"):
        run(r=rule(params={}, levels=LEVELS))
    with pytest.raises(SpecError, match="not dimensions"):
        run(r=rule("all_dimensions", params={"cutoffs": {"physics": 0.6}}, levels=LEVELS))
    with pytest.raises(SpecError, match=r"\[0, 1\]"):
        run(r=rule("all_dimensions", params={"cutoffs": {"knowledge": 60}}, levels=LEVELS))
    with pytest.raises(SpecError, match="must start at 0"):
        run(r=rule(params={"cutoff": 1}, levels=(("高", 5.0), ("低", 1.0))))


def test_missing_share_allowance():
    # 1 of 5 missing = 0.2 ≤ 0.2 → scored; r3 has 2 of 5 missing
    r = rule(params={"cutoff": 8.25}, levels=LEVELS, max_missing_items=5, max_missing_share=0.2)
    assert run(r=r)[2].scored.tolist() == [True, True, False, True]
    r = rule(params={"cutoff": 8.25}, levels=LEVELS, max_missing_items=0)
    assert run(r=r)[2].scored.tolist() == [True, False, False, True]


def test_classes_inclusive():
    levels = (("高阶", 85.0), ("具备", 70.0), ("基本具备", 55.0), ("较低", 0.0))
    got = classify(np.array([100, 85, 84.999999, 70, 69.99, 55, 54.9, 0, np.nan]), levels)
    assert got.tolist() == ["高阶", "高阶", "具备", "具备", "基本具备", "基本具备", "较低", "较低", None]


@pytest.mark.parametrize("points, n_items, n_right", [(2.8, 35, 25), (1.25, 80, 56)])
def test_cut_off_is_not_lost_to_floating_point(points, n_items, n_right):
    """A total that is exactly 70 on paper must be literate and 具备."""
    items = [item(f"I{j:04d}", "true_false", 1, points, "knowledge") for j in range(n_items)]
    iset = compile_items(items)
    chosen = np.full((1, n_items), 0b10, dtype=np.int32)
    chosen[0, :n_right] = 0b01
    status = np.zeros((1, n_items), dtype=np.int8)
    c = credit(iset, chosen, status)
    if points == 0.1:
        # the raw float sum really does miss 70, so this test would fail without the rounding
        assert (c * iset.points).sum() != 70.0
    s = score(iset, answer_codes(iset, chosen, status), np.array(["r"], dtype=object), rule(max_missing_items=0))
    assert s.total[0] == 70.0
    assert s.literate.tolist() == [True]
    assert s.level.tolist() == ["具备"]


def test_tables_match_contract():
    iset, _, s = run()
    df = validate(scores_frame(s), SCORES)
    assert df["literate"].isna().tolist() == [False, False, True, False]
    assert df.loc[2, ["knowledge", "total", "level"]].isna().all()
    long = validate(item_scores_frame(s, iset), ITEM_SCORES)
    assert len(long) == 4 * 5
    r2 = long[long["respondent_id"] == "r2"].set_index("item_id")
    # the refused item stays missing at item level even though it counts 0 in r2's total
    assert np.isnan(r2.loc["A1", "score"]) and r2.loc["P1", "score"] == 1.25 and r2.loc["P1", "correct"] == 0.5
    assert list(long["respondent_id"].astype(str)) == sorted(long["respondent_id"].astype(str))


def test_frameworks_points_checked():
    fw = load_frameworks()
    with pytest.raises(SpecError, match="frameworks.yaml"):
        iset, m = matrix_from_rows(ITEMS, ROWS)
        score(iset, answer_codes(iset, m.chosen, m.status), m.respondent_ids,
              rule(params={"cutoff": 8.25}, levels=LEVELS), frameworks=fw)
