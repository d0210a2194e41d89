"""Answer columns → the responses matrices: per item a missing reason (answered, dont_know, refused,
skipped) and the options chosen as a bit mask (the responses contract in pipeline/schemas.py). Arrays are
respondent × item in column order (Fortran), so that every per-item step reads and writes contiguous
memory."""

from __future__ import annotations

import re

import numpy as np
import pandas as pd

from pipeline.errors import InputError
from pipeline.instruments.model import Instrument, Item
from pipeline.vocabulary import RESPONSE_STATUSES as REASONS  # a cell's reason index is its position here

SEPARATORS = re.compile(r"[\s,;，；、/|]+")
NOT_AN_ANSWER = -1.0  # what each option column of an unreadable one-column answer holds: outside the codebook


def _chosen(text: str, it: Item, missing: set[float]) -> tuple[float, ...] | None:
    """One delivered cell of a one-column multiple answer → the value of each option column: 1/0 per
    option, the missing code in every column for a missing code, NaN for a blank, None when unreadable."""
    codes = it.option_codes
    t = text.strip()
    if t == "":
        return (np.nan,) * len(codes)
    try:
        v = float(t)
    except ValueError:
        v = None
    if v is not None and v in missing:
        return (v,) * len(codes)
    if it.one_column == "digits":
        if v is not None and v != int(v):
            return None
        tokens = list(SEPARATORS.sub("", t.split(".")[0] if v is not None else t))
    elif it.one_column == "letters":
        tokens = [c for part in SEPARATORS.split(t) for c in part] if t.isascii() else []
    else:
        tokens = [x for x in SEPARATORS.split(t) if x]
    if not tokens:
        return None
    try:
        if it.one_column == "letters":
            picked = {codes[ord(c.upper()) - ord("A")] for c in tokens if c.isalpha()} if all(
                c.isalpha() and 0 <= ord(c.upper()) - ord("A") < len(codes) for c in tokens) else None
        else:
            picked = {int(x) for x in tokens} if all(x.isdigit() for x in tokens) else None
    except (ValueError, IndexError):
        picked = None
    if picked is None or not picked <= set(codes):
        return None
    return tuple(1.0 if c in picked else 0.0 for c in codes)


def with_one_column_answers(data: pd.DataFrame, inst: Instrument) -> pd.DataFrame:
    """The delivered column of every multiple item answered in one column ("1,3", "13", "A,C"; the
    instrument's `one_column:`) split into the 0/1 option columns the rest of ingest reads (`<column>#<code>`).
    Each distinct cell is parsed once. An unreadable cell, or one naming an option the item does not have,
    gives NOT_AN_ANSWER in the option columns, which the codebook check quarantines."""
    items = [it for it in inst.items if it.type == "multiple" and it.one_column and it.column in data.columns]
    if not items:
        return data
    missing = {float(m.code) for m in inst.missing_codes}
    added = {}
    for it in items:
        col = data[it.column]
        cells = col.astype("string").fillna("").to_numpy(dtype=object)
        if pd.api.types.is_numeric_dtype(col):  # 13.0 read from a numeric SPSS column is "13"
            cells = np.array([("" if pd.isna(x) else f"{x:.0f}" if float(x) == int(x) else str(x))
                              for x in col.to_numpy()], dtype=object)
        uniq, inverse = np.unique(cells.astype(str), return_inverse=True)
        table = np.array([_chosen(u, it, missing) or (NOT_AN_ANSWER,) * len(it.option_codes) for u in uniq],
                         dtype=float).reshape(len(uniq), len(it.option_codes))
        for k, name in enumerate(it.raw_columns):
            added[name] = table[inverse, k]
    return pd.concat([data, pd.DataFrame(added, index=data.index)], axis=1)


