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


def _dedupe(codes: np.ndarray, uniques: np.ndarray) -> Coded:
    """Collapse repeated uniques (one dictionary per row group) so each value is parsed once."""
    inner, values = pd.factorize(pd.Index(uniques, dtype=object), use_na_sentinel=True)
    remap = np.append(inner.astype(np.int64), -1)  # codes of −1 (missing) index the appended −1
    return Coded(remap[codes], np.asarray(values, dtype=object))


def _distinct_dictionaries(chunks) -> tuple[list, np.ndarray]:
    """The distinct dictionaries of a column's chunks, and the index of each chunk's among them.

    Arrow reads a row group in batches of 128Ki rows, and every batch carries the row group's whole
    dictionary (the same buffers). A million respondents × 68 items is ~520 batches over 5 row groups:
    concatenating every batch's dictionary would copy the million ids 520 times (10 GiB of strings,
    beyond Arrow's 2 GiB offsets), so batches sharing buffers share one dictionary entry."""
    distinct, which, seen = [], np.empty(len(chunks), dtype=np.int64), {}
    for i, chunk in enumerate(chunks):
        d = chunk.dictionary
        key = (d.offset, len(d), tuple(None if b is None else (b.address, b.size) for b in d.buffers()))
        if key not in seen:
            seen[key] = len(distinct)
            distinct.append(d)
        which[i] = seen[key]
    return distinct, which


def _chunk_codes(chunks, which: np.ndarray, starts: np.ndarray) -> np.ndarray:
    """Codes into the concatenated distinct dictionaries (−1 = missing value)."""
    codes = []
    for chunk, j in zip(chunks, which, strict=True):
        idx = chunk.indices.fill_null(-1).to_numpy(zero_copy_only=False).astype(np.int64)
        if chunk.null_count:
            idx[idx >= 0] += starts[j]
        else:
            idx += starts[j]
        codes.append(idx)
    return np.concatenate(codes) if codes else np.zeros(0, dtype=np.int64)


def _positions(arr, respondent_ids: np.ndarray, path: Path, pa, pc) -> Coded:
    value_set = pa.array(np.asarray(respondent_ids, dtype=object), type=pa.string())
    chunks = arr.chunks
    if not chunks:
        return Coded(np.zeros(0, dtype=np.int64), np.asarray(respondent_ids, dtype=object))
    # one hash lookup for the distinct dictionaries together (index_in rebuilds its table per call)
    distinct, which = _distinct_dictionaries(chunks)
    dictionaries = pa.concat_arrays(distinct)
    where = pc.index_in(dictionaries, value_set=value_set)
    if where.null_count:
        unknown = pc.filter(dictionaries, pc.is_null(where)).to_pylist()
        raise InputError(f"{path}: respondent id(s) {unknown[:5]} are not in respondents.parquet; re-run "
                         "ingest so both tables come from one delivery.")
    lookup = np.append(where.to_numpy(zero_copy_only=False).astype(np.int64), -1)
    starts = np.concatenate([[0], np.cumsum([len(d) for d in distinct])[:-1]]).astype(np.int64)
    return Coded(lookup[_chunk_codes(chunks, which, starts)], np.asarray(respondent_ids, dtype=object))


def read_responses(path: Path, respondent_ids: np.ndarray | None = None) -> dict[str, Coded]:
    """Read responses.parquet as dictionary codes (a 60-million-row file never becomes Python strings).

    With `respondent_ids`, respondent codes are positions in that array (Arrow's hash lookup of each row
    group's dictionary, much faster than Python strings), and an unknown id is an InputError.
    """
    import pyarrow as pa
    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    if not path.exists():
        raise InputError(f"{path} does not exist. Run `python -m pipeline ingest --wave <wave>` first.")
    names = pq.read_schema(path).names
    absent = [c for c in RESPONSES.names if c not in names]
    if absent:
        raise InputError(f"{path}: lacks column(s) {absent} of the responses contract (pipeline/schemas.py); "
                         "re-run ingest with the current pipeline.")
    table = pq.read_table(path, columns=RESPONSES.names, read_dictionary=RESPONSES.names)
    nullable = {c.name: c.nullable for c in RESPONSES.columns}
    out = {}
    for col in RESPONSES.names:
        arr = table.column(col)
        if arr.null_count and not nullable[col]:
            raise InputError(f"{path}: column {col} is missing in {arr.null_count} row(s); every row needs one. "
                             "Re-run ingest.")
        if not pa.types.is_dictionary(arr.type):
            arr = arr.dictionary_encode()
        # Each row group carries its own small dictionary. Concatenating them (codes offset by the
        # dictionaries before) costs nothing, where unifying them would hash every id again; the
        # repeated uniques that result are harmless: build_matrix maps uniques, never compares codes.
        if col == "respondent_id" and respondent_ids is not None:
            out[col] = _positions(arr, respondent_ids, path, pa, pc)
            continue
        # Batches of one row group share its dictionary (see _distinct_dictionaries); the repeated
        # uniques of several row groups are harmless: build_matrix maps uniques, never compares codes.
        distinct, which = _distinct_dictionaries(arr.chunks)
        starts = np.concatenate([[0], np.cumsum([len(d) for d in distinct])[:-1]]).astype(np.int64)
        uniques = [d.to_numpy(zero_copy_only=False).astype(object) for d in distinct]
        coded = Coded(_chunk_codes(arr.chunks, which, starts),
                      np.concatenate(uniques) if uniques else np.zeros(0, dtype=object))
        out[col] = coded if col == "respondent_id" else _dedupe(coded.codes, coded.uniques)
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
    if rid.uniques is respondent_ids or (len(rid.uniques) == len(index) and np.array_equal(rid.uniques, index)):
        resp_map = np.arange(len(index))  # codes are already positions (read_responses with the ids)
    else:
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
    width = n_codes + 1  # last slot: no response code
    pair = item_idx * width + np.where(rc.codes < 0, n_codes, rc.codes)
    table = np.full(iset.k * width, -1, dtype=np.int64)
    for cell in np.flatnonzero(np.bincount(pair, minlength=iset.k * width)):
        i, c = divmod(int(cell), width)
        if c < n_codes:
            mask = parse_code(iset.items[i], str(rc.uniques[c]))
            table[cell] = -1 if mask is None else mask
    row_mask = table[pair]
    del pair
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
    del resp_idx, item_idx
    status = np.full(n * k, ABSENT, dtype=np.int8)
    status[flat] = status_rows
    # Every row fills one cell, so fewer filled cells than rows means a repeated (respondent, item).
    if np.count_nonzero(status != ABSENT) < flat.size:
        counts = np.bincount(flat, minlength=n * k)
        cell = int(np.flatnonzero(counts > 1)[0])
        raise InputError(f"{source}: respondent {index[cell // k]} has {int(counts[cell])} rows for item "
                         f"{iset.ids[cell % k]}; the key (respondent_id, item_id) must be unique.")
    chosen = np.zeros(n * k, dtype=np.int32)
    chosen[flat] = np.where(answered, row_mask, 0)
    return ResponseMatrix(np.asarray(index, dtype=object), chosen.reshape(n, k), status.reshape(n, k))
