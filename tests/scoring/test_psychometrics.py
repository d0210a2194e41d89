"""Reliability, discrimination and the key check against textbook formulas, R (psych) and a planted error."""

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from pipeline.scoring import psychometrics as ps
from pipeline.scoring.item_stats import item_stats
from pipeline.scoring.items import answer_codes, compile_items, credit
from pipeline.simulate.answers import simulate
from tests.scoring.conftest import item

GOLDEN = Path(__file__).resolve().parents[1] / "data" / "golden" / "scoring"


def textbook_alpha(x):
    """Cronbach (1951), item by item."""
    k = x.shape[1]
    item_var = sum(np.var(x[:, j], ddof=1) for j in range(k))
    return k / (k - 1) * (1 - item_var / np.var(x.sum(axis=1), ddof=1))


def textbook_kr20(c):
    k = c.shape[1]
    pq = sum(c[:, j].mean() * (1 - c[:, j].mean()) for j in range(k))
    return k / (k - 1) * (1 - pq / np.var(c.sum(axis=1), ddof=0))


def golden_inputs():
    right = pd.read_csv(GOLDEN / "items_right.csv").to_numpy(dtype=float)
    spec = pd.read_csv(GOLDEN / "items_spec.csv")
    items = [item(r.item_id, "true_false", 1, r.points, r.dimension) for r in spec.itertuples()]
    return compile_items(items), right, spec


def test_against_r_psych():
    """Golden numbers from psych::alpha (tests/data/golden/scoring/make_golden.R)."""
    iset, right, spec = golden_inputs()
    earned = right * iset.points
    cov = ps.covariance(earned)
    dims = spec["dimension"].to_numpy(dtype=object)
    gold = pd.read_csv(GOLDEN / "items_golden.csv").set_index("item_id").loc[spec["item_id"]]
    np.testing.assert_allclose(ps.item_rest_correlation(cov), gold["point_biserial"], rtol=0, atol=1e-8)
    np.testing.assert_allclose(ps.alpha_if_deleted(cov, dims), gold["alpha_if_deleted"], rtol=0, atol=1e-8)
    rel = ps.reliability(iset, cov, dims, ps.kr20_by_group(iset, right, dims))
    for row in pd.read_csv(GOLDEN / "reliability_golden.csv").itertuples():
        assert rel[row.scope]["alpha"] == pytest.approx(row.alpha, abs=1e-8)
        assert rel[row.scope]["kr20"] == pytest.approx(row.kr20, abs=1e-8)


def test_against_textbook_formulas_with_partial_credit():
    rng = np.random.default_rng(7)
    n, k = 300, 7
    theta = rng.standard_normal(n)
    x = (rng.random((n, k)) < 1 / (1 + np.exp(-(theta[:, None] - rng.normal(size=k))))).astype(float)
    x[:, 3] = np.round(rng.random(n) * 4) / 4  # a partial-credit item (credit in quarters)
    points = np.array([1, 2, 1.25, 2.5, 1, 1.5, 2])
    earned = x * points
    groups = np.array(["a", "a", "a", "a", "b", "b", "b"], dtype=object)
    cov = ps.covariance(earned)
    total = earned.sum(axis=1)
    for j in range(k):
        rest = total - earned[:, j]
        assert ps.item_rest_correlation(cov)[j] == pytest.approx(np.corrcoef(x[:, j], rest)[0, 1], abs=1e-12)
        same = np.flatnonzero(groups == groups[j])
        keep = [i for i in same if i != j]
        assert ps.alpha_if_deleted(cov, groups)[j] == pytest.approx(textbook_alpha(earned[:, keep]), abs=1e-12)
    assert ps.cronbach_alpha(earned) == pytest.approx(textbook_alpha(earned), abs=1e-12)
    items = [item(f"I{j}", "multiple" if j == 3 else "true_false", (1,) if j != 3 else (1, 3), points[j],
                  "knowledge", scoring="partial" if j == 3 else "all_or_nothing") for j in range(k)]
    iset = compile_items(items)
    rel = ps.reliability(iset, cov, groups, ps.kr20_by_group(iset, x, groups))
    assert np.isnan(rel["a"]["kr20"]) and np.isnan(rel["total"]["kr20"])  # partial credit: no KR-20
    assert rel["b"]["kr20"] == pytest.approx(textbook_kr20(x[:, 4:]), abs=1e-12)
    assert rel["b"]["alpha"] == pytest.approx(textbook_alpha(earned[:, 4:]), abs=1e-12)


