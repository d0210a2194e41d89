"""The vectorised builders of ingest against plain row-by-row Python on random data: answer reasons and
values, option masks, straight-lining, per-combination rules and label columns."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from pipeline.errors import InputError
from pipeline.ingest import checks
from pipeline.ingest.answers import REASONS, option_masks, reasons_and_values, take_rows
from pipeline.ingest.columns import labelled, per_combination, text, text_column
from pipeline.ingest.design import design_units
from pipeline.instruments import load_instrument
from pipeline.paths import WavePaths
from pipeline.schemas import RESPONSES, response_columns, responses_frame, validate

MISSING = {97.0: "dont_know", 98.0: "refused", 99.0: "skipped"}


@pytest.fixture(scope="module")
def inst():
    return load_instrument(WavePaths(2024).instrument)


@pytest.fixture(scope="module")
def raw(inst):
    """Answers as fieldwork codes them, with missing codes, blanks and out-of-codebook values."""
    rng = np.random.default_rng(7)
    n = 3000
    num = {}
    for it in inst.items:
        for col in it.raw_columns:
            if it.type == "multiple":
                v = rng.choice([0.0, 1.0, 97.0, 98.0, 99.0], n, p=[0.45, 0.45, 0.04, 0.03, 0.03])
            else:
                v = rng.choice([*map(float, it.option_codes), 97.0, 98.0, 99.0, 7.0], n)
            v[rng.random(n) < 0.03] = np.nan
            num[col] = v
    return num, n


def _reference(inst, num, i):
    """Reason and response string of every item for record i, one cell at a time."""
    out = []
    for it in inst.items:
        if it.type == "multiple":
            vals = [num[c][i] for c in it.raw_columns]
            reason = "answered"
            for code, why in MISSING.items():  # the last listed missing code that occurs wins
                if code in vals:
                    reason = why
            if reason == "answered" and all(np.isnan(v) for v in vals):
                reason = "skipped"
            text_ = ",".join(str(c) for c, v in zip(it.option_codes, vals) if v == 1)
        else:
            v = num[it.column][i]
            reason = "skipped" if np.isnan(v) else MISSING.get(v, "answered")
            text_ = str(int(v)) if reason == "answered" else None
        out.append((reason, text_ if reason == "answered" else None))
    return out


def _mask(it, text_):
    """The reference's response string as the contract's option mask (bit j = the j-th listed option)."""
    return 0 if text_ is None else sum(1 << it.option_codes.index(int(c)) for c in text_.split(",") if c)


def test_reasons_values_and_masks_match_a_cell_by_cell_reading(inst, raw):
    num, n = raw
    reason, value = reasons_and_values(num, inst, n)
    singles = [j for j, it in enumerate(inst.items) if it.type != "multiple"]
    outside = ((value[:, singles] == 7) & (reason[:, singles] == 0)).any(axis=1)  # the codebook check's cases
    rows = np.random.default_rng(1).permutation(np.flatnonzero(~outside))  # shuffled, as accepted rows are
    masks = option_masks(inst, value, reason, rows)
    assert masks.flags["F_CONTIGUOUS"] and masks.shape == (rows.size, len(inst.items)) and masks.dtype == np.int32
    for k, i in enumerate(rows[:400]):
        ref = _reference(inst, num, i)
        assert [REASONS[r] for r in reason[i]] == [r for r, _ in ref]
        assert masks[k].tolist() == [_mask(it, t) for it, (_, t) in zip(inst.items, ref, strict=True)]
    # every single answer has exactly one bit; multiple items any number, 0 included
    answered = take_rows(reason, rows) == 0
    one_bit = (masks > 0) & ((masks & (masks - 1)) == 0)
    assert (one_bit[:, singles] == answered[:, singles]).all()
    assert (masks[~answered] == 0).all()


def test_an_answer_that_is_no_option_is_named(inst, raw):
    num, n = raw
    reason, value = reasons_and_values(num, inst, n)
    j = next(j for j, it in enumerate(inst.items) if it.type != "multiple")
    i = int(np.flatnonzero((value[:, j] == 7) & (reason[:, j] == 0))[0])
    with pytest.raises(InputError, match=rf"x.sav row {i + 1}: column {inst.items[j].column} has 7, which is not an "
                                         rf"option of item {inst.items[j].id}"):
        option_masks(inst, value, reason, np.array([i]), "x.sav")


def test_responses_frame_follows_the_contract(inst):
    rng = np.random.default_rng(5)
    n, J = 50, len(inst.items)
    chosen = np.asfortranarray(rng.integers(0, 16, (n, J)).astype(np.int32))
    reason = np.asfortranarray(rng.integers(0, 4, (n, J)).astype(np.int8))
    ids = np.array([f"R{i:03d}" for i in range(n)], dtype=object)
    table = validate(responses_frame(ids, [it.id for it in inst.items], chosen, reason), RESPONSES)
    assert len(table) == n and table.shape[1] == 1 + 2 * J
    it = inst.items[3]
    c, r = response_columns(it.id)
    assert table[c].dtype == np.int32 and table[r].dtype == np.int8
    assert (table[r].to_numpy() == reason[:, 3]).all()
    assert (table[c].to_numpy() == np.where(reason[:, 3] == 0, chosen[:, 3], 0)).all()  # 0 unless answered


def test_take_rows_is_row_selection():
    a = np.asfortranarray(np.arange(40, dtype=np.int8).reshape(8, 5))
    rows = np.array([6, 1, 1, 0])
    assert (take_rows(a, rows) == a[rows]).all()


def test_straightlining_matches_the_modal_share_per_record():
    rng = np.random.default_rng(3)
    n, J = 500, 30
    codes = rng.integers(1, 5, (n, J))
    codes[:20] = 2  # straight-liners
    answered = rng.random((n, J)) > 0.15
    answered[20:25, :25] = False  # too few answers to judge
    f = checks.straightlining([codes[:, j] for j in range(J)], [answered[:, j] for j in range(J)], 0.8,
                              np.arange(1, n + 1), "x.sav")
    for i in range(n):
        given = codes[i][answered[i]]
        share = np.bincount(given).max() / given.size if given.size else 0.0
        assert f.fails[i] == (given.size >= 10 and share >= 0.8), i
    assert f.fails[:20].all() and "row 1:" in f.detail[0]


def test_per_combination_calls_once_per_distinct_combination():
    a = pd.Series(["x", "x", "y", None, "y", "x"], dtype=object)
    b = np.array([1.0, 1.0, 2.0, 2.0, np.nan, 1.0])
    calls = []

    def rule(u, v):
        calls.append((u, v))
        return f"{'-' if pd.isna(u) else u}/{'-' if pd.isna(v) else v}"

    index, results = per_combination(rule, a, b)
    assert len(calls) == 4  # (x,1) (y,2) (missing,2) (y,missing)
    assert [results[k] for k in index] == ["x/1.0", "x/1.0", "y/2.0", "-/2.0", "y/-", "x/1.0"]


def test_text_column_and_labels():
    s = text_column(np.array([2, 0, -1, 1]), ["a", "b", "c"])
    assert s.iloc[0] == "c" and s.iloc[1] == "a" and pd.isna(s.iloc[2]) and s.iloc[3] == "b"
    assert pd.api.types.is_string_dtype(s) or pd.api.types.is_object_dtype(s)
    lab = labelled(np.array([2.0, 1.0, 9.0, 2.0]), {1.0: "男", 2.0: "女"})
    assert lab.tolist() == ["女", "男", "", "女"]
    assert list(text(pd.Series([2024010001.0, np.nan, 7.0]))) == ["2024010001", None, "7"]
    assert list(text(pd.Series(["Q1", None, "  "]))) == ["Q1", None, None]


def test_design_units_make_certainty_townships_strata():
    county = pd.Series(["350502", "350502", "350583", "350583"])
    town = pd.Series(["T1", "T1", "T9", "T8"])
    village = pd.Series(["V1", "V2", "V3", "V4"])
    stratum, psu = design_units(county, town, village, np.array([1.0, 1.0, 0.3, 0.2]))
    assert stratum.tolist() == ["350502/T1", "350502/T1", "350583", "350583"]
    assert psu.tolist() == ["V1", "V2", "T9", "T8"]
