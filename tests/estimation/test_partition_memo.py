"""The memo of what is built from a list of partitions: built once per list, rebuilt for another list."""

from __future__ import annotations

import numpy as np
import pandas as pd

from pipeline.estimation.domains import Partition, PartitionMemo


def _part(codes) -> Partition:
    codes = np.asarray(codes)
    return Partition(codes, pd.DataFrame({"domain": [str(i) for i in range(codes.max() + 1)]}))


def test_the_same_partitions_are_built_once_and_others_again():
    built = []
    memo = PartitionMemo(size=2)
    a, b = [_part([0, 1, 1])], [_part([0, 0, 1])]

    def build(parts):
        built.append(parts)
        return len(built)

    assert memo.get("cells", a, lambda: build(a)) == 1
    assert memo.get("cells", list(a), lambda: build(a)) == 1  # another list of the same partitions
    assert memo.get("atoms", a, lambda: build(a)) == 2  # another kind of build
    assert memo.get("cells", b, lambda: build(b)) == 3
    w = np.ones(3)
    assert memo.get("cells", b, lambda: build(b), also=(w,)) == 4  # another array read by the build
    assert memo.get("cells", a, lambda: build(a)) == 5  # the oldest entries gave way (size 2)
    assert len(built) == 5