def keys_of(iset, chosen, status):
    """The key check of respondent matrices, through the answer cells the stage counts."""
    codes = answer_codes(iset, chosen, status)
    return ps.key_check(iset, list(ps.item_cells(iset, codes, iset.flat_earned()[codes].sum(axis=1))))


def test_weighted_and_unweighted_share_correct():
    items = [item("A", "true_false", 1, 1, "knowledge"), item("B", "true_false", 1, 1, "knowledge")]
    iset = compile_items(items)
    # A: right, wrong, don't know, refused; B: all right
    chosen = np.array([[1, 1], [2, 1], [0, 1], [0, 1]], dtype=np.int32)
    status = np.array([[0, 0], [0, 0], [1, 0], [2, 0]], dtype=np.int8)
    w = np.array([1.0, 3.0, 4.0, 100.0])
    d = ps.descriptives(iset, answer_codes(iset, chosen, status), np.fmax(credit(iset, chosen, status), 0), w)
    # A: answered = 3 (don't know counts as answered and wrong); p = 1/3; weighted = 1/(1+3+4) = 0.125
    assert d["n"].tolist() == [3, 4]
    assert d.loc[0, "p_correct"] == pytest.approx(1 / 3) and d.loc[0, "p_correct_weighted"] == pytest.approx(0.125)
    assert d["n_dont_know"].tolist() == [1, 0] and d["n_missing"].tolist() == [1, 0]


@pytest.mark.parametrize("kind, seed", [("single", 11), ("true_false", 12)])
def test_planted_key_error_is_flagged(real_instrument, kind, seed):
    """2PL answers for 2,000 respondents where one item's true answer is not the key in the instrument."""
    iset = compile_items(real_instrument.items)
    target = next(it for it in real_instrument.items if it.type == kind)
    true_option = next(c for c in target.option_codes if c not in target.key)
    sim = simulate(iset, 2000, seed, true_keys={target.id: [true_option]})
    c = credit(iset, sim.chosen, sim.status)
    earned = np.where(np.isnan(c), 0.0, c) * iset.points
    keys = keys_of(iset, sim.chosen, sim.status)
    flagged = keys.loc[keys["flag_key_error"], "item_id"].tolist()
    assert flagged == [target.id]
    row = keys.set_index("item_id").loc[target.id]
    assert row["key_error_option"] == true_option
    assert row["high_share_top_distractor"] > row["high_share_key"]
    codes = answer_codes(iset, sim.chosen, sim.status)
    table, _ = item_stats(iset, codes, earned.sum(axis=1), np.ones(2000), {})
    assert table.set_index("item_id").loc[target.id, "flag_negative_discrimination"]
    # with the key corrected nothing is flagged
    clean = simulate(iset, 2000, seed)
    keys2 = keys_of(iset, clean.chosen, clean.status)
    assert not keys2["flag_key_error"].any()


def test_hard_item_with_a_working_key_is_not_flagged(real_instrument):
    """A very hard true/false item: high scorers choose the other option more often than the key, but the
    key still separates high from low scorers, so it is not a key error."""
    iset = compile_items(real_instrument.items)
    target = next(it for it in real_instrument.items if it.type == "true_false")
    sim = simulate(iset, 2000, 13, b_override={target.id: 2.2})
    keys = keys_of(iset, sim.chosen, sim.status)
    row = keys.set_index("item_id").loc[target.id]
    assert row["high_share_top_distractor"] > row["high_share_key"]  # the naive rule would flag it
    assert row["high_share_key"] - row["low_share_key"] > 0.1
    assert not keys["flag_key_error"].any()


