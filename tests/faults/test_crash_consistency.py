"""A stage killed at any write boundary, renames included, leaves one complete set of its outputs once its
next invocation starts: the old set (its make target present), or the new one when the kill came after
the target's rename. Never new files beside old ones. The rerun gives byte-identical outputs to an
uninterrupted run and leaves no temporary file, kept old version or journal behind.

Each stage runs in a child process that the fault hook (QZ_FAULT_AT) ends with os._exit at the named
boundary: no cleanup, no `finally`, as a power cut or `kill -9` would."""

from __future__ import annotations

import shutil

import pytest

from pipeline import stages, tableio
from pipeline.faults import FAULT_EXIT
from pipeline.paths import WavePaths
from tests.faults.kit import (
    boundaries,
    kill_at,
    output_files,
    run_in_child,
    run_stage,
    snapshot,
    temporaries,
)

OLD = b"old output of an earlier run\n"


def _copy(demo_done: WavePaths, tmp_path) -> WavePaths:
    """The finished wave of the fault tests, made with the lighter variance spec (5 bootstrap replicates,
    linearisation only in estimation): what is tested is the write sequence, and each stage runs a few
    dozen times."""
    root = tmp_path / "project"
    shutil.copytree(demo_done.root, root, symlinks=True)
    return WavePaths(2024, root)


def _hashes(stage: str, paths: WavePaths) -> dict[str, str]:
    base = paths.out
    files = output_files(stage, paths)
    return {k: v for k, v in snapshot(base).items() if base / k in files}


def _sample(names: list[str]) -> list[str]:
    """The report writes dozens of files in three steps; the fast suite kills it at one boundary of each
    kind (a figure written, the journal written, the target removed, a file renamed, the page renamed in
    the second step, the manifest written and renamed, the journal removed), the slow one at all of them."""
    renames = [n for n in names if n.startswith("rename:")]
    picks = [next(n for n in names if n.startswith("write:figures/")), "commit1:journal", "commit1:target-removed",
             next(n for n in names if n.startswith("rename:tables/")), "rename:report.html", "commit2:journal",
             "write:manifest.json", renames[-1], names[-1]]
    assert all(p in names for p in picks)
    return picks


def _kill_everywhere(stage: str, demo_done: WavePaths, tmp_path, every: bool) -> int:
    paths = _copy(demo_done, tmp_path)
    uninterrupted = _hashes(stage, paths)
    names = boundaries(stage, paths, tmp_path / "boundaries.txt")
    assert _hashes(stage, paths) == uninterrupted, "same inputs must give byte-identical outputs"
    assert len(set(names)) == len(names)
    assert sum(n.startswith("write:") for n in names) == len(uninterrupted) == sum(
        n.startswith("rename:") for n in names)
    target = stages.target(stage, paths)
    renames = [n for n in names if n.startswith("rename:")]
    assert renames[-1] == f"rename:{target.name}", "the make target is renamed last"
    assert names[-1].endswith(":settled"), "the journal goes once the target is in place"
    for name in names if every else _sample(names):
        for f in output_files(stage, paths):  # an old complete set, recognisably not this run's
            f.write_bytes(OLD + f.name.encode())
        old = _hashes(stage, paths)
        assert kill_at(stage, paths, name) == FAULT_EXIT, f"{stage} was not killed at {name}"
        after = _hashes(stage, paths)
        if target.exists():  # the old complete set, or (killed after the target's rename) the new one
            assert after in (old, uninterrupted), f"killed at {name}: a target beside outputs not its own set"
        # the next invocation starts by settling the journal: from then on one complete set is visible
        tableio.recover(stage, target.parent)
        settled = _hashes(stage, paths)
        killed_after_target = names.index(name) >= names.index(renames[-1])
        assert settled == (uninterrupted if killed_after_target else old), \
            f"killed at {name}: after recovery neither the old nor the new complete set"
        assert target.exists()
        assert not list(target.parent.rglob(f"*{tableio.OLD_SUFFIX}")), f"kept old versions left after {name}"
        run_stage(stage, paths)
        assert _hashes(stage, paths) == uninterrupted, f"rerun after a kill at {name} differs"
        assert temporaries(paths.out) == [], f"temporary files left after a kill at {name} and a rerun"
        assert not list(paths.out.rglob(".*.commit.json")), f"a journal left after a kill at {name} and a rerun"
    return len(names)


@pytest.mark.parametrize("stage", ["ingest", "score", "weight", "estimate"])
def test_kill_at_every_write_boundary(stage, demo_done, tmp_path):
    assert _kill_everywhere(stage, demo_done, tmp_path, every=True) >= 6


def test_kill_report_at_each_kind_of_boundary(demo_done, tmp_path):
    assert _kill_everywhere("report", demo_done, tmp_path, every=False) > 20  # boundaries in all


@pytest.mark.slow
def test_kill_report_at_every_write_boundary(demo_done, tmp_path):
    _kill_everywhere("report", demo_done, tmp_path, every=True)


def test_a_failure_among_the_renames_restores_the_old_set(demo_done, tmp_path):
    """A full disk in the middle of the renames (an exception, not a kill): the stage itself puts the old
    complete set back before it reports the error."""
    paths = _copy(demo_done, tmp_path)
    names = boundaries("estimate", paths, tmp_path / "b.txt")
    for f in output_files("estimate", paths):
        f.write_bytes(OLD + f.name.encode())
    old = _hashes("estimate", paths)
    middle = [n for n in names if n.startswith("rename:")][1]
    assert run_in_child("estimate", paths, QZ_FAULT_AT=f"estimate:{middle}:enospc") not in (0, FAULT_EXIT)
    assert _hashes("estimate", paths) == old
    assert temporaries(paths.out) == [] and not list(paths.out.glob(".*.old"))


def test_a_killed_write_leaves_no_temporary_for_good(demo_done, tmp_path):
    """A killed figure write leaves its hidden .tmp; the next run of the stage removes it."""
    paths = _copy(demo_done, tmp_path)
    names = boundaries("report", paths, tmp_path / "b.txt")
    first_figure = next(n for n in names if n.startswith("write:figures/"))
    assert kill_at("report", paths, first_figure) == FAULT_EXIT
    assert any(t.startswith("report/figures/.") for t in temporaries(paths.out))
    run_stage("report", paths)
    assert temporaries(paths.out) == []
