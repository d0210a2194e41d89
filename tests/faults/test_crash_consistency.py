"""A stage killed at any write boundary, renames included, leaves one complete set of its outputs once its
next invocation starts: the old set (its make target present), or the new one when the kill came after
the target's rename. Never new files beside old ones. The rerun gives byte-identical outputs to an
uninterrupted run and leaves no temporary file, kept old version or journal behind.

Each stage runs in a child process that the fault hook (QZ_FAULT_AT) ends with os._exit at the named
boundary: no cleanup, no `finally`, as a power cut or `kill -9` would."""

from __future__ import annotations

import pytest

from pipeline.faults import FAULT_EXIT
from tests.faults.kit import (
    OLD,
    boundaries,
    copy_done,
    kill_everywhere,
    output_files,
    run_in_child,
    stage_hashes,
    temporaries,
)


@pytest.mark.parametrize("stage", ["ingest", "score", "weight", "estimate"])
def test_kill_at_every_write_boundary(stage, demo_done, tmp_path):
    assert kill_everywhere(stage, demo_done, tmp_path, every=True) >= 6


def test_a_failure_among_the_renames_restores_the_old_set(demo_done, tmp_path):
    """A full disk in the middle of the renames (an exception, not a kill): the stage itself puts the old
    complete set back before it reports the error."""
    paths = copy_done(demo_done, tmp_path)
    names = boundaries("estimate", paths, tmp_path / "b.txt")
    for f in output_files("estimate", paths):
        f.write_bytes(OLD + f.name.encode())
    old = stage_hashes("estimate", paths)
    middle = [n for n in names if n.startswith("rename:")][1]
    assert run_in_child("estimate", paths, QZ_FAULT_AT=f"estimate:{middle}:enospc") not in (0, FAULT_EXIT)
    assert stage_hashes("estimate", paths) == old
    assert temporaries(paths.out) == [] and not list(paths.out.glob(".*.old"))
