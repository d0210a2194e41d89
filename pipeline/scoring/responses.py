"""responses.parquet → the respondents × items matrices scoring works on.

The file already holds the answers in that shape (pipeline/schemas.py, RESPONSES: per item an option
mask and a missing-reason index), so reading is a column copy per item and a check that every value is
one the contract allows: nothing is parsed, no Python object is made per answer.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from pipeline.errors import InputError
from pipeline.schemas import response_columns
from pipeline.scoring.items import ABSENT, ANSWERED, ItemSet, item_codes
from pipeline.vocabulary import RESPONSE_STATUSES

_ITEM_COLUMN = re.compile(r"(?:chosen|reason)_(.+)")


@dataclass(frozen=True)
class ResponseMatrix:
    respondent_ids: np.ndarray  # (n,) str, the row order of both matrices
    chosen: np.ndarray  # (n, k) int32 option masks (0 unless answered)
    status: np.ndarray  # (n, k) int8: items.ANSWERED … items.ABSENT


def _open(path: Path, iset: ItemSet):
    """The responses table's Arrow columns scoring reads, after checking the file's layout."""
    import pyarrow.parquet as pq

    if not path.exists():
        raise InputError(f"{path} does not exist. Run `python -m pipeline ingest --wave <wave>` first.")
    names = pq.read_schema(path).names
    if "response_code" in names or "item_id" in names:
        raise InputError(f"{path} is a responses table of the older long layout (one row per respondent and "
                         "item); re-run ingest with the current pipeline, which writes one row per respondent.")
    _check_columns(names, iset, str(path))
    columns = ["respondent_id", *(c for item_id in iset.ids for c in response_columns(item_id))]
    return pq.read_table(path, columns=columns)


def read_responses(path: Path, iset: ItemSet, respondent_ids: np.ndarray) -> ResponseMatrix:
    """The matrices of `respondent_ids` (their order kept) from responses.parquet; a respondent the file
    does not hold is ABSENT on every item."""
    return build_matrix(_open(path, iset), iset, respondent_ids, str(path))


def read_answer_codes(path: Path, iset: ItemSet, respondent_ids: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(respondent ids, answer-code matrix n × k) of `respondent_ids` from responses.parquet, every value
    checked as build_matrix checks it, without the option-mask and status matrices: each item's two
    columns become one column of codes (pipeline.scoring.items), a respondent the file lacks is missing."""
    table = _open(path, iset)
    source = str(path)
    index, file_ids, pos = _rows(table, respondent_ids, source)
    n, k = index.size, iset.k
    codes_t = np.empty((k, n), dtype=iset.code_dtype)  # item-major while filling: each item a contiguous row
    for j, (reason, mask) in enumerate(_item_columns(table, iset, file_ids, source)):
        if pos is None:
            codes_t[j] = item_codes(iset, j, mask, reason, checked=True)
        else:
            codes_t[j] = iset.offsets[j] + (1 << int(iset.n_options[j])) + 1  # missing unless the file has the row
            codes_t[j, pos] = item_codes(iset, j, mask, reason, checked=True)
    del table
    return np.asarray(index, dtype=object), np.ascontiguousarray(codes_t.T)


def _check_columns(names, iset: ItemSet, source: str) -> None:
    if "respondent_id" not in names:
        raise InputError(f"{source}: has no respondent_id column; it is not a responses table of this pipeline "
                         "(pipeline/schemas.py, RESPONSES). Re-run ingest.")
    known = set(iset.ids)
    unknown = sorted({m.group(1) for c in names if (m := _ITEM_COLUMN.fullmatch(c)) and m.group(1) not in known})
    if unknown:
        raise InputError(f"{source}: item id(s) {unknown[:10]} are not in the instrument; the wave's "
                         "instrument.yaml and the ingested responses disagree. Re-run ingest with this instrument.")
    absent = [item_id for item_id in iset.ids if any(c not in names for c in response_columns(item_id))]
    if absent:
        raise InputError(f"{source}: instrument item(s) {absent[:10]} ({len(absent)} in all) have no chosen_/reason_ "
                         "columns; the ingest stage dropped them or the instrument lists items the questionnaire "
                         "did not ask.")


def _integers(table, name: str, source: str) -> np.ndarray:
    values = np.asarray(table[name].to_numpy())  # an Arrow column or a pandas one
    if values.dtype.kind not in "iu":
        raise InputError(f"{source}: column {name} must hold whole numbers without missing values (found "
                         f"{values.dtype}); the file does not follow the responses contract. Re-run ingest.")
    return values


