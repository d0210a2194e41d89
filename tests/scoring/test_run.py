"""run_score end to end on a synthetic wave built on the real 2024 instrument."""

import hashlib

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest

from pipeline.cli import main
from pipeline.errors import InputError
from pipeline.instruments import load_instrument
from pipeline.paths import ROOT
from pipeline.schemas import ITEM_SCORES, ITEM_STATS, SCORES
from pipeline.scoring import run_score
from pipeline.tableio import read_metadata, read_table, write_table
from pipeline.vocabulary import RESPONSE_STATUSES
from tests.scoring.conftest import write_wave

N = 1500


@pytest.fixture(scope="module")
def wave(tmp_path_factory):
    root = tmp_path_factory.mktemp("wave")
    inst = load_instrument(ROOT / "survey_instruments" / "2024" / "instrument.yaml")
    target = next(it for it in inst.items if it.type == "single")
    planted = next(c for c in target.option_codes if c not in target.key)
    paths = write_wave(root, N, seed=21, true_keys={target.id: [planted]})
    result = run_score(paths, progress=False)
    return paths, result, target.id, planted


def digest(path):
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_outputs_follow_the_contract(wave):
    paths, result, _, _ = wave
    scores = read_table(paths.out / "scores.parquet", SCORES)
    items = read_table(paths.out / "item_scores.parquet", ITEM_SCORES)
    stats = read_table(paths.out / "item_stats.csv", ITEM_STATS)
    assert len(scores) == N and len(items) == N * 68 and len(stats) == 68
    assert result.n_scored + result.n_unscored == N and result.n_unscored == int((~scores["scored"]).sum()) > 0
    assert [f"bench_{b:02d}" for b in range(1, 27)] == [c for c in scores.columns if c.startswith("bench_")]
    meta = read_metadata(paths.out / "scores.parquet")
    assert meta["rule"] == "threshold_total" and "score 0" in meta["missing_policy"]
    line = result.summary()
    assert f"计分 {result.n_scored} 人，无法计分 {result.n_unscored} 人" in line and "未加权" in line


def test_scores_agree_with_item_scores(wave):
    paths, _, _, _ = wave
    scores = read_table(paths.out / "scores.parquet", SCORES).set_index("respondent_id")
    items = read_table(paths.out / "item_scores.parquet", ITEM_SCORES)
    items["respondent_id"] = items["respondent_id"].astype(str)
    total = items.groupby("respondent_id", observed=True)["score"].sum(min_count=0)
    ok = scores["scored"]
    np.testing.assert_allclose(scores.loc[ok, "total"], total.loc[ok[ok].index], atol=1e-9)
    assert scores.loc[~ok, ["total", "knowledge", "level"]].isna().all().all()
    assert scores.loc[~ok, "literate"].isna().all()
    assert (scores.loc[ok, "literate"] == (scores.loc[ok, "total"] >= 70)).all()
    n_missing = items["score"].isna().groupby(items["respondent_id"], observed=True).sum()
    assert (scores["n_missing"] == n_missing.loc[scores.index]).all()
    assert ((scores.loc[ok, "n_missing"] <= 6).all()) and (scores.loc[~ok, "n_missing"] > 6).all()
    dims = scores.loc[ok, ["knowledge", "methods", "spirit", "ability"]]
    assert (dims.max() <= pd.Series({"knowledge": 40, "methods": 20, "spirit": 20, "ability": 20})).all()


