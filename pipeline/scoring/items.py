"""Item scoring: turn answers into credit, one respondents × items matrix at a time.

An answer is held as a bit mask over the item's options in instrument order (bit j = the j-th option
listed), so single, true/false and multiple-answer items share one representation and one lookup:
credit = LUT[item][mask]. Ingest writes the masks (the responses contract, pipeline/schemas.py), so
nothing is parsed here.

Credit (the `correct` fraction, 0–1; points earned = points × correct):
- single / true_false: 1 if the chosen option is the key, else 0.
- multiple, all_or_nothing: 1 if the set chosen equals the key set exactly, else 0.
- multiple, partial: the share of the item's options classified correctly, i.e. chosen when in the
  key or left unchosen when not in the key: (m − |chosen △ key|) / m for m options. Example: options
  {1,2,3,4}, key {1,3}, chosen {1,2} → option 1 right, 2 wrong, 3 wrong, 4 right → 2/4 = 0.5; with
  2.5 points that earns 1.25. Choosing nothing on that item still earns 2/4, which is what the rule
  says; it is the instrument designer's call to use all_or_nothing where that is unwanted.
- "不知道" (dont_know) is an answer that earns 0; refused and skipped (and an item with no row at all
  for a respondent) are missing, never scored here.

Answer codes: what scoring keeps of a respondent's answer to an item is one small integer, the position
in the item set's flat table of answers (`ItemSet.flat_credit`): item j owns 2**m + 2 entries from
offsets[j] on, one per option mask, then don't know, then missing. Credit, points, "missing" and the
options chosen are all lookups of that code, so a million respondents × 68 items are 136 MB of int16
instead of float matrices, and every per-item count is a bincount of the item's codes.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from pipeline.errors import InputError, SpecError
from pipeline.instruments.model import Item
from pipeline.vocabulary import RESPONSE_STATUSES

# Status codes of a respondent × item cell: the missing-reason indices of the responses contract, and
# ABSENT for a respondent the responses table does not hold. Everything at or above REFUSED is missing.
ANSWERED, DONT_KNOW, REFUSED, SKIPPED = (RESPONSE_STATUSES.index(r) for r in ("answered", "dont_know", "refused", "skipped"))
ABSENT = len(RESPONSE_STATUSES)
MAX_OPTIONS = 20  # a lookup table of 2**m entries per item stays small


@dataclass(frozen=True)
class ItemSet:
    """The instrument's items compiled to arrays (instrument order)."""

    items: tuple[Item, ...]
    ids: tuple[str, ...]
    points: np.ndarray  # (k,) float
    key_bits: np.ndarray  # (k,) int64
    n_options: np.ndarray  # (k,) int
    dichotomous: np.ndarray  # (k,) bool: credit can only be 0 or 1
    luts: tuple[np.ndarray, ...]  # per item: credit for every mask 0 … 2**m − 1
    offsets: np.ndarray  # (k,) int64: where item j's answer codes start (see the module note)
    flat_credit: np.ndarray  # per item: its LUT, then 0.0 (don't know), then NaN (missing)

    @property
    def k(self) -> int:
        return len(self.items)

    @property
    def dont_know_codes(self) -> np.ndarray:
        return self.offsets + (1 << self.n_options)

    @property
    def code_dtype(self) -> type:
        return np.int16 if self.flat_credit.size <= np.iinfo(np.int16).max else np.int32

    def flat_earned(self) -> np.ndarray:
        """Points earned per answer code (missing earns 0): fmax(credit, 0) × the item's points."""
        sizes = np.diff(np.append(self.offsets, self.flat_credit.size))
        return np.fmax(self.flat_credit, 0.0) * np.repeat(self.points, sizes)

    def option_code(self, i: int, bit: int) -> int:
        return self.items[i].options[bit][0]


def _lut(item: Item, key_bits: int) -> np.ndarray:
    m = len(item.options)
    masks = np.arange(2**m, dtype=np.int64)
    if item.type == "multiple" and item.scoring == "partial":
        wrong = np.array([bin(int(x) ^ key_bits).count("1") for x in masks], dtype=np.float64)
        return (m - wrong) / m
    return (masks == key_bits).astype(np.float64)


