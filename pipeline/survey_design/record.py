"""The design record: the survey design as the weighting stage made it, written beside weights.parquet.

data/processed/<wave>/design.json names everything a design-based estimate needs and that only the
weighting knows: the analysis weight and the replicate columns, the replicate method with its scale,
rscales and mse flag, the strata/PSU/FPC columns and the lonely-PSU policy, the weighting steps that
ran, the calibration margins with their cells as codes (after sparse cells were merged), the weight
calibration started from (the regression weight of the calibration residuals, as R's calibrate()
uses), the replicates each block of respondents stores (survey_design/replicate_blocks.py), and the
primary variance method. Estimation, reporting, assessment, export and the notebooks read it and never
work any of it out again; weights.parquet and replicate_weights.parquet carry the numbers only.

Each margin's cells are a code table: every combination of the margin's variables in the control
table → the code of the cell it was calibrated in. A respondent's cell is looked up in it, so the
merges of sparse cells are never replayed. Codes are the ranks of the cell labels (variables joined by
"|", merged categories by "+"), so estimators that sort cells see them in the same order everywhere.

The bytes are deterministic: sorted keys, no times, floats as Python writes them.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from pipeline.errors import InputError

RECORD = "design.json"
SCHEMA_VERSION = 2  # 2: replicate weights stored as blocks (replicates.blocks)
SEP = "|"  # joins the variables of a cell label, "350502|女|18-29+30-39|城镇"


def cell_label(values) -> str:
    return SEP.join(str(v) for v in values)


@dataclass(frozen=True)
class MarginCells:
    """One calibration margin: the control table, its variables and the code of every cell."""

    name: str
    by: tuple[str, ...]
    labels: tuple[str, ...]  # label of each code (sorted)
    table: tuple[tuple[tuple[str, ...], int], ...]  # (values of `by`, code), one per control cell

    @classmethod
    def from_codes(cls, name: str, by, keys: pd.DataFrame, cell: np.ndarray, cell_labels) -> MarginCells:
        """From the weighting's own coding: `keys` the margin's variables of every control cell (or
        respondent), `cell` the index into `cell_labels` of the cell each row was calibrated in."""
        by = tuple(by)
        cell_labels = np.asarray(cell_labels, dtype=object)
        # A million respondents fall in a few hundred cells: the labels are ranked over the cells that
        # occur and the table is built from one row per distinct combination (the last, as a dict
        # filled row by row would keep), not from every row.
        used, inverse = np.unique(np.asarray(cell, dtype=np.int64), return_inverse=True)
        labels, rank = np.unique(cell_labels[used].astype(str), return_inverse=True)
        frame = keys[list(by)].astype(str)
        last = np.flatnonzero(~frame.duplicated(keep="last").to_numpy())
        codes = rank.ravel()[inverse.ravel()[last]]
        pairs = {tuple(str(v) for v in k): int(c)
                 for k, c in zip(frame.iloc[last].itertuples(index=False, name=None), codes, strict=True)}
        return cls(name, by, tuple(str(x) for x in labels), tuple(sorted(pairs.items())))

    def codes(self, frame: pd.DataFrame, where: str = "respondents") -> np.ndarray:
        """The cell code of every row of `frame` (a combination outside the table stops with the row)."""
        missing = [c for c in self.by if c not in frame.columns]
        if missing:
            raise InputError(f"{where} lacks the column(s) {missing} of calibration margin {self.name!r} "
                             f"(design record {RECORD}); re-run the weighting stage.")
        keys = pd.MultiIndex.from_tuples([k for k, _ in self.table], names=list(self.by))
        lookup = pd.Series([c for _, c in self.table], index=keys, dtype=np.int64)
        rows = pd.MultiIndex.from_frame(frame[list(self.by)].astype(str))
        pos = lookup.index.get_indexer(rows)
        if (pos < 0).any():
            i = int(np.flatnonzero(pos < 0)[0])
            raise InputError(f"{where}, row {i}: {dict(zip(self.by, rows[i], strict=True))} is in no cell of "
                             f"calibration margin {self.name!r} of the design record ({RECORD}); the weights were "
                             "made on other respondents: re-run the weighting stage.")
        return lookup.to_numpy()[pos]

    def cell_labels(self, frame: pd.DataFrame, where: str = "respondents") -> np.ndarray:
        return np.asarray(self.labels, dtype=object)[self.codes(frame, where)]

    def as_dict(self) -> dict:
        return {"margin": self.name, "by": list(self.by), "labels": list(self.labels),
                "table": [[*k, c] for k, c in self.table]}

    @classmethod
    def from_dict(cls, d: Mapping) -> MarginCells:
        by = tuple(str(x) for x in d["by"])
        return cls(str(d["margin"]), by, tuple(str(x) for x in d["labels"]),
                   tuple((tuple(str(v) for v in row[:-1]), int(row[-1])) for row in d["table"]))


@dataclass(frozen=True)
class DesignRecord:
    """The record as read (`data`: the JSON object); the properties are what the stages use."""

    data: Mapping[str, Any]

    # -- weights
    @property
    def weight(self) -> str:
        return str(self.data["weights"]["final"])

    @property
    def replicate_columns(self) -> tuple[str, ...]:
        return tuple(self.data["weights"]["replicates"])

    @property
    def weights_by_step(self) -> dict[str, str]:
        """The weight column each step left: base, nonresponse, calibration, trimming (= `weight`)."""
        return dict(self.data["weights"].get("by_step") or {"trimming": self.weight})

    @property
    def replicate_prefix(self) -> str:
        """What the replicate columns' names start with (for syntax that selects them by pattern)."""
        return str(self.data["weights"]["replicate_prefix"])

    @property
    def regression_weight(self) -> str | None:
        """The weight calibration started from (R's calibrate() regresses on it); None: not calibrated."""
        return self.data["calibration"].get("regression_weight")

    # -- design
    @property
    def stratum(self) -> str:
        return str(self.data["design"]["stratum"])

    @property
    def psu(self) -> str:
        return str(self.data["design"]["psu"])

    @property
    def fpc(self) -> str | None:
        return self.data["design"].get("fpc")

    @property
    def lonely_psu(self) -> str:
        return str(self.data["design"]["lonely_psu"])

    # -- replicates and variance
    @property
    def replicates(self) -> Mapping[str, Any]:
        return self.data["replicates"]

    @property
    def replicate_method(self) -> str:
        """JKn | bootstrap (R's subbootstrap: `replicates.type`)."""
        return str(self.replicates["method"])

    @property
    def constant_within_psu(self) -> bool:
        """The replicate weights are the weight times a factor of the PSU (no step re-weighted the
        replicates); records written before the weighting said so count as not."""
        return bool(self.replicates.get("constant_within_psu", False))

    @property
    def replicate_blocks(self) -> list[list[int]]:
        """The replicates (0-based) each block of respondents stores in weights.parquet
        (survey_design/replicate_blocks.py); every other replicate weight is the full-sample weight."""
        return [list(map(int, b)) for b in self.replicates["blocks"]]

    @property
    def primary(self) -> str:
        """The published variance method: replicate | taylor (taylor when there are no replicates)."""
        return str(self.data["variance"]["primary"])

    @property
    def steps(self) -> tuple[str, ...]:
        return tuple(self.data["steps"])

    @property
    def slots(self) -> Mapping[str, str]:
        """The slot each step that ran filled: base, replicates, nonresponse, calibration or trimming."""
        return self.data["slots"]

    # -- calibration
    @property
    def margins(self) -> tuple[MarginCells, ...]:
        return tuple(MarginCells.from_dict(m) for m in self.data["calibration"].get("cells") or [])


