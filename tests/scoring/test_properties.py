"""Properties over random instruments and answers: bounds, and invariance to the order of rows."""

import numpy as np
import pandas as pd
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pipeline.scoring.items import answer_codes, compile_items, credit
from pipeline.scoring.responses import build_matrix
from pipeline.scoring.scores import score, scores_frame
from tests.scoring.conftest import item, responses_df, rule

DIMS = ("knowledge", "methods", "spirit", "ability")
POINTS = (0.5, 1.0, 1.25, 2.5, 2.8, 1 / 3)


@st.composite
def instrument(draw):
    k = draw(st.integers(1, 7))
    items = []
    for j in range(k):
        typ = draw(st.sampled_from(["true_false", "single", "multiple"]))
        m = 2 if typ == "true_false" else draw(st.integers(2, 5))
        codes = list(range(1, m + 1))
        if typ == "multiple":
            key = draw(st.lists(st.sampled_from(codes), min_size=1, max_size=m, unique=True))
        else:
            key = [draw(st.sampled_from(codes))]
        items.append(item(f"I{j}", typ, tuple(sorted(key)), draw(st.sampled_from(POINTS)),
                          draw(st.sampled_from(DIMS)), benchmarks=(draw(st.integers(1, 4)),),
                          options=tuple((c, str(c)) for c in codes),
                          scoring=draw(st.sampled_from(["all_or_nothing", "partial"]))))
    return items


@st.composite
def wave(draw):
    items = draw(instrument())
    n = draw(st.integers(1, 6))
    rows = []
    for r in range(n):
        for it in items:
            reason = draw(st.sampled_from(["answered", "answered", "answered", "dont_know", "refused", "skipped"]))
            code = None
            if reason == "answered":
                codes = list(it.option_codes)
                if it.type == "multiple":
                    chosen = draw(st.lists(st.sampled_from(codes), max_size=len(codes), unique=True))
                    code = ",".join(str(c) for c in sorted(chosen))
                else:
                    code = str(draw(st.sampled_from(codes)))
            rows.append((f"r{r}", it.id, code, reason))
    perm = draw(st.permutations(range(len(rows))))
    allowance = draw(st.integers(0, len(items)))
    return items, rows, perm, allowance


def scores_of(items, rows, allowance, shuffle=None):
    """shuffle: a permutation of the rows' order (respondents of the responses table, items of the row list)."""
    iset = compile_items(items)
    df = responses_df(items, rows)
    ids = np.array(sorted(set(df["respondent_id"])), dtype=object)
    if shuffle is not None:  # the file's rows in another order than respondents.parquet's
        df = df.iloc[np.argsort(np.asarray(shuffle)[: len(df)])]  # len(rows) = respondents × items ≥ len(df)
    m = build_matrix(df, iset, ids)
    c = credit(iset, m.chosen, m.status)
    r = rule(params={"cutoff": 1.0}, levels=(("a", 2.0), ("b", 0.0)), max_missing_items=allowance)
    s = score(iset, answer_codes(iset, m.chosen, m.status), m.respondent_ids, r)
    return iset, c, s


@settings(max_examples=50, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(wave())
def test_bounds(w):
    items, rows, _, allowance = w
    iset, c, s = scores_of(items, rows, allowance)
    assert np.all((c[~np.isnan(c)] >= 0) & (c[~np.isnan(c)] <= 1))
    ok = s.scored
    assert np.array_equal(ok, s.n_missing <= allowance)
    maxima = {d: sum(it.points for it in items if it.dimension == d) for d in DIMS}
    for d, v in s.dims.items():
        assert np.all(np.isnan(v[~ok]))
        assert np.all((v[ok] >= 0) & (v[ok] <= maxima[d] + 1e-9))
    assert np.all((s.total[ok] >= 0) & (s.total[ok] <= iset.points.sum() + 1e-9))
    assert np.allclose(s.total[ok], sum(s.dims[d][ok] for d in s.dims), atol=1e-8)
    for v in s.bench.values():
        assert np.all((v[ok] >= 0) & (v[ok] <= 1))
    assert [x is None for x in s.literate] == list(~ok)
    assert [x is None for x in s.level] == list(~ok)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(wave())
def test_row_order_does_not_matter(w):
    items, rows, perm, allowance = w
    a = scores_frame(scores_of(items, rows, allowance)[2])
    b = scores_frame(scores_of(items, [rows[i] for i in perm], allowance, shuffle=perm)[2])
    pd.testing.assert_frame_equal(a, b)
