"""Reading responses.parquet across Arrow's batching: a row group is read in batches of 128Ki rows and
every batch carries the row group's whole id dictionary. At a million respondents concatenating those
copies overflowed Arrow's 2 GiB string offsets; here a file with several row groups, each read in
several batches (short ids keep it cheap), must give exactly the codes of the in-memory path, with each
row group's dictionary looked up once."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from pipeline.scoring import responses as R
from pipeline.scoring.items import compile_items
from pipeline.scoring.synthetic import long_arrow, simulate


def test_many_row_groups_and_batches(tmp_path, real_instrument, monkeypatch):
    iset = compile_items(real_instrument.items)
    sim = simulate(iset, 6000, 11)  # 6000 × 68 = 408k rows
    table = long_arrow(iset, sim)
    path = tmp_path / "responses.parquet"
    pq.write_table(table, path, row_group_size=150_000)  # 3 row groups, each read in 2 batches
    read = pq.read_table(path, columns=["respondent_id"], read_dictionary=["respondent_id"]).column(0)
    groups = pq.ParquetFile(path).num_row_groups
    assert groups == 3 and read.num_chunks > groups  # the batching this test is about
    distinct, which = R._distinct_dictionaries(read.chunks)
    assert len(distinct) == groups and sorted(set(which.tolist())) == list(range(groups))

    looked_up = []
    real_index_in = pc.index_in

    def spy(values, value_set):
        looked_up.append(len(values))
        return real_index_in(values, value_set=value_set)

    monkeypatch.setattr(pc, "index_in", spy)
    ids = np.asarray(sim.respondent_ids, dtype=object)
    got = R.build_matrix(R.read_responses(path, ids), iset, ids)
    # each row group's dictionary once, never once per batch
    assert looked_up == [sum(len(d) for d in distinct)]
    assert looked_up[0] <= groups * len(ids)
    want = R.build_matrix(R.coded_from_frame(table.to_pandas()), iset, ids)
    np.testing.assert_array_equal(got.chosen, want.chosen)
    np.testing.assert_array_equal(got.status, want.status)
    # without the id list (codes into the dictionaries themselves) the same matrices come out
    plain = R.build_matrix(R.read_responses(path), iset, ids)
    np.testing.assert_array_equal(plain.chosen, want.chosen)
    np.testing.assert_array_equal(plain.status, want.status)


def test_batches_of_one_row_group_share_one_entry():
    ids = pa.array([f"r{i}" for i in range(5)]).dictionary_encode()
    chunked = pa.chunked_array([ids.slice(0, 2), ids.slice(2, 3), pa.array(["x"]).dictionary_encode()])
    distinct, which = R._distinct_dictionaries(chunked.chunks)
    assert len(distinct) == 2 and which.tolist() == [0, 0, 1]