REQUIRED = {"weights": ("final", "replicates"), "design": ("stratum", "psu", "lonely_psu"),
            "replicates": ("method", "scale", "rscales", "mse", "n_replicates", "blocks"), "calibration": ("cells",),
            "variance": ("primary",), "steps": (), "slots": ()}


def validate(data: Mapping, where: str) -> DesignRecord:
    if not isinstance(data, Mapping) or data.get("schema_version") != SCHEMA_VERSION:
        raise InputError(f"{where}: not a design record of schema version {SCHEMA_VERSION}; re-run the weighting "
                         "stage (python -m pipeline weight --wave W).")
    for section, keys in REQUIRED.items():
        if section not in data:
            raise InputError(f"{where}: the design record lacks `{section}`; re-run the weighting stage.")
        lost = [k for k in keys if k not in data[section]]
        if lost:
            raise InputError(f"{where}: the design record lacks {section}.{lost}; re-run the weighting stage.")
    rec = DesignRecord(data)
    if set(rec.slots) != set(rec.steps):
        raise InputError(f"{where}: the steps {list(rec.steps)} and their slots {dict(rec.slots)} do not match; "
                         "re-run the weighting stage.")
    if rec.primary not in ("replicate", "taylor"):
        raise InputError(f"{where}: variance.primary {rec.primary!r} is not replicate or taylor; re-run the "
                         "weighting stage.")
    if len(rec.replicates["rscales"]) != len(rec.replicate_columns):
        raise InputError(f"{where}: {len(rec.replicates['rscales'])} rscales for {len(rec.replicate_columns)} "
                         "replicate columns; re-run the weighting stage.")
    return rec


def read_record(path: str | Path) -> DesignRecord:
    path = Path(path)
    if not path.exists():
        raise InputError(f"{path} does not exist: the design record is written by the weighting stage beside "
                         "weights.parquet. Run `python -m pipeline weight --wave W` (or make) first.")
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as err:
        raise InputError(f"{path}: not readable as JSON ({err}); re-run the weighting stage.") from None
    return validate(data, str(path))


def write_record(record: DesignRecord | Mapping, path: str | Path) -> Path:
    """Atomic, deterministic bytes (through tableio, so stage_commit and fault injection see it)."""
    from pipeline.tableio import write_json

    rec = record if isinstance(record, DesignRecord) else validate(record, str(path))
    return write_json(dict(rec.data), path)
