"""The weighting on group factors (pipeline/weighting/factored.py) against the same steps on the
n × (1 + R) matrix: weights, design record and diagnostics agree to 1e-12 relative, with JKn, the
grouped jackknife and the Rao–Wu bootstrap, with and without trimming, and with a per-unit
non-response factor (the count-table mode)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from pipeline.paths import ROOT
from pipeline.simulate.synthetic import draw_wave, weighting_tables
from pipeline.survey_design.spec import load_design_spec
from pipeline.vocabulary import counties
from pipeline.weighting.factored import FactoredWeights
from pipeline.weighting.run import weight_wave

DESIGN = (ROOT / "survey_instruments" / "2024" / "design.yaml").read_text(encoding="utf-8")
REL = 1e-12


@pytest.fixture(scope="module")
def tables():
    return weighting_tables(draw_wave(seed=11, counties=counties().codes[:6]))


def _controls(tables):
    return {k: tables[k].astype({c: str for c in tables[k].columns if c != "population"}).assign(
        population=lambda d: d["population"].astype(float)) for k in ("county_sex_age_urban", "county_education")}


def _spec(tmp_path, text):
    p = tmp_path / "design.yaml"
    p.write_text(text, encoding="utf-8")
    return load_design_spec(p)


def _close(a, b, what):
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    assert a.shape == b.shape, what
    both_nan = np.isnan(a) & np.isnan(b)
    scale = np.maximum(np.abs(b), 1e-300)
    err = np.where(both_nan, 0.0, np.abs(a - b) / scale)
    assert np.nanmax(err, initial=0.0) <= REL, f"{what}: relative difference {np.nanmax(err):.3g}"


def _same(a, b):
    """weights, design record and diagnostics of the two paths."""
    fa, fb = a.replicate_frame(), b.replicate_frame()
    assert list(fa.columns) == list(fb.columns)
    num = [c for c in fa.columns if c.startswith("w_")]
    assert (fa.drop(columns=num) == fb.drop(columns=num)).all().all()
    _close(fa[num].to_numpy(), fb[num].to_numpy(), "weights")
    da, db = a.diagnostics, b.diagnostics
    key = ["step", "metric", "variable", "level"]
    assert da[key].fillna("").equals(db[key].fillna("")), "diagnostics rows"
    for col in ("value", "control"):
        va, vb = pd.to_numeric(da[col], errors="coerce"), pd.to_numeric(db[col], errors="coerce")
        # margin errors are relative residuals of the convergence (1e-9 .. 1e-16): round-off moves them by
        # about 1e-16, which is a large relative change of a tiny number, so they are compared absolutely
        err = da["metric"].str.contains("error").to_numpy()
        _close(va[~err], vb[~err], f"diagnostics {col}")
        assert (va[err].isna() == vb[err].isna()).all()
        assert (va[err] - vb[err]).abs().fillna(0.0).max() <= REL
    ma, mb = dict(a.metadata), dict(b.metadata)
    # the reference path keeps one block of everything; the groups path stores only what differs
    ra, rb = dict(ma.pop("replicates")), dict(mb.pop("replicates"))
    assert rb.pop("blocks") == [list(range(ra["n_replicates"]))]
    ra.pop("blocks")
    assert ra == rb
    ca, cb = ma.pop("calibration"), mb.pop("calibration")
    assert ma == mb
    ea, eb = ca.pop("max_margin_error"), cb.pop("max_margin_error")
    assert ca == cb and abs(ea - eb) <= REL


@pytest.mark.parametrize("variant", ["jkn", "bootstrap", "groups", "jkn_untrimmed"])
def test_group_factors_equal_the_unit_matrix(tables, tmp_path, variant):
    text = {
        "jkn": DESIGN,
        "jkn_untrimmed": DESIGN.split("  trimming:")[0] + "\nvariance:" + DESIGN.split("\nvariance:", 1)[1],
        "bootstrap": DESIGN.replace("method: JKn ", "method: bootstrap ").replace("replicates: 200 ", "replicates: 40 "),
        "groups": DESIGN.replace("    replicates: 200 ", "    groups: 3\n    replicates: 200 ", 1),
    }[variant]
    spec = _spec(tmp_path, text)
    assert (spec.trimming is None) == (variant == "jkn_untrimmed")
    args = (tables["respondents"], tables["contacts"], _controls(tables), spec)
    agg, unit = weight_wave(*args), weight_wave(*args, aggregate=False)
    assert agg.metadata["replicates"]["n_replicates"] > 10
    _same(agg, unit)


def test_factored_weights_are_the_matrix():
    """Hand-sized case: 5 units in 2 PSUs, two replicate columns, a class split and a cell split."""
    w0 = np.array([1.0, 2.0, 3.0, 4.0, 5.0])
    psu = np.array([0, 0, 1, 1, 1])
    A = np.array([[1.0, 2.0, 0.0], [1.0, 0.0, 2.0]])
    F = FactoredWeights.from_psu(w0, psu, A)
    cls = np.array([1, 0, 1, 1, 0])
    f = np.array([[10.0, 20.0, 30.0], [100.0, 200.0, 300.0]])
    F.multiply(f, F.refine(cls)[1])
    expect = w0[:, None] * A[psu] * f[cls]
    np.testing.assert_array_equal(F.matrix(), expect)
    cell = np.array([0, 1, 1, 0, 0])
    child = F.refine(cell)[1]
    # column sums per cell, e.g. cell 0 column 1: units 0, 3, 4 = 1·2·200 + 4·0·200 + 5·0·20 = 400
    np.testing.assert_array_equal(F.totals_by(child, 2), np.array([expect[cell == 0].sum(0), expect[cell == 1].sum(0)]))
    assert F.totals_by(child, 2)[0, 1] == 400.0
    F.scale_units(np.array([1.0, 1.0, 2.0, 1.0, 1.0]))
    expect[2] *= 2
    np.testing.assert_array_equal(F.matrix(), expect)
    np.testing.assert_array_equal(F.column(2), expect[:, 2])


def test_totals_of_a_large_table_by_one_sparse_product_are_the_group_totals_summed():
    """The product with the groups' weights as entries adds the same products in the same order as the
    group totals summed by group_sums: equal to the last bit, not just close."""
    from pipeline.survey_design.codes import SPARSE_ELEMENTS, group_sums
    from pipeline.weighting.factored import FactoredWeights

    rng = np.random.default_rng(5)
    G, R, n = 3000, 1600, 40_000
    F = FactoredWeights(rng.random(n) * 100, rng.integers(0, G, n), rng.random((G, R)) * 2)
    assert G * R >= SPARSE_ELEMENTS  # the product path
    cell = rng.integers(0, 50, G)
    np.testing.assert_array_equal(F.totals_by(cell, 50), group_sums(cell, F.group_totals(), 50))
