"""Reading responses.parquet across Arrow's chunking: a file of several row groups, each read in several
batches of 128Ki rows, gives exactly the matrices it was written from. (The long layout this file had
before overflowed Arrow's 2 GiB string offsets at a million respondents; the wide one holds each id once,
and its columns are read as integers, so chunk boundaries must simply not matter.)"""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from pipeline.schemas import responses_frame
from pipeline.scoring.items import ABSENT, answer_codes, compile_items
from pipeline.scoring.responses import read_answer_codes, read_responses
from pipeline.simulate.answers import simulate


def test_many_row_groups_and_batches(tmp_path, real_instrument):
    iset = compile_items(real_instrument.items)
    small = simulate(iset, 3000, 11)
    chosen, status = np.tile(small.chosen, (100, 1)), np.tile(small.status, (100, 1))  # 300,000 respondents
    ids = np.array([f"{j:x}" for j in range(chosen.shape[0])], dtype=object)  # short ids keep it cheap
    order = np.argsort(ids)
    table = responses_frame(ids[order], iset.ids, chosen[order], status[order])
    path = tmp_path / "responses.parquet"
    pq.write_table(pa.Table.from_pandas(table, preserve_index=False), path, row_group_size=140_000)
    read = pq.read_table(path, columns=["respondent_id", "chosen_K01"])
    assert pq.ParquetFile(path).num_row_groups == 3 and read.column(1).num_chunks > 3  # the chunking at issue
    got = read_responses(path, iset, ids[order])
    np.testing.assert_array_equal(got.chosen, chosen[order])
    np.testing.assert_array_equal(got.status, status[order])
    # respondents.parquet's order and a respondent the file lacks (all ABSENT)
    wanted = np.concatenate([ids[::-1], ["no-such-row"]]).astype(object)
    got = read_responses(path, iset, wanted)
    np.testing.assert_array_equal(got.chosen[:-1], chosen[::-1])
    np.testing.assert_array_equal(got.status[:-1], status[::-1])
    assert (got.status[-1] == ABSENT).all() and (got.chosen[-1] == 0).all()


def test_answer_codes_read_straight_from_the_file(tmp_path, real_instrument):
    """The codes the stage reads are the codes of the matrices, in any respondent order, with a respondent
    the file lacks missing on every item."""
    iset = compile_items(real_instrument.items)
    sim = simulate(iset, 2000, 12, unscored_share=0.05)
    ids = np.array([f"{j:04x}" for j in range(2000)], dtype=object)
    path = tmp_path / "responses.parquet"
    pq.write_table(pa.Table.from_pandas(responses_frame(ids, iset.ids, sim.chosen, sim.status), preserve_index=False),
                   path, row_group_size=700)
    for wanted in (ids, np.concatenate([ids[::-1], ["no-such-row"]]).astype(object)):
        got_ids, codes = read_answer_codes(path, iset, wanted)
        m = read_responses(path, iset, wanted)
        np.testing.assert_array_equal(got_ids, m.respondent_ids)
        np.testing.assert_array_equal(codes, answer_codes(iset, m.chosen, m.status))
        assert codes.dtype == iset.code_dtype and codes.flags["C_CONTIGUOUS"]
    assert np.isnan(iset.flat_credit[codes[-1]]).all()
