"""The vectorised builders of ingest against plain row-by-row Python on random data: answer reasons and
values, response strings, straight-lining, per-combination rules and label columns."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from pipeline.ingest import checks
from pipeline.ingest.answers import REASONS, code_strings, long_table, reasons_and_values, take_rows
from pipeline.ingest.columns import labelled, per_combination, text, text_column
from pipeline.ingest.design import design_units
from pipeline.instruments import load_instrument
from pipeline.paths import WavePaths

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


def test_reasons_values_and_strings_match_a_cell_by_cell_reading(inst, raw):
    num, n = raw
    reason, value = reasons_and_values(num, inst, n)
    rows = np.random.default_rng(1).permutation(n)[: n - 50]  # a shuffled subset, as accepted rows are
    codes, cats = code_strings(inst, value, reason, rows)
    assert codes.flags["C_CONTIGUOUS"] and codes.shape == (rows.size, len(inst.items))
    seen = set()
    for k, i in enumerate(rows[:400]):
        ref = _reference(inst, num, i)
        assert [REASONS[r] for r in reason[i]] == [r for r, _ in ref]
        got = [cats[c] if c >= 0 else None for c in codes[k]]
        assert got == [t for _, t in ref]
        seen.update(t for t in got if t is not None)
    # exactly the strings that occur among the chosen rows are categories
    assert set(cats) == {cats[c] for c in np.unique(codes[codes >= 0])}
    assert "7" in cats  # out-of-codebook codes are coded as given (the codebook check quarantines them)


def test_long_table_runs_respondent_by_respondent(inst, raw):
    num, n = raw
    reason, value = reasons_and_values(num, inst, n)
    rows = np.arange(n)[::-1]
    codes, cats = code_strings(inst, value, reason, rows)
    ids = np.array([f"R{i:05d}" for i in range(rows.size)], dtype=object)
    items = [it.id for it in inst.items]
    table = long_table(ids, items, codes, cats, np.ascontiguousarray(take_rows(reason, rows)))
    J = len(items)
    assert len(table) == rows.size * J
    k = 5 * J + 3  # respondent 5, item 3
    assert table["respondent_id"].iloc[k] == ids[5] and table["item_id"].iloc[k] == items[3]
    assert table["missing_reason"].iloc[k] == REASONS[reason[rows[5], 3]]
    expect = cats[codes[5, 3]] if codes[5, 3] >= 0 else None
    assert (table["response_code"].iloc[k] if pd.notna(table["response_code"].iloc[k]) else None) == expect


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
