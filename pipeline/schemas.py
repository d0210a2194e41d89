"""The written contract of every stage table (DESIGN.md §3), validated on read and on write.

A schema lists the required columns in their written order, the kind of each, whether it may hold
missing values, the row key (rows are written sorted by it and it must be unique), and a pattern for
extra columns a table may carry (replicate weights, benchmark shares, quality flags).

County, one meaning per spelling (units: survey_instruments/counties.yaml, pipeline.vocabulary.counties()):
- `county_raw`: the value of the delivery's county column (S1) as delivered; it exists only while reading
  a delivery (ingest) and in the demo generator; the instrument's `counties:` maps it to a unit.
- `county_code`: the unit's standard code (the six-digit administrative code, or QZKF/QZTS for the two
  zones); every processed table, control table and weighting class uses it.
- `county`: the unit's Chinese name, for readers; it is also the domain label of domain type `county` in
  estimates.csv and targets.csv.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np
import pandas as pd

from pipeline.vocabulary import RESPONSE_STATUSES

KINDS = ("str", "int", "float", "bool", "any")


@dataclass(frozen=True)
class Column:
    name: str
    kind: str = "any"
    nullable: bool = True


@dataclass(frozen=True)
class TableSchema:
    name: str
    columns: tuple[Column, ...]
    key: tuple[str, ...] = ()
    extra: str | None = None  # regex for allowed extra columns; None = no extras allowed
    extra_kind: str = "any"

    @property
    def names(self) -> list[str]:
        return [c.name for c in self.columns]


def C(name: str, kind: str = "any", nullable: bool = True) -> Column:  # noqa: N802 - table-like brevity
    assert kind in KINDS, kind
    return Column(name, kind, nullable)


def _kind_ok(s: pd.Series, kind: str) -> bool:
    if kind == "any":
        return True
    if kind == "str":
        return pd.api.types.is_string_dtype(s) or pd.api.types.is_object_dtype(s) or isinstance(
            s.dtype, pd.CategoricalDtype
        ) or s.isna().all()
    if kind == "int":
        return pd.api.types.is_integer_dtype(s) or (s.isna().all())
    if kind == "float":
        return pd.api.types.is_numeric_dtype(s) and not pd.api.types.is_bool_dtype(s)
    if kind == "bool":
        return pd.api.types.is_bool_dtype(s) or s.isna().all()
    return False


def validate(df: pd.DataFrame, schema: TableSchema, check_key: bool = True) -> pd.DataFrame:
    """Check `df` against `schema`; return it with columns in contract order (extras after, sorted).

    Raises ValueError naming the table, the column and what to do about it.
    """
    missing = [c for c in schema.names if c not in df.columns]
    if missing:
        raise ValueError(
            f"table {schema.name!r} lacks required column(s) {missing}; it has {list(df.columns)}. "
            "The stage that writes it and pipeline/schemas.py disagree: fix the stage or the schema."
        )
    extras = [c for c in df.columns if c not in schema.names]
    if extras:
        if schema.extra is None:
            raise ValueError(
                f"table {schema.name!r} has columns not in its contract: {extras}. "
                "Add them to pipeline/schemas.py or drop them before writing."
            )
        bad = [c for c in extras if not re.fullmatch(schema.extra, str(c))]
        if bad:
            raise ValueError(
                f"table {schema.name!r} has columns {bad} that match neither its contract nor the "
                f"pattern {schema.extra!r} for extra columns."
            )
        wrong = [c for c in extras if not _kind_ok(df[c], schema.extra_kind)]
        if wrong:
            raise ValueError(
                f"table {schema.name!r}: extra column(s) {wrong[:5]} must be {schema.extra_kind}; found dtype "
                f"{df[wrong[0]].dtype}."
            )
    for col in schema.columns:
        s = df[col.name]
        if not _kind_ok(s, col.kind):
            raise ValueError(
                f"table {schema.name!r}, column {col.name!r}: expected {col.kind}, found dtype {s.dtype}."
            )
        if not col.nullable and s.isna().any():
            row = int(np.flatnonzero(s.isna().to_numpy())[0])
            raise ValueError(
                f"table {schema.name!r}, column {col.name!r}: {int(s.isna().sum())} missing value(s) "
                f"(first at row {row}); this column may not be missing."
            )
        if col.kind == "float" and s.dtype.kind == "f" and np.isinf(s.to_numpy()).any():
            raise ValueError(f"table {schema.name!r}, column {col.name!r}: infinite values.")
    if schema.key and check_key:
        _, unique = key_order(df, schema.key)
        if not unique:
            raise duplicate_key_error(df, schema)
    ordered = schema.names + sorted(extras)
    return df[ordered]


def duplicate_key_error(df: pd.DataFrame, schema: TableSchema) -> ValueError:
    dup = df.duplicated(list(schema.key), keep=False)
    first = df.loc[dup, list(schema.key)].head(3).to_dict("records")
    return ValueError(f"table {schema.name!r}: key {list(schema.key)} is not unique, e.g. {first}.")


def _steps(s: pd.Series) -> tuple[np.ndarray, np.ndarray] | None:
    """(next value greater, next value equal) between neighbouring rows, in the order pandas sorts by;
    None when the column has missing values (their place in the order is a matter for sort_values)."""
    if isinstance(s.dtype, pd.CategoricalDtype):  # pandas sorts categoricals by category order
        v = s.cat.codes.to_numpy()
        if (v < 0).any():
            return None
    elif pd.api.types.is_numeric_dtype(s) or pd.api.types.is_bool_dtype(s):
        if s.isna().any():
            return None
        v = s.to_numpy()
    else:  # text: Arrow compares UTF-8 bytes, which is code-point order, as Python and pandas sort
        import pyarrow as pa
        import pyarrow.compute as pc

        try:
            arr = pa.array(s, from_pandas=True)
        except (pa.ArrowInvalid, pa.ArrowTypeError):  # mixed Python objects: leave it to pandas
            return None
        if arr.null_count:
            return None
        head, tail = arr.slice(0, len(arr) - 1), arr.slice(1)
        return (pc.greater(tail, head).to_numpy(zero_copy_only=False),
                pc.equal(tail, head).to_numpy(zero_copy_only=False))
    return v[1:] > v[:-1], v[1:] == v[:-1]


def key_order(df: pd.DataFrame, key: tuple[str, ...] | list[str]) -> tuple[bool, bool]:
    """(rows already sorted by key, key unique), by comparing neighbouring rows column by column: O(n)
    for the tables that stages build in key order (tens of millions of rows), no hashing, no sorting."""
    n = len(df)
    if n < 2:
        return True, True
    tied = np.ones(n - 1, dtype=bool)  # neighbours equal on every key column so far
    for col in key:
        steps = _steps(df[col])
        if steps is None or (tied & ~steps[0] & ~steps[1]).any():  # a step down where the prefix ties
            return False, not bool(df.duplicated(list(key)).any())
        tied &= steps[1]
    return True, not bool(tied.any())


def _schema(name, columns, key=(), extra=None, extra_kind="any") -> TableSchema:
    return TableSchema(name, tuple(columns), tuple(key), extra, extra_kind)


RESPONDENTS = _schema(
    "respondents",
    [
        C("respondent_id", "str", False), C("wave", "int", False),
        C("county_code", "str", False), C("county", "str", False),
        C("stratum", "str", False), C("psu", "str", False), C("ssu", "str", False),
        # missing when the delivery mode gives a weight instead (w_design or w_delivered, below)
        C("p_psu", "float"), C("p_ssu", "float"), C("p_hh", "float"),
        C("n_adults", "int", False),
        C("sex", "str", False), C("age", "int", False), C("age_band", "str", False),
        C("education", "str", False), C("urban", "str", False), C("occupation", "str", False),
        C("hukou", "str"), C("interviewer_id", "str"), C("interview_minutes", "float"),
        C("is_farmer", "bool", False), C("is_worker", "bool", False),
        C("is_elderly", "bool", False), C("is_official", "bool", False),
    ],
    key=("respondent_id",),
    # quality flags; the delivered design weight or final weight of modes design_weight / final_weight
    extra=r"flag_[a-z_]+|w_design|w_delivered",
)

# Responses, one row per respondent and two integer columns per item of the instrument: the answers in the
# shape scoring works on, so nothing is spelled out as text at ingest and parsed back at scoring.
#   chosen_<item>  int32  the options chosen, as a bit mask over the item's options in instrument.yaml
#                         order (bit j = the j-th listed option): a single or true/false answer has one
#                         bit, a multiple-answer item any number (0 = answered, nothing chosen); 0 unless
#                         the item was answered
#   reason_<item>  int8   the index in RESPONSE_STATUSES: 0 answered, 1 dont_know (an answer that earns 0),
#                         2 refused, 3 skipped
# A wide table, not a long one (respondent × item rows): 68 items cost 340 bytes a respondent instead of
# 68 keyed rows, scoring reads the columns straight into its matrices, and the key is the respondents'.

RESPONSES = _schema(
    "responses",
    [C("respondent_id", "str", False)],
    key=("respondent_id",),
    extra=r"(chosen|reason)_.+",
    extra_kind="int",
)


# stored with responses.parquet (with the items in instrument order), so that the file explains itself
RESPONSES_METADATA = {
    "chosen": "chosen_<item>: bit j set = the j-th option of the item in instrument.yaml was chosen; 0 unless answered",
    "reasons": list(RESPONSE_STATUSES),
}


def response_columns(item_id: str) -> tuple[str, str]:
    """(chosen, reason) column names of an item in responses.parquet."""
    return f"chosen_{item_id}", f"reason_{item_id}"


def responses_frame(respondent_ids, item_ids, chosen: np.ndarray, reason: np.ndarray) -> pd.DataFrame:
    """The responses table from respondent × item matrices (option masks, reason indices); chosen is
    zeroed where the item was not answered, so one answer has one spelling."""
    n, k = chosen.shape
    if reason.shape != (n, k) or len(item_ids) != k or len(respondent_ids) != n:
        raise ValueError(f"responses_frame: {len(respondent_ids)} ids, {len(item_ids)} items, matrices "
                         f"{chosen.shape} and {reason.shape}")
    chosen = np.asfortranarray(chosen, dtype=np.int32)  # column by column: contiguous columns
    reason = np.asfortranarray(reason, dtype=np.int8)
    cols: dict[str, object] = {"respondent_id": respondent_ids}
    for j, item_id in enumerate(item_ids):
        c, r = response_columns(item_id)
        cols[c] = chosen[:, j] * (reason[:, j] == 0)
        cols[r] = reason[:, j].copy()
    return pd.DataFrame(cols, copy=False)

QUARANTINE = _schema(
    "quarantine",
    [C("source_row", "int", False), C("respondent_id", "str"), C("reason_code", "str", False),
     C("detail", "str", False)],
    key=("source_row", "reason_code"),
)

CONTACTS = _schema(
    "contacts",
    [C("household_id", "str", False), C("stratum", "str", False), C("county_code", "str", False),
     C("psu", "str", False), C("ssu", "str", False), C("urban", "str", False),
     C("p_psu", "float", False), C("p_ssu", "float", False), C("p_hh", "float", False),
     C("disposition", "str", False), C("respondent_id", "str")],
    key=("household_id",),
)

# Scores (pipeline.scoring): knowledge 0–40, methods/spirit/ability 0–20, total 0–100 in points;
# bench_01 … bench_26 = share (0–1) of the points of that benchmark's items earned. Unscored respondents
# (more missing items than scoring.yaml allows) have scored = False and every score, level and
# literate missing; a scored respondent's missing items within the allowance count 0 points.
SCORES = _schema(
    "scores",
    [C("respondent_id", "str", False), C("scored", "bool", False), C("n_missing", "int", False),
     C("knowledge", "float"), C("methods", "float"), C("spirit", "float"), C("ability", "float"),
     C("total", "float"), C("level", "str"), C("literate", "bool")],
    key=("respondent_id",),
    extra=r"bench_\d{2}",
    extra_kind="float",
)

# One row per respondent × item: score = points earned, correct = credit 0–1 (partial credit for
# multiple-answer items scored `partial`); both missing for refused/skipped items, 0 for 不知道.
ITEM_SCORES = _schema(
    "item_scores",
    [C("respondent_id", "str", False), C("item_id", "str", False), C("score", "float"),
     C("correct", "float")],
    key=("respondent_id", "item_id"),
)

# Item analysis over scored respondents: n answered (incl. 不知道), p_correct unweighted,
# p_correct_weighted with the design base weight n_adults / (p_psu·p_ssu·p_hh) (not the calibrated
# weight, which is built in parallel), point_biserial = corrected item–rest correlation,
# alpha_if_deleted within the item's dimension. Extra columns (reliability, key check, MH DIF by sex and
# urban/rural with ETS classes) are listed in pipeline/scoring/item_stats.py.
ITEM_STATS = _schema(
    "item_stats",
    [C("item_id", "str", False), C("dimension", "str", False), C("n", "int", False),
     C("p_correct", "float"), C("p_correct_weighted", "float"), C("point_biserial", "float"),
     C("alpha_if_deleted", "float")],
    key=("item_id",),
    extra=r"[a-z0-9_]+",
)

WEIGHTS = _schema(
    "weights",
    [C("respondent_id", "str", False), C("stratum", "str", False), C("psu", "str", False),
     C("w_base", "float", False), C("w_nr", "float", False), C("w_cal", "float", False),
     C("w_final", "float", False), C("replicate_block", "int", False)],
    key=("respondent_id",),
    extra=r"w_rep_\d{3,4}",
    extra_kind="float",
)

# the stored replicate weights, a row group per block (pipeline/survey_design/replicate_blocks.py)
REPLICATE_WEIGHTS = _schema(
    "replicate_weights",
    [C("respondent_id", "str", False), C("replicate_block", "int", False)],
    extra=r"slot_\d{4}",
    extra_kind="float",
)

WEIGHTING_DIAGNOSTICS = _schema(
    "weighting_diagnostics",
    [C("step", "str", False), C("metric", "str", False), C("variable", "str"), C("level", "str"),
     C("value", "float"), C("control", "float")],
    key=("step", "metric", "variable", "level"),
)

# The reliability of an estimate cell (estimates.csv, targets.csv), as the estimate stage decides it.
OK, CAUTION, SUPPRESSED = "ok", "caution", "suppressed"
RELIABILITY_VALUES = (OK, CAUTION, SUPPRESSED)

ESTIMATES = _schema(
    "estimates",
    [C("wave", "int", False), C("estimand_id", "str", False), C("statistic", "str", False),
     C("domain_type", "str", False), C("domain", "str", False), C("n", "int", False),
     C("n_eff", "float"), C("est", "float"), C("se", "float"), C("lci", "float"), C("uci", "float"),
     C("ci_method", "str"), C("df", "float"), C("cv", "float"), C("deff", "float"),
     C("variance_method", "str", False), C("reliability", "str", False), C("reason", "str")],
    key=("estimand_id", "variance_method", "domain_type", "domain"),
)

TARGETS = _schema(
    "targets",
    [C("wave", "int", False), C("domain_type", "str", False), C("domain", "str", False),
     C("n", "int", False), C("n_eff", "float"), C("est", "float"), C("se", "float"), C("lci", "float"),
     C("uci", "float"), C("df", "float"), C("target", "float", False), C("gap", "float"), C("p_value", "float"),
     C("verdict", "str", False), C("publish", "str", False), C("reliability", "str", False), C("reason", "str")],
    key=("domain_type", "domain"),
)

SAE = _schema(
    "sae",
    [C("area", "str", False), C("n", "int", False), C("direct_est", "float"), C("direct_se", "float"),
     C("model_est", "float"), C("model_mse", "float"), C("shrinkage", "float")],
    key=("area",),
    extra=r"[a-z0-9_]+",
)

POPULATIONS = _schema(
    "populations",
    [C("wave", "int", False), C("domain_type", "str", False), C("domain", "str", False),
     C("n", "int", False), C("population", "float"), C("se", "float"), C("variance_method", "str", False)],
    key=("domain_type", "domain"),
)

SCHEMAS: dict[str, TableSchema] = {
    s.name: s
    for s in (RESPONDENTS, RESPONSES, QUARANTINE, CONTACTS, SCORES, ITEM_SCORES, ITEM_STATS, WEIGHTS, REPLICATE_WEIGHTS,
              WEIGHTING_DIAGNOSTICS, ESTIMATES, TARGETS, SAE, POPULATIONS)
}
