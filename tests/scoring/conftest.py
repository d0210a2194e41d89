"""Small instruments and waves for the scoring tests."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from pipeline.instruments.model import Item, ScoringRule
from pipeline.paths import ROOT, WavePaths
from pipeline.schemas import responses_frame
from pipeline.scoring.items import compile_items
from pipeline.scoring.responses import build_matrix
from pipeline.simulate.answers import simulate
from pipeline.simulate.synthetic import scoring_respondents
from pipeline.tableio import write_table
from pipeline.vocabulary import RESPONSE_STATUSES

OPTS4 = ((1, "A"), (2, "B"), (3, "C"), (4, "D"))
TF = ((1, "对"), (2, "错"))


def item(item_id: str, typ: str, key, points: float, dimension: str, benchmarks=(11,), options=None,
         scoring: str = "all_or_nothing") -> Item:
    options = options or (TF if typ == "true_false" else OPTS4)
    key = tuple(key) if isinstance(key, (list, tuple)) else (key,)
    return Item(item_id, item_id.lower(), typ, "", options, key, float(points), dimension, tuple(benchmarks),
                scoring)


def rule(name: str = "threshold_total", params=None, levels=None, max_missing_items: int = 1,
         max_missing_share=None) -> ScoringRule:
    params = params if params is not None else {"cutoff": 70}
    levels = levels or (("高阶", 85.0), ("具备", 70.0), ("基本具备", 55.0), ("较低", 0.0))
    return ScoringRule(name, tuple(sorted(params.items())), tuple(levels), max_missing_items, max_missing_share)


def mask(it: Item, code: str | None) -> int:
    """Test notation → option mask: "1,3" sets the bits of options 1 and 3, "" or None sets none."""
    return 0 if code is None else sum(1 << it.option_codes.index(int(p)) for p in code.split(",") if p)


def responses_df(items, rows) -> pd.DataFrame:
    """The responses table of `rows`: (respondent_id, item_id, response code in test notation or None,
    missing_reason); the rows cover every item of every respondent they name."""
    ids = sorted({r[0] for r in rows})
    item_ids = [it.id for it in items]
    by_id = {it.id: it for it in items}
    chosen = np.zeros((len(ids), len(items)), dtype=np.int32)
    reason = np.full((len(ids), len(items)), -1, dtype=np.int8)
    for rid, item_id, code, why in rows:
        i, j = ids.index(rid), item_ids.index(item_id)
        chosen[i, j], reason[i, j] = mask(by_id[item_id], code), RESPONSE_STATUSES.index(why)
    assert (reason >= 0).all(), "test rows must give every item of every respondent they name"
    return responses_frame(np.array(ids, dtype=object), item_ids, chosen, reason)


def matrix_from_rows(items, rows, ids=None):
    iset = compile_items(items)
    df = responses_df(items, rows)
    ids = np.array(list(df["respondent_id"]) if ids is None else ids, dtype=object)
    return iset, build_matrix(df, iset, ids)


@pytest.fixture(scope="session")
def real_instrument():
    from pipeline.instruments import load_instrument

    return load_instrument(ROOT / "survey_instruments" / "2024" / "instrument.yaml")


def write_wave(root: Path, n: int, seed: int, true_keys=None, unscored_share: float = 0.03) -> WavePaths:
    """A wave folder under `root`: the real 2024 spec copied, and simulated processed inputs."""
    from pipeline.instruments import load_instrument

    spec = root / "survey_instruments" / "2024"
    spec.mkdir(parents=True, exist_ok=True)
    for name in ("instrument.yaml", "scoring.yaml"):
        shutil.copy(ROOT / "survey_instruments" / "2024" / name, spec / name)
    shutil.copy(ROOT / "survey_instruments" / "frameworks.yaml", root / "survey_instruments" / "frameworks.yaml")
    paths = WavePaths(2024, root=root)
    iset = compile_items(load_instrument(paths.instrument).items)
    respondents = scoring_respondents(n, seed + 1)
    sim = simulate(iset, n, seed, true_keys=true_keys, unscored_share=unscored_share,
                   respondent_ids=respondents["respondent_id"].to_numpy(object))
    paths.out.mkdir(parents=True, exist_ok=True)
    write_table(responses_frame(sim.respondent_ids, iset.ids, sim.chosen, sim.status), paths.out / "responses.parquet",
                "responses")
    write_table(respondents, paths.out / "respondents.parquet", "respondents")
    return paths