def _rows(table, respondent_ids: np.ndarray, source: str):
    """(the respondents' index, the file's ids, the file's rows' positions among the respondents, or None
    when both are the same ids in the same order)."""
    index = pd.Index(np.asarray(respondent_ids, dtype=object), dtype=object)
    if not index.is_unique:
        raise InputError(f"{source}: the respondent list repeats ids; respondents.parquet must have one row each.")
    file_ids = np.asarray(table["respondent_id"].to_numpy(), dtype=object)
    if pd.isna(file_ids).any():
        row = int(np.flatnonzero(pd.isna(file_ids))[0])
        raise InputError(f"{source}: respondent_id is missing at row {row}; every row needs one. Re-run ingest.")
    if file_ids.size == index.size and np.array_equal(file_ids, index.to_numpy()):
        return index, file_ids, None  # the usual case: both tables in respondent_id order, one row each
    pos = index.get_indexer(file_ids)
    if (pos < 0).any():
        extra = file_ids[pos < 0]
        raise InputError(f"{source}: respondent id(s) {list(extra[:5])} ({extra.size} in all) are not in "
                         "respondents.parquet; re-run ingest so both tables come from one delivery.")
    repeated = pd.Index(file_ids).duplicated()
    if repeated.any():
        raise InputError(f"{source}: respondent {file_ids[repeated][0]} has more than one row; the key "
                         "respondent_id must be unique.")
    return index, file_ids, pos


def _item_columns(table, iset: ItemSet, file_ids: np.ndarray, source: str):
    """Per item, in instrument order: (reason, mask) of the file's rows, every value checked against the
    contract: a reason index 0–3, an option mask within the item's options (one option for single and
    true/false items) when answered and 0 otherwise."""
    for j, (item, item_id) in enumerate(zip(iset.items, iset.ids, strict=True)):
        c_name, r_name = response_columns(item_id)
        reason, mask = _integers(table, r_name, source), _integers(table, c_name, source)
        bad = (reason < 0) | (reason >= len(RESPONSE_STATUSES))
        if bad.any():
            row = int(np.flatnonzero(bad)[0])
            raise InputError(f"{source}: {r_name} is {int(reason[row])} for respondent {file_ids[row]}; a missing "
                             f"reason is one of 0–{len(RESPONSE_STATUSES) - 1} ({', '.join(RESPONSE_STATUSES)}).")
        answered = reason == ANSWERED
        m = int(iset.n_options[j])
        wrong = np.where(answered, (mask < 0) | (mask >= 1 << m), mask != 0)
        if item.type != "multiple":  # one option, one bit
            wrong |= answered & ((mask == 0) | ((mask & (mask - 1)) != 0))
        if wrong.any():
            row = int(np.flatnonzero(wrong)[0])
            what = ("one option (a mask with one bit)" if item.type != "multiple" else
                    f"a mask of its {m} options (0 to {(1 << m) - 1})")
            raise InputError(f"{source}: item {item_id}, respondent {file_ids[row]}: {c_name} is {int(mask[row])} with "
                             f"{r_name} {RESPONSE_STATUSES[int(reason[row])]}; an answered item holds {what}, any "
                             f"other 0. {int(wrong.sum())} row(s) like this: re-run ingest with this instrument.")
        yield reason, mask


def build_matrix(table, iset: ItemSet, respondent_ids: np.ndarray, source: str = "responses.parquet") -> ResponseMatrix:
    """The matrices from a responses table (an Arrow table or a DataFrame with the RESPONSES columns), every
    value checked against the contract (see _item_columns)."""
    _check_columns(list(table.column_names if hasattr(table, "column_names") else table.columns), iset, source)
    index, file_ids, pos = _rows(table, respondent_ids, source)
    n, k = index.size, iset.k
    chosen = np.zeros((n, k), dtype=np.int32, order="F")
    status = np.full((n, k), ABSENT, dtype=np.int8, order="F")
    for j, (reason, mask) in enumerate(_item_columns(table, iset, file_ids, source)):
        if pos is None:
            status[:, j], chosen[:, j] = reason, mask
        else:
            status[pos, j], chosen[pos, j] = reason, mask
    # row-major, as scoring's row sums expect
    return ResponseMatrix(np.asarray(index, dtype=object), np.ascontiguousarray(chosen), np.ascontiguousarray(status))
