"""Design records for tests that write a wave's processed tables directly instead of running the
weighting stage: the record of an uncalibrated or calibrated design over given columns."""

from __future__ import annotations

import numpy as np
import pandas as pd

from pipeline.survey_design.record import SCHEMA_VERSION, MarginCells, validate


def uncollapsed_margin(name: str, by, frame: pd.DataFrame) -> dict:
    """A margin whose cells are the observed combinations of `by` (no sparse cell merged)."""
    keys = frame[list(by)].astype(str).drop_duplicates().reset_index(drop=True)
    labels = keys.agg("|".join, axis=1).to_numpy(object)
    return MarginCells.from_codes(name, by, keys, np.arange(len(keys)), labels).as_dict()


def record(replicates: list[str], rscales, *, method: str = "JKn", primary: str = "replicate",
           lonely_psu: str = "fail", margins: list[dict] | None = None, regression_weight: str | None = "w_nr",
           extra: dict | None = None) -> dict:
    margins = margins or []
    data = {
        "schema_version": SCHEMA_VERSION,
        "steps": ["base", "replicates", "nonresponse", *(["calibration"] if margins else [])],
        "slots": {"base": "base", "replicates": "replicates", "nonresponse": "nonresponse",
                  **({"calibration": "calibration"} if margins else {})},
        "replicates": {"method": method, "scale": 1.0, "rscales": [float(x) for x in rscales], "mse": False,
                       "n_replicates": len(replicates), "lonely_strata": [],
                       "blocks": [list(range(len(replicates)))]},  # one block: every replicate stored for all
        "calibration": {"method": "raking" if margins else None, "margins": [m["by"] for m in margins],
                        "control_tables": [m["margin"] for m in margins], "collapsed": [],
                        "regression_weight": regression_weight if margins else None, "cells": margins},
        "design": {"stratum": "stratum", "psu": "psu", "fpc": None, "lonely_psu": lonely_psu},
        "weights": {"final": "w_final", "replicate_prefix": "w_rep_", "replicates": list(replicates)},
        "delivery": {"mode": "full", "interview_times": True, "nonresponse": "contacts", "calibrated": bool(margins),
                     "response_table": None},
        "variance": {"primary": primary},
        "nonresponse": {"classes": []},
        "trimming": None,
    }
    for k, v in (extra or {}).items():
        data[k] = {**data[k], **v} if isinstance(data.get(k), dict) else v
    return dict(validate(data, "test record").data)


def write_weights(paths, weights: pd.DataFrame, names) -> None:
    """weights.parquet and replicate_weights.parquet of a weights table holding every replicate as a
    column: one block that stores every replicate for every respondent."""
    from pipeline.schemas import WEIGHTS
    from pipeline.survey_design.replicate_blocks import REPLICATE_FILE, ReplicateBlocks, write_blocks
    from pipeline.tableio import write_table

    names = list(names)
    blocks = ReplicateBlocks.dense(weights["w_final"].to_numpy(float), weights[names].to_numpy(float))
    write_table(weights.drop(columns=names).assign(replicate_block=0), paths.processed("weights.parquet"), WEIGHTS)
    write_blocks(blocks, weights["respondent_id"].to_numpy(), paths.processed(REPLICATE_FILE))
