"""The report killed at its write boundaries (tests/faults/test_crash_consistency.py for the other stages,
whose rules it follows): after the kill the next run starts from one complete set, and the rerun gives
the uninterrupted run's bytes. The report writes dozens of files, so the fast suite kills it at one
boundary of each kind (the second commit's kinds in test_kill_report_late.py) and the slow one at all
of them; files of their own, so that a test run's two processes share the kill tests between them."""

from __future__ import annotations

import pytest

from pipeline.faults import FAULT_EXIT
from tests.faults.kit import boundaries, copy_done, kill_at, kill_everywhere, run_stage, temporaries


def test_kill_report_at_each_kind_of_boundary_of_its_first_commit(demo_done, tmp_path):
    assert kill_everywhere("report", demo_done, tmp_path, every=False, part=0) > 20  # boundaries in all


@pytest.mark.slow
def test_kill_report_at_every_write_boundary(demo_done, tmp_path):
    kill_everywhere("report", demo_done, tmp_path, every=True)


def test_a_killed_write_leaves_no_temporary_for_good(demo_done, tmp_path):
    """A killed figure write leaves its hidden .tmp; the next run of the stage removes it."""
    paths = copy_done(demo_done, tmp_path)
    names = boundaries("report", paths, tmp_path / "b.txt")
    first_figure = next(n for n in names if n.startswith("write:figures/"))
    assert kill_at("report", paths, first_figure) == FAULT_EXIT
    assert any(t.startswith("report/figures/.") for t in temporaries(paths.out))
    run_stage("report", paths)
    assert temporaries(paths.out) == []
