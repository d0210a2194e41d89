"""The long responses table (one row per respondent × item) → wide respondents × items matrices.

Every column is reduced to integer codes first (pandas factorize, or the parquet dictionary read by
`read_responses`), distinct (item, response code) pairs are parsed once, and the matrices are filled
by fancy indexing: no Python loop over rows or respondents, so a national-size file stays in seconds.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from pipeline.errors import InputError
from pipeline.schemas import RESPONSES
from pipeline.scoring.items import ABSENT, ANSWERED, REASONS, ItemSet, parse_code


@dataclass(frozen=True)
class Coded:
    """A column as integer codes into `uniques`; −1 = missing value."""

    codes: np.ndarray
    uniques: np.ndarray


@dataclass(frozen=True)
class ResponseMatrix:
    respondent_ids: np.ndarray  # (n,) str, the row order of both matrices
    chosen: np.ndarray  # (n, k) int32 option masks (0 unless answered)
    status: np.ndarray  # (n, k) int8: items.ANSWERED … items.ABSENT


def coded_from_frame(df: pd.DataFrame) -> dict[str, Coded]:
    out = {}
    for col in RESPONSES.names:
        codes, uniques = pd.factorize(df[col], use_na_sentinel=True)
        out[col] = Coded(np.asarray(codes, dtype=np.int64), np.asarray(uniques, dtype=object))
    return out


def read_responses(path: Path) -> dict[str, Coded]:
    """Read responses.parquet as dictionary codes (a 60-million-row file never becomes Python strings)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    if not path.exists():
        raise InputError(f"{path} does not exist. Run `python -m pipeline ingest --wave <wave>` first.")
    names = pq.read_schema(path).names
    absent = [c for c in RESPONSES.names if c not in names]
    if absent:
        raise InputError(f"{path}: lacks column(s) {absent} of the responses contract (pipeline/schemas.py); "
                         "re-run ingest with the current pipeline.")
    table = pq.read_table(path, columns=RESPONSES.names, read_dictionary=RESPONSES.names)
    out = {}
    for col in RESPONSES.names:
        arr = table.column(col)
        if not pa.types.is_dictionary(arr.type):
            arr = arr.dictionary_encode()
        # Each row group carries its own small dictionary. Concatenating them (codes offset by the
        # dictionaries before) costs nothing, where unifying them would hash every id again; the
        # duplicate uniques that result are harmless to build_matrix, which maps uniques, not codes.
        codes, uniques, offset = [], [], 0
        for chunk in arr.chunks:
            idx = chunk.indices.to_numpy(zero_copy_only=False)
            idx = np.where(chunk.indices.is_null().to_numpy(zero_copy_only=False), -1,
                           np.nan_to_num(idx, nan=-1).astype(np.int64) + offset)
            codes.append(idx)
            values = chunk.dictionary.to_numpy(zero_copy_only=False).astype(object)
            uniques.append(values)
            offset += len(values)
        out[col] = Coded(np.concatenate(codes) if codes else np.zeros(0, dtype=np.int64),
                         np.concatenate(uniques) if uniques else np.zeros(0, dtype=object))
    return out


