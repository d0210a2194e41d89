"""Shared fixtures of the weighting tests: R's api data and the goldens made by make_golden.R."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from pipeline.weighting.calibration import Margin

DATA = Path(__file__).resolve().parents[1] / "data"
GOLDEN = DATA / "golden" / "weighting"
API = DATA / "api"


def read_golden(name: str) -> pd.DataFrame:
    return pd.read_csv(GOLDEN / name, dtype={"cds": str}, skipinitialspace=True)


def margin_from(values: pd.Series, name: str, pop: pd.DataFrame) -> Margin:
    """A Margin whose categories are the population table's levels (variable == name)."""
    rows = pop[pop["variable"] == name]
    labels = [str(x) for x in rows["level"]]
    codes = pd.Categorical(values.astype(str), categories=labels).codes
    assert (codes >= 0).all(), f"sample level of {name} missing from the population margins"
    return Margin(name, codes.astype(np.int64), rows["population"].to_numpy(float), tuple(labels))


@pytest.fixture(scope="session")
def apiclus1() -> pd.DataFrame:
    return pd.read_csv(API / "apiclus1.csv", dtype={"cds": str})


@pytest.fixture(scope="session")
def apistrat() -> pd.DataFrame:
    return pd.read_csv(API / "apistrat.csv", dtype={"cds": str})


@pytest.fixture(scope="session")
def apipop_margins() -> pd.DataFrame:
    return read_golden("apipop_margins.csv").astype({"level": str})
