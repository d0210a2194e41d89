"""key_order (already sorted? unique?) against pandas' own sort and duplicate scan."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from pipeline.schemas import key_order


def _pandas(df, key):
    ordered = df.sort_values(key, kind="mergesort").index.equals(df.index)
    return ordered, not df.duplicated(key).any()


@pytest.mark.parametrize("seed", range(30))
def test_key_order_agrees_with_pandas(seed):
    rng = np.random.default_rng(seed)
    n = int(rng.integers(2, 40))
    df = pd.DataFrame({
        "s": rng.choice(["a", "b", "ä", "B", "中"], n),
        "i": rng.integers(0, 3, n),
        "c": pd.Categorical(rng.choice(["z", "y"], n), categories=["z", "y"]),  # category order, not alphabet
        "f": rng.choice([0.5, 1.5], n),
    })
    if seed % 2:  # half the cases sorted, as stages write them
        df = df.sort_values(["s", "c", "i", "f"], kind="mergesort").reset_index(drop=True)
    for key in (["s"], ["s", "i"], ["s", "c", "i", "f"], ["c", "f"]):
        assert key_order(df, key) == _pandas(df, key), key


def test_missing_key_values_are_never_taken_as_sorted():
    df = pd.DataFrame({"s": ["a", None, "c"]})
    assert key_order(df, ["s"]) == (False, True)
    df = pd.DataFrame({"s": ["a", "b", "b"], "x": [1.0, np.nan, np.nan]})
    assert key_order(df, ["s", "x"]) == (False, False)