def test_key_check_multiple_answer_item():
    """A multiple-answer item whose key omits an option that high scorers choose."""
    it = item("M", "multiple", (1, 3), 2, "knowledge")
    anchor = [item(f"T{j}", "true_false", 1, 1, "knowledge") for j in range(3)]
    iset = compile_items([it, *anchor])
    # 8 respondents: the four best (all anchors right) choose {1,2,3}; the rest choose {1}
    chosen = np.zeros((8, 4), dtype=np.int32)
    chosen[:4, 0] = 0b0111
    chosen[4:, 0] = 0b0001
    chosen[:4, 1:] = 0b01
    chosen[4:, 1:] = 0b10
    status = np.zeros((8, 4), dtype=np.int8)
    keys = keys_of(iset, chosen, status).set_index("item_id")
    # high group = rest ≥ 73rd percentile = the four with rest 3: option 2 chosen by 4, key option 3 by 4 → not more
    assert not keys.loc["M", "flag_key_error"]
    chosen[:4, 0] = 0b0011  # now the best choose {1,2}: option 2 (4 of 4; low 0 of 4) beats key option 3 (0; 0)
    keys = keys_of(iset, chosen, status).set_index("item_id")
    assert keys.loc["M", "flag_key_error"] and keys.loc["M", "key_error_option"] == 2


def test_quantile_of_counts_is_numpys_to_the_bit():
    rng = np.random.default_rng(5)
    for n in (1, 2, 3, 7, 100, 2001):
        values = np.unique(np.round(rng.normal(size=40) * 7, 1) / 3)  # discrete, inexact in binary
        counts = rng.multinomial(n, np.full(values.size, 1 / values.size))
        sample = np.repeat(values, counts)
        for q in (0.0, 1 - ps.HIGH_GROUP_QUANTILE, 0.5, ps.HIGH_GROUP_QUANTILE, 1.0):
            assert ps.quantile_of_counts(values, counts, q) == np.quantile(sample, q)


@pytest.mark.parametrize("plain_slots", [ps.MAX_PLAIN_SLOTS, 0])
def test_counts_of_answer_cells_give_the_respondent_level_dif(real_instrument, monkeypatch, plain_slots):
    """DIF counted from each item's answer cells is DIF counted respondent by respondent, whether every
    answer code has a slot or only those found (items with many options)."""
    monkeypatch.setattr(ps, "MAX_PLAIN_SLOTS", plain_slots)
    from pipeline.scoring import dif
    from pipeline.scoring.item_stats import FULL_CREDIT

    iset = compile_items(real_instrument.items)
    sim = simulate(iset, 3000, 21, unscored_share=0.05)
    codes = answer_codes(iset, sim.chosen, sim.status)
    c = np.fmax(credit(iset, sim.chosen, sim.status), 0)
    earned = c * iset.points
    rng = np.random.default_rng(2)
    focal = {"sex": rng.integers(-1, 2, 3000), "urban": rng.integers(0, 2, 3000)}
    cells = list(ps.item_cells(iset, codes, earned.sum(axis=1), list(focal.values())))
    assert dif.dif_of_cells(cells, list(focal), FULL_CREDIT) == dif.dif_tables(earned, c >= FULL_CREDIT, focal)
    keys = ps.key_check(iset, cells)
    monkeypatch.setattr(ps, "MAX_PLAIN_SLOTS", 66 - plain_slots)
    other = ps.key_check(iset, list(ps.item_cells(iset, codes, earned.sum(axis=1), list(focal.values()))))
    pd.testing.assert_frame_equal(keys, other)