def build_matrix(coded: dict[str, Coded], iset: ItemSet, respondent_ids: np.ndarray,
                 source: str = "responses.parquet") -> ResponseMatrix:
    """Wide matrices for `respondent_ids` (row order kept); respondents without rows are all ABSENT."""
    rid, iid, rc, mr = (coded[c] for c in RESPONSES.names)
    for name, col in (("respondent_id", rid), ("item_id", iid), ("missing_reason", mr)):
        if (col.codes < 0).any():
            row = int(np.flatnonzero(col.codes < 0)[0])
            raise InputError(f"{source}: column {name} is missing at row {row}; every row needs one. "
                             "Re-run ingest.")
    # items: dictionary → instrument position
    item_pos = {item_id: i for i, item_id in enumerate(iset.ids)}
    unknown_items = list(dict.fromkeys(str(u) for u in iid.uniques if u not in item_pos))
    if unknown_items:
        raise InputError(f"{source}: item id(s) {unknown_items[:10]} are not in the instrument; "
                         "the wave's instrument.yaml and the ingested responses disagree.")
    item_map = np.array([item_pos[u] for u in iid.uniques], dtype=np.int64)
    item_idx = item_map[iid.codes] if iid.codes.size else iid.codes
    present = np.bincount(item_idx, minlength=iset.k) > 0
    if iid.codes.size and not present.all():
        lost = [iset.ids[i] for i in np.flatnonzero(~present)]
        raise InputError(f"{source}: instrument item(s) {lost[:10]} have no rows at all; the ingest stage "
                         "dropped them or the instrument lists items the questionnaire did not ask.")
    # respondents: dictionary → row of the matrix
    index = pd.Index(np.asarray(respondent_ids, dtype=object), dtype=object)
    if not index.is_unique:
        raise InputError(f"{source}: the respondent list repeats ids; respondents.parquet must have one row each.")
    resp_map = index.get_indexer(pd.Index(rid.uniques.astype(object), dtype=object))
    if (resp_map < 0).any():
        extra = [str(u) for u, m in zip(rid.uniques, resp_map, strict=True) if m < 0]
        raise InputError(f"{source}: respondent id(s) {extra[:5]} ({len(extra)} in all) are not in "
                         "respondents.parquet; re-run ingest so both tables come from one delivery.")
    resp_idx = resp_map[rid.codes]
    # reasons
    bad_reasons = list(dict.fromkeys(str(u) for u in mr.uniques if u not in REASONS))
    if bad_reasons:
        raise InputError(f"{source}: missing_reason value(s) {bad_reasons} are not one of {list(REASONS)}.")
    reason_map = np.array([REASONS[u] for u in mr.uniques], dtype=np.int8)
    status_rows = reason_map[mr.codes]
    # response codes: parse each distinct (item, code) pair once
    n_codes = len(rc.uniques)
    table = np.full((iset.k, n_codes + 1), -1, dtype=np.int64)  # last column: missing code
    code_col = np.where(rc.codes < 0, n_codes, rc.codes)
    seen = np.bincount(item_idx * (n_codes + 1) + code_col, minlength=iset.k * (n_codes + 1))
    for pair in np.flatnonzero(seen):
        i, c = divmod(int(pair), n_codes + 1)
        if c < n_codes:
            mask = parse_code(iset.items[i], str(rc.uniques[c]))
            table[i, c] = -1 if mask is None else mask
    row_mask = table[item_idx, code_col]
    answered = status_rows == ANSWERED
    bad = answered & (row_mask < 0)
    if bad.any():
        rows = np.flatnonzero(bad)
        first = int(rows[0])
        item = iset.items[int(item_idx[first])]
        value = None if rc.codes[first] < 0 else rc.uniques[rc.codes[first]]
        expect = ("option codes joined by commas, e.g. '1,3', or '' for none" if item.type == "multiple"
                  else "one option code")
        raise InputError(f"{source}: item {item.id}, respondent {rid.uniques[rid.codes[first]]}: response_code "
                         f"{value!r} with missing_reason 'answered' is not a valid answer (expected {expect} of "
                         f"{list(item.option_codes)}); {rows.size} row(s) like this. Fix the ingest mapping or "
                         "mark the rows as refused/skipped.")
    n, k = len(index), iset.k
    flat = resp_idx * k + item_idx
    counts = np.bincount(flat, minlength=n * k)
    if (counts > 1).any():
        cell = int(np.flatnonzero(counts > 1)[0])
        raise InputError(f"{source}: respondent {index[cell // k]} has {int(counts[cell])} rows for item "
                         f"{iset.ids[cell % k]}; the key (respondent_id, item_id) must be unique.")
    status = np.full(n * k, ABSENT, dtype=np.int8)
    status[flat] = status_rows
    chosen = np.zeros(n * k, dtype=np.int32)
    chosen[flat] = np.where(answered, row_mask, 0)
    return ResponseMatrix(np.asarray(index, dtype=object), chosen.reshape(n, k), status.reshape(n, k))
