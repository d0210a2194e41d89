"""A parquet table written in pieces: the bytes of the one-shot writer, the same checks, nothing left on failure."""

from __future__ import annotations

import hashlib

import numpy as np
import pandas as pd
import pytest

from pipeline import tableio
from pipeline.schemas import ITEM_SCORES
from pipeline.tableio import stage_commit, write_table, write_table_pieces


def long_table(n: int, k: int = 5) -> pd.DataFrame:
    """An ITEM_SCORES-shaped table in key order, ids as categoricals like the scoring stage writes them."""
    rng = np.random.default_rng(3)
    ids = pd.Index([f"r{i:05d}" for i in range(n)], dtype="str")
    items = pd.Index([f"K{j:02d}" for j in range(k)], dtype="str")
    correct = rng.choice([0.0, 0.5, 1.0, np.nan], size=n * k)
    return pd.DataFrame({
        "respondent_id": pd.Categorical.from_codes(np.repeat(np.arange(n, dtype=np.int32), k), categories=ids),
        "item_id": pd.Categorical.from_codes(np.tile(np.arange(k, dtype=np.int32), n), categories=items),
        "score": correct * 2.5, "correct": correct})


def sha(path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def pieces(df: pd.DataFrame, rows: int):
    for start in range(0, len(df), rows):
        yield df.iloc[start:start + rows]


@pytest.fixture
def small_row_groups(monkeypatch):
    monkeypatch.setattr(tableio, "ROW_GROUP_ROWS", 1000)  # several row groups on a small table


def test_same_bytes_as_the_one_shot_writer(tmp_path, small_row_groups):
    df = long_table(900)  # 4,500 rows: four full row groups and a short one
    meta = {"stage": "score"}
    write_table(df, tmp_path / "one.parquet", ITEM_SCORES, metadata=meta)
    write_table_pieces(pieces(df, 1000), tmp_path / "pieces.parquet", ITEM_SCORES, metadata=meta)
    assert sha(tmp_path / "pieces.parquet") == sha(tmp_path / "one.parquet")
    pd.testing.assert_frame_equal(pd.read_parquet(tmp_path / "pieces.parquet"), pd.read_parquet(tmp_path / "one.parquet"))
    # an empty table, in one empty piece or none with rows
    empty = df.iloc[:0]
    write_table(empty, tmp_path / "e1.parquet", ITEM_SCORES)
    write_table_pieces([empty, empty], tmp_path / "e2.parquet", ITEM_SCORES)
    assert sha(tmp_path / "e1.parquet") == sha(tmp_path / "e2.parquet")


def test_a_schema_violation_in_a_later_piece_is_refused(tmp_path, small_row_groups):
    df = long_table(600)
    bad = [df.iloc[:1000], df.iloc[1000:2000].assign(score=lambda d: d["score"].astype(str)), df.iloc[2000:]]
    with pytest.raises(ValueError, match="'score': expected float"):
        write_table_pieces(bad, tmp_path / "x.parquet", ITEM_SCORES)
    missing = [df.iloc[:1000], df.iloc[1000:].assign(respondent_id=lambda d: d["respondent_id"].where(d.index != 1500))]
    with pytest.raises(ValueError, match="'respondent_id': 1 missing"):
        write_table_pieces(missing, tmp_path / "x.parquet", ITEM_SCORES)
    assert list(tmp_path.iterdir()) == []


def test_pieces_out_of_order_or_repeating_a_key_are_refused(tmp_path, small_row_groups):
    df = long_table(600)
    with pytest.raises(ValueError, match="not in key order"):
        write_table_pieces([df.iloc[1000:2000], df.iloc[:1000]], tmp_path / "x.parquet", ITEM_SCORES)
    with pytest.raises(ValueError, match="not unique"):
        write_table_pieces([df.iloc[:1000], df.iloc[999:2000]], tmp_path / "x.parquet", ITEM_SCORES)
    with pytest.raises(ValueError, match="not in key order"):
        write_table_pieces([df.iloc[:1000].iloc[::-1]], tmp_path / "x.parquet", ITEM_SCORES)
    assert list(tmp_path.iterdir()) == []


def test_nothing_is_left_when_a_piece_fails(tmp_path, small_row_groups):
    df = long_table(600)

    def failing():
        yield df.iloc[:1000]
        raise RuntimeError("the producer failed")

    (tmp_path / "x.parquet").write_bytes(b"old")
    with pytest.raises(RuntimeError, match="producer failed"):
        write_table_pieces(failing(), tmp_path / "x.parquet", ITEM_SCORES)
    assert [p.name for p in tmp_path.iterdir()] == ["x.parquet"] and (tmp_path / "x.parquet").read_bytes() == b"old"
    # inside a stage commit too: the temporary file goes, the old output stays
    with pytest.raises(RuntimeError), stage_commit("score", None):
        write_table_pieces(failing(), tmp_path / "x.parquet", ITEM_SCORES)
    assert [p.name for p in tmp_path.iterdir()] == ["x.parquet"] and (tmp_path / "x.parquet").read_bytes() == b"old"
    with pytest.raises(ValueError, match="only .parquet"):
        write_table_pieces([df], tmp_path / "x.csv", ITEM_SCORES)


def test_tables_encoded_side_by_side_are_the_bytes_of_one_write_after_another(tmp_path):
    a, b = long_table(3000), long_table(500, k=3)
    write_table(a, tmp_path / "one" / "a.parquet", ITEM_SCORES)
    write_table(b, tmp_path / "one" / "b.csv", ITEM_SCORES)
    with stage_commit("score", None):
        tableio.write_tables([(a, tmp_path / "two" / "a.parquet", ITEM_SCORES, None),
                              (b, tmp_path / "two" / "b.csv", ITEM_SCORES, None)])
    for name in ("a.parquet", "b.csv"):
        assert sha(tmp_path / "two" / name) == sha(tmp_path / "one" / name)
    assert sorted(p.name for p in (tmp_path / "two").iterdir()) == ["a.parquet", "b.csv"]


def test_one_table_refused_leaves_none_of_them_and_no_temporary_file(tmp_path):
    good, bad = long_table(100), long_table(100).drop(columns="score")
    with pytest.raises(ValueError, match="lacks required column"):
        with stage_commit("score", None):
            tableio.write_tables([(good, tmp_path / "good.parquet", ITEM_SCORES, None),
                                  (bad, tmp_path / "bad.parquet", ITEM_SCORES, None)])
    assert list(tmp_path.iterdir()) == []
