"""End-to-end golden: the demo wave (seeded, 300 interviews per county unit) from the generated delivery
through ingest, score, weight and estimate gives these estimates and verdicts.

Any change in the numbers (simulator, scoring, weighting, variance, intervals, reliability, verdicts) shows
here, and must be made on purpose: rerun with QZ_UPDATE_GOLDEN=1 to rewrite the golden files, and say in
the commit why the numbers moved. The estimands kept are the headline share, the smallest class (the most
fragile intervals) and the mean total score, for every domain type and both variance methods.
"""

from __future__ import annotations

import os

import numpy as np
import pandas as pd
import pytest

from pipeline.paths import ROOT

GOLDEN = ROOT / "tests" / "data" / "golden" / "pipeline"
ESTIMANDS = ("literate", "class_advanced", "score_total")
UPDATE = os.environ.get("QZ_UPDATE_GOLDEN") == "1"
RTOL = 1e-9  # room for last-digit differences between numeric libraries, none for a change of method


def _read(path) -> pd.DataFrame:
    return pd.read_csv(path, encoding="utf-8-sig", keep_default_na=False, na_values=[""], dtype={"domain": str})


def _tables(paths) -> dict[str, tuple[pd.DataFrame, list[str]]]:
    est = _read(paths.processed("estimates.csv"))
    est = est[est["estimand_id"].isin(ESTIMANDS)]
    tgt = _read(paths.processed("targets.csv"))
    return {"estimates.csv": (est, ["estimand_id", "variance_method", "domain_type", "domain"]),
            "targets.csv": (tgt, ["domain_type", "domain"])}


def _compare(name: str, got: pd.DataFrame, want: pd.DataFrame, key: list[str]) -> list[str]:
    problems = []
    if list(got.columns) != list(want.columns):
        return [f"{name}: columns {list(got.columns)} != {list(want.columns)}"]
    got, want = got.set_index(key).sort_index(), want.set_index(key).sort_index()
    if not got.index.equals(want.index):
        extra, missing = got.index.difference(want.index), want.index.difference(got.index)
        return [f"{name}: rows differ (new {list(extra)[:5]}, gone {list(missing)[:5]})"]
    for col in got.columns:
        a, b = got[col], want[col]
        if pd.api.types.is_numeric_dtype(b) and pd.api.types.is_numeric_dtype(a):
            x, y = a.to_numpy(float), b.to_numpy(float)
            bad = ~(np.isclose(x, y, rtol=RTOL, atol=1e-14) | (np.isnan(x) & np.isnan(y)))
        else:
            missing_a, missing_b = a.isna().to_numpy(), b.isna().to_numpy()
            bad = (missing_a != missing_b) | (~missing_a & (a.astype(str).to_numpy() != b.astype(str).to_numpy()))
        if bad.any():
            i = int(np.flatnonzero(bad)[0])
            problems.append(f"{name}: {int(bad.sum())} cells of {col} differ, first {got.index[i]}: "
                            f"{a.iloc[i]!r} (golden {b.iloc[i]!r})")
    return problems


def test_demo_wave_estimates_match_the_golden(demo_estimated):
    tables = _tables(demo_estimated)
    if UPDATE:
        GOLDEN.mkdir(parents=True, exist_ok=True)
        for name, (df, key) in tables.items():
            df.sort_values(key).to_csv(GOLDEN / name, index=False, encoding="utf-8-sig", float_format="%.17g")
        pytest.skip("golden files rewritten (QZ_UPDATE_GOLDEN=1)")
    problems = []
    for name, (df, key) in tables.items():
        problems += _compare(name, df, _read(GOLDEN / name), key)
    assert not problems, "\n".join(problems[:20]) + "\n(if the change is intended: QZ_UPDATE_GOLDEN=1)"
    # the golden itself is not trivial: the headline and every county are in it, with a verdict each
    est, _ = tables["estimates.csv"]
    assert {"overall", "county", "group", "county_urban"} <= set(est["domain_type"])
    assert set(tables["targets.csv"][0]["verdict"]) <= {"met", "not met", "undetermined"}
