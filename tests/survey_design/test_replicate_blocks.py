"""Replicate blocks (pipeline/survey_design/replicate_blocks.py) against the plain n × (1 + R) matrix."""

from __future__ import annotations

import numpy as np
import pytest

from pipeline.errors import InputError
from pipeline.survey_design.codes import group_sums
from pipeline.survey_design.replicate_blocks import ReplicateBlocks, read_blocks, write_blocks


def _wave(seed=0):
    """Two strata of three PSUs of four units (units 0-11 and 12-23), JKn factors: a replicate deletes one
    PSU and scales the rest of its stratum by 3/2. Groups are the PSUs."""
    rng = np.random.default_rng(seed)
    n = 24
    psu = np.repeat(np.arange(6), 4)
    stratum = np.arange(6) // 3  # of each PSU
    table = np.ones((6, 7))
    for r in range(6):  # replicate r + 1 deletes PSU r
        same = stratum == stratum[r]
        table[same, r + 1] = 1.5
        table[r, r + 1] = 0.0
    w0 = rng.uniform(1, 3, n)
    return w0, psu, table, stratum[psu]


def test_blocks_store_only_what_differs_and_give_the_matrix():
    w0, psu, table, stratum = _wave()
    B = ReplicateBlocks.from_factors(w0, psu, table, [stratum])
    # each stratum is a block storing its own three replicates
    assert sorted(c.tolist() for c in B.cols) == [[0, 1, 2], [3, 4, 5]]
    assert B.cols[B.block[0]].tolist() == [0, 1, 2] and (B.block[:12] == B.block[0]).all()
    assert B.stored() == 12 * 3 * 2
    np.testing.assert_array_equal(B.matrix(), w0[:, None] * table[psu])
    # one category holding a unit of PSU 0 and one of PSU 3 couples those PSUs: their block stores the
    # replicates of both strata; the other PSUs keep their stratum's
    link = np.where(np.arange(24) % 12 == 0, 0, 1 + np.arange(24))
    two = ReplicateBlocks.from_factors(w0, psu, table, [link])
    assert two.cols[two.block[0]].tolist() == list(range(6)) and two.block[0] == two.block[12]
    assert two.block[0] == two.block[3] and two.cols[two.block[4]].tolist() == [0, 1, 2]
    np.testing.assert_array_equal(two.matrix(), B.matrix())


def test_sums_and_multiply_agree_with_the_matrix_and_grow_a_block_when_needed():
    w0, psu, table, stratum = _wave(1)
    B = ReplicateBlocks.from_factors(w0, psu, table, [stratum])
    W = B.matrix()
    cell = psu % 2 + 2 * stratum  # four cells, each within one stratum
    np.testing.assert_array_equal(B.sums(cell, 4), group_sums(cell, W, 4))
    f = np.random.default_rng(2).uniform(0.5, 2, (4, 7))
    f[:, 1:] = f[:, :1]  # every replicate gets the full sample's factor ...
    f[2, 2] = 0.7  # ... but replicate 2 (stored by stratum 0) is changed in a cell of stratum 1
    B.multiply(f, cell)
    assert B.cols[B.block[12]].tolist() == [1, 3, 4, 5]  # stratum 1's block now stores replicate 2 too
    np.testing.assert_allclose(B.matrix(), W * f[cell], rtol=1e-15)


def test_write_read_and_take(tmp_path):
    w0, psu, table, stratum = _wave(3)
    B = ReplicateBlocks.from_factors(w0, psu, table, [stratum])
    ids = np.array([f"R{i:03d}" for i in range(24)])
    path = tmp_path / "replicate_weights.parquet"
    write_blocks(B, ids, path)
    got = read_blocks(path, B.record(), 6, B.full, B.block, ids)
    np.testing.assert_array_equal(got.matrix(), B.matrix())
    order = np.random.default_rng(4).permutation(24)
    np.testing.assert_array_equal(B.take(order).matrix(), B.matrix()[order])
    with pytest.raises(InputError, match="row group 0 does not hold the respondents of replicate block 0"):
        read_blocks(path, B.record(), 6, B.full, B.block, ids[::-1])