def test_item_stats(wave):
    paths, _, target, planted = wave
    stats = read_table(paths.out / "item_stats.csv", ITEM_STATS).set_index("item_id")
    assert stats.index[stats["flag_key_error"]].tolist() == [target]
    assert stats.loc[target, "key_error_option"] == planted
    assert stats.loc[target, "flag_negative_discrimination"]
    # design-weighted share correct by hand for one item, from the base weight
    resp = read_table(paths.out / "respondents.parquet").set_index("respondent_id")
    scores = read_table(paths.out / "scores.parquet").set_index("respondent_id")
    items = read_table(paths.out / "item_scores.parquet")
    one = items[items["item_id"] == "K01"].assign(respondent_id=lambda d: d["respondent_id"].astype(str))
    one = one.set_index("respondent_id")
    raw = pq.read_table(paths.out / "responses.parquet").to_pandas()
    raw = raw[raw["reason_K01"].isin([RESPONSE_STATUSES.index("answered"), RESPONSE_STATUSES.index("dont_know")])]
    ids = [r for r in raw["respondent_id"] if scores.loc[r, "scored"]]
    w = resp.loc[ids, "n_adults"] / (resp.loc[ids, "p_psu"] * resp.loc[ids, "p_ssu"] * resp.loc[ids, "p_hh"])
    c = one.loc[ids, "correct"].fillna(0.0)
    assert stats.loc["K01", "n"] == len(ids)
    assert stats.loc["K01", "p_correct"] == pytest.approx(c.mean(), abs=1e-12)
    assert stats.loc["K01", "p_correct_weighted"] == pytest.approx((w * c).sum() / w.sum(), abs=1e-12)
    assert stats["total_alpha"].nunique() == 1 and 0.8 < stats["total_alpha"].iloc[0] < 1
    assert set(stats["dif_sex_class"].dropna()) <= {"A", "B", "C"}


def test_deterministic_and_row_order_free(wave, tmp_path):
    paths, _, _, _ = wave
    first = {name: digest(paths.out / name) for name in ("scores.parquet", "item_scores.parquet", "item_stats.csv")}
    # same inputs with responses and respondents shuffled → byte-identical outputs
    table = pq.read_table(paths.out / "responses.parquet")
    perm = np.random.default_rng(0).permutation(table.num_rows)
    pq.write_table(table.take(perm), paths.out / "responses.parquet")
    resp = pd.read_parquet(paths.out / "respondents.parquet").sample(frac=1, random_state=1)
    resp.to_parquet(paths.out / "respondents.parquet")
    run_score(paths, progress=False)
    assert first == {name: digest(paths.out / name) for name in first}


def test_cli(wave):
    paths, _, _, _ = wave
    assert main(["score", "--wave", "2024", "--root", str(paths.root), "--quiet"]) == 0


def test_input_errors(tmp_path):
    paths = write_wave(tmp_path, 50, seed=3)
    table = pq.read_table(paths.out / "responses.parquet").to_pandas()
    bad = table.copy()
    bad.loc[bad.index[0], "respondent_id"] = "NOBODY"
    bad.to_parquet(paths.out / "responses.parquet")
    with pytest.raises(InputError, match="NOBODY"):
        run_score(paths, progress=False)
    bad = table.copy()
    row = bad.index[bad["reason_K01"] == RESPONSE_STATUSES.index("answered")][0]
    bad.loc[row, "chosen_K01"] = 1 << 5
    bad.to_parquet(paths.out / "responses.parquet")
    with pytest.raises(InputError, match=r"item K01, respondent .*chosen_K01 is 32"):
        run_score(paths, progress=False)
    bad.drop(columns=["chosen_K02", "reason_K02"]).to_parquet(paths.out / "responses.parquet")
    with pytest.raises(InputError, match=r"\['K02'\].*no chosen_/reason_ columns"):
        run_score(paths, progress=False)
    long = pd.DataFrame({"respondent_id": ["R1"], "item_id": ["K01"], "response_code": ["1"], "missing_reason": ["answered"]})
    long.to_parquet(paths.out / "responses.parquet")
    with pytest.raises(InputError, match="older long layout.*re-run ingest"):
        run_score(paths, progress=False)
    table.to_parquet(paths.out / "responses.parquet")
    resp = read_table(paths.out / "respondents.parquet")
    write_table(resp.assign(wave=2023), paths.out / "respondents.parquet", "respondents")
    with pytest.raises(InputError, match=r"wave\(s\) \[2023\].*wave 2024"):
        run_score(paths, progress=False)
    write_table(resp, paths.out / "respondents.parquet", "respondents")
    (paths.out / "responses.parquet").unlink()
    with pytest.raises(InputError, match="ingest"):
        run_score(paths, progress=False)