def compile_items(items: tuple[Item, ...] | list[Item], where: str = "instrument") -> ItemSet:
    items = tuple(items)
    if not items:
        raise SpecError(f"{where}: the instrument has no items; there is nothing to score.")
    ids = tuple(it.id for it in items)
    if len(set(ids)) != len(ids):
        raise SpecError(f"{where}: item ids repeat ({sorted({i for i in ids if ids.count(i) > 1})}).")
    key_bits, luts = [], []
    for it in items:
        codes = [c for c, _ in it.options]
        if len(codes) > MAX_OPTIONS:
            raise SpecError(f"{where}: item {it.id} has {len(codes)} options; at most {MAX_OPTIONS} are supported.")
        if len(set(codes)) != len(codes):
            raise SpecError(f"{where}: item {it.id} repeats option codes {codes}; give each option its own code.")
        unknown = [k for k in it.key if k not in codes]
        if unknown:
            raise SpecError(f"{where}: item {it.id}: key {unknown} is not among the option codes {codes}.")
        bits = sum(1 << codes.index(k) for k in it.key)
        key_bits.append(bits)
        luts.append(_lut(it, bits))
    return ItemSet(
        items=items,
        ids=ids,
        points=np.array([it.points for it in items], dtype=np.float64),
        key_bits=np.array(key_bits, dtype=np.int64),
        n_options=np.array([len(it.options) for it in items]),
        dichotomous=np.array([not (it.type == "multiple" and it.scoring == "partial") for it in items]),
        luts=tuple(luts),
        offsets=np.concatenate([[0], np.cumsum([lut.size + 2 for lut in luts])[:-1]]).astype(np.int64),
        flat_credit=np.concatenate([np.append(lut, [0.0, np.nan]) for lut in luts]),
    )


def item_codes(iset: ItemSet, j: int, mask: np.ndarray, status: np.ndarray, checked: bool = False) -> np.ndarray:
    """Answer codes (iset.code_dtype) of item j from its option masks and statuses, one per respondent;
    `checked`: the masks are known to lie within the item's options and to be 0 unless answered (as
    responses.parquet's columns are once read), which saves the checks."""
    m = int(iset.n_options[j])
    size = 1 << m
    if not checked:
        answered = status == ANSWERED
        bad = answered & ((mask < 0) | (mask >= size))
        if bad.any():
            r = int(np.flatnonzero(bad)[0])
            raise InputError(f"item {iset.ids[j]}: option mask {int(mask[r])} is outside the item's "
                             f"{iset.n_options[j]} options; the responses and the instrument disagree.")
        mask = np.where(answered, mask, 0)
    # one table per item over (status, mask): the mask's own code when answered, else don't know or missing
    lut = np.full((ABSENT + 1, size), int(iset.offsets[j]) + size + 1, dtype=iset.code_dtype)
    lut[ANSWERED] = int(iset.offsets[j]) + np.arange(size)
    lut[DONT_KNOW] = int(iset.offsets[j]) + size
    return lut.ravel()[(status.astype(np.int32) << m) | mask]


def answer_codes(iset: ItemSet, chosen: np.ndarray, status: np.ndarray) -> np.ndarray:
    """The answer-code matrix (n × k, iset.code_dtype, row-major) of option-mask and status matrices."""
    n, k = chosen.shape
    if k != iset.k or status.shape != chosen.shape:
        raise ValueError(f"answer_codes: matrices of shape {chosen.shape}/{status.shape} for {iset.k} items")
    codes = np.empty((n, k), dtype=iset.code_dtype)
    for j in range(k):
        codes[:, j] = item_codes(iset, j, chosen[:, j], status[:, j])
    return codes


def credit(iset: ItemSet, chosen: np.ndarray, status: np.ndarray) -> np.ndarray:
    """Credit matrix (n × k, float64): LUT credit when answered, 0 for dont_know, NaN when missing."""
    return iset.flat_credit[answer_codes(iset, chosen, status)]
