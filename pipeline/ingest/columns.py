"""Column builders that touch each distinct value once. A million-row column that holds a dozen labels is
built from integer codes and a short label list, and a rule that depends on a few text columns runs once
per distinct combination of their values, never once per record."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
import pandas as pd
import pyarrow as pa


def numeric(s: pd.Series) -> np.ndarray:
    """Float values of a raw column; text that is not a number becomes NaN (the checks report it)."""
    if pd.api.types.is_numeric_dtype(s) and not pd.api.types.is_bool_dtype(s):
        return s.to_numpy(dtype=float)
    return pd.to_numeric(s, errors="coerce").to_numpy(dtype=float)


def text(s: pd.Series) -> np.ndarray:
    """A raw column as Python strings, None where missing or blank (SPSS writes an empty text cell as
    spaces), e.g. questionnaire numbers. A numeric column read as 2024010001.0 keeps its integer spelling."""
    as_text = s.astype(str)
    out = as_text.to_numpy(dtype=object, copy=True)
    missing = s.isna().to_numpy(copy=True)
    if pd.api.types.is_numeric_dtype(s):
        v = s.to_numpy(dtype=float)
        whole = np.isfinite(v) & (v == np.round(v))
        out[whole] = v[whole].astype(np.int64).astype(str)
    else:
        missing |= (as_text.str.strip() == "").to_numpy(dtype=bool, na_value=False)
    out[missing] = None
    return out


def text_column(codes: np.ndarray, labels: Sequence[str]) -> pd.Series:
    """labels[codes] as a text column (code −1 = missing), decoded by Arrow without a Python string per row;
    the result has the installed pandas' default text dtype."""
    codes = np.asarray(codes)
    index = pa.array(codes.astype(np.int32, copy=False), mask=codes < 0)
    return pa.DictionaryArray.from_arrays(index, pa.array(list(labels), type=pa.string())).dictionary_decode().to_pandas()


def labelled(values: np.ndarray, mapping: dict[float, str], default: str = "") -> pd.Series:
    """Code → label for a whole numeric column, through its few distinct values."""
    uniq, inv = np.unique(values, return_inverse=True)
    return text_column(inv.ravel(), [mapping.get(float(v), default) for v in uniq])


def per_combination(fn: Callable[..., object], *columns) -> tuple[np.ndarray, list]:
    """(index per row, results): fn evaluated once for every distinct combination of the columns' values
    (missing values included, as None/NaN), so that results[index] is fn applied row by row."""
    n = len(columns[0])
    combined = np.zeros(n, dtype=np.int64)
    factors = []
    for col in columns:
        codes, uniques = pd.factorize(col, use_na_sentinel=False)
        uniques = np.asarray(uniques, dtype=object)
        # renumbered after each column so that the combined code stays below n and cannot overflow
        combined, _ = pd.factorize(combined * max(len(uniques), 1) + codes)
        factors.append((codes, uniques))
    first = np.empty(int(combined.max()) + 1 if n else 0, dtype=np.int64)
    first[combined[::-1]] = np.arange(n - 1, -1, -1)  # the first row of each combination
    results = [fn(*(uniques[codes[i]] for codes, uniques in factors)) for i in first]
    return combined, results