def reasons_and_values(num: dict[str, np.ndarray], inst: Instrument, n: int) -> tuple[np.ndarray, np.ndarray]:
    """(reason index n×J, value n×J): the option code for single items, 1000 + the bit mask of chosen
    options for multiple items. Built with arithmetic on 0/1 masks: np.where and masked copies cost five
    times as much on a million rows."""
    miss = {float(m.code): REASONS.index(m.reason) for m in inst.missing_codes}
    skipped = np.int8(REASONS.index("skipped"))
    J = len(inst.items)
    reason = np.zeros((n, J), dtype=np.int8, order="F")
    value = np.zeros((n, J), dtype=np.int32, order="F")
    for j, it in enumerate(inst.items):
        r = reason[:, j]
        if it.type == "multiple":
            cols = [num[c] for c in it.raw_columns]
            for code, idx in miss.items():  # a missing code in any option column makes the item missing
                hit = cols[0] == code
                for v in cols[1:]:
                    hit |= v == code
                r += (np.int8(idx) - r) * hit.view(np.int8)  # the last listed code that occurs wins
            none = np.isnan(cols[0])
            chosen = (cols[0] == 1).view(np.int8).astype(np.int32)
            for bit, v in enumerate(cols[1:], start=1):
                none &= np.isnan(v)
                chosen |= (v == 1).view(np.int8).astype(np.int32) << bit
            r += skipped * (none & (r == 0)).view(np.int8)
            np.add(chosen, 1000, out=value[:, j])
        else:
            v = num[it.column]
            for code, idx in miss.items():  # the codes exclude each other, so their indicators add up
                r += np.int8(idx) * (v == code).view(np.int8)
            r += skipped * np.isnan(v).view(np.int8)
            with np.errstate(invalid="ignore"):  # NaN casts to garbage, which the mask then zeroes
                np.multiply(v.astype(np.int32), r == 0, out=value[:, j])
    return reason, value


def option_masks(inst: Instrument, value: np.ndarray, reason: np.ndarray, rows: np.ndarray,
                 file: str = "the survey file") -> np.ndarray:
    """The chosen options of `rows` (in that order) as bit masks over each item's options in instrument
    order (the responses contract, pipeline/schemas.py): 0 where the item was not answered. A single item
    maps its option code through a lookup table of the item's codes; a multiple-answer item's value is
    already 1000 + the mask (its option columns are listed in option order). A single answer that is no
    option of its item cannot be held as a mask: it is an InputError naming the record (the codebook
    check quarantines such records unless the instrument only warns about them)."""
    out = np.zeros((rows.size, value.shape[1]), dtype=np.int32, order="F")
    for j, it in enumerate(inst.items):
        v, answered = value[:, j][rows], reason[:, j][rows] == 0
        if it.type == "multiple":
            np.multiply(v - 1000, answered, out=out[:, j])
            continue
        codes = np.array(it.option_codes, dtype=np.int64)
        table = np.full(max(int(codes.max()), int(v.max()) if v.size else 0) + 1, -1, dtype=np.int32)
        table[codes] = 1 << np.arange(codes.size, dtype=np.int32)
        mask = np.where(answered, table[np.clip(v, 0, None)], 0)
        bad = answered & ((mask < 0) | (v < 0))
        if bad.any():
            k = int(np.flatnonzero(bad)[0])
            row = int(rows[k]) + 1  # rows index the file's records from 0
            raise InputError(
                f"{file} row {row}: column {it.column} has {int(v[k])}, which is not an option of item {it.id} "
                f"(options {list(it.option_codes)}); {int(bad.sum())} accepted record(s) like this. The "
                "instrument only warns about codes outside the codebook (checks: code_outside_codebook): set "
                "its action to quarantine, or correct the values with fieldwork. Nothing was written.")
        out[:, j] = mask
    return out


def take_rows(a: np.ndarray, rows: np.ndarray) -> np.ndarray:
    """a[rows] for a column-major respondent × item array, gathered column by column (each gather stays
    within one contiguous column, in cache) and returned column-major."""
    out = np.empty((rows.size, a.shape[1]), dtype=a.dtype, order="F")
    for j in range(a.shape[1]):
        np.take(a[:, j], rows, out=out[:, j])
    return out
