"""Tools of the fault tests: a project folder holding a small demo wave, stages run in a child process
that the fault hook can kill at a write boundary, and byte snapshots of a wave's outputs."""

from __future__ import annotations

import hashlib
import multiprocessing
import os
import shutil
import subprocess
import sys
from pathlib import Path

from pipeline import stages, tableio
from pipeline.faults import FAULT_ENV, FAULT_EXIT, LIST_ENV
from pipeline.paths import ROOT, WavePaths
from pipeline.stages import OUTPUTS
from tests.conftest import project_with

RUNNERS = {"ingest": ("pipeline.ingest", "run_ingest"), "score": ("pipeline.scoring", "run_score"),
           "weight": ("pipeline.weighting", "run_weight"), "estimate": ("pipeline.estimation", "run_estimate"),
           "report": ("pipeline.reporting", "run_report")}
ORDER = ("ingest", "score", "weight", "estimate", "report")
# The wave of the fault tests: every county unit, 60 interviews each, from a population of a twentieth of
# the city's size. What they test (write boundaries, reruns, refusals) does not depend on the sample size.
FAULTS_WAVE = {"per_stratum": 60, "scale": 0.05}

# Children are forked from a server process that has imported the stages but run nothing (forking a
# process whose Arrow or BLAS thread pools are running can hang), so a killed run costs only the stage.
_CTX = multiprocessing.get_context("forkserver")
_CTX.set_forkserver_preload([m for m, _ in RUNNERS.values()])


def run_stage(stage: str, paths: WavePaths) -> None:
    import importlib

    module, func = RUNNERS[stage]
    getattr(importlib.import_module(module), func)(paths, progress=False)


def _child(stage: str, root: str, env: dict[str, str]) -> None:
    os.environ.update(env)
    run_stage(stage, WavePaths(2024, Path(root)))


def run_in_child(stage: str, paths: WavePaths, **env: str) -> int:
    """Run one stage in a child process with extra environment; its exit code (FAULT_EXIT when killed)."""
    p = _CTX.Process(target=_child, args=(stage, str(paths.root), env))
    p.start()
    p.join(300)
    return p.exitcode


def boundaries(stage: str, paths: WavePaths, listing: Path) -> list[str]:
    """The write boundaries an uninterrupted run of the stage passes, in order."""
    listing.unlink(missing_ok=True)
    assert run_in_child(stage, paths, **{LIST_ENV: str(listing)}) == 0
    names = [line.split(":", 1)[1] for line in listing.read_text(encoding="utf-8").splitlines()]
    assert names, f"{stage} passed no write boundary"
    return names


def kill_at(stage: str, paths: WavePaths, boundary: str) -> int:
    return run_in_child(stage, paths, **{FAULT_ENV: f"{stage}:{boundary}"})


def wave_project(tmp: Path, raw: Path) -> WavePaths:
    """A project with the real specifications and a copy of the delivery `raw`."""
    return project_with(tmp, raw)


def copy_project(src: Path, dst: Path) -> Path:
    """A copy of the project `src` at `dst` as `cp -a` makes it: modification times and the package link
    kept, so that make sees the copy exactly as it left the original (up to date where that was)."""
    dst.parent.mkdir(parents=True, exist_ok=True)
    subprocess.run(["cp", "-a", str(src), str(dst)], check=True)
    return dst


def output_files(stage: str, paths: WavePaths) -> list[Path]:
    if stage == "report":
        return sorted(p for p in paths.report_dir.rglob("*") if p.is_file() and not p.name.startswith("."))
    return [paths.processed(n) for n in OUTPUTS[stage] if paths.processed(n).exists()]


def snapshot(folder: Path) -> dict[str, str]:
    """sha256 of every file under `folder`, hidden ones included, keyed by relative path."""
    if not folder.exists():
        return {}
    return {p.relative_to(folder).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


def temporaries(folder: Path) -> list[str]:
    return sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*.tmp"))


def lighten(paths: WavePaths) -> None:
    """A lighter variance spec (5 bootstrap replicates; linearisation only in estimation) for tests that run
    stages many times: what they test is the write and rerun machinery, not the variance. Sparse
    calibration cells are merged only when nearly empty (fewer than 3 respondents), so that the small
    wave of these tests calibrates."""
    design = paths.design.read_text(encoding="utf-8")
    for old, new in (("method: JKn ", "method: bootstrap "), ("replicates: 200 ", "replicates: 5 "),
                     ("primary: replicate ", "primary: linearisation "), ("min_count: 10 ", "min_count: 3 "),
                     ("min_psu: 2 ", "min_psu: 1 ")):
        assert old in design
        design = design.replace(old, new)
    paths.design.write_text(design, encoding="utf-8")
    est = paths.estimands.read_text(encoding="utf-8")
    assert "methods: [replicate, taylor]" in est
    paths.estimands.write_text(est.replace("methods: [replicate, taylor]", "methods: [taylor]"), encoding="utf-8")


def make_project_for_make(tmp: Path, raw: Path | None) -> Path:
    """A project that `make` can run in: the Makefile, the specifications, the package (linked) and an
    installed-environment stamp, so make uses this interpreter and never reinstalls."""
    root = project_with(tmp, raw).root
    shutil.copy2(ROOT / "Makefile", root / "Makefile")
    shutil.copy2(ROOT / "pyproject.toml", root / "pyproject.toml")
    (root / "pipeline").symlink_to(ROOT / "pipeline", target_is_directory=True)
    (root / ".venv").mkdir()
    (root / ".venv" / ".installed-stamp").touch()
    lighten(WavePaths(2024, root))
    return root


def make(root: Path, *targets: str, dry: bool = False) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith("MAKE") and k not in (FAULT_ENV, LIST_ENV)}
    cmd = ["make", "--no-print-directory", f"PY={sys.executable}"] + (["-n"] if dry else []) + list(targets)
    return subprocess.run(cmd, cwd=root, capture_output=True, text=True, env=env, timeout=600)


def stages_run(result: subprocess.CompletedProcess) -> set[str]:
    """The stages a make run started (each stage's first line is `>> <stage> wave <W>`)."""
    out = result.stdout + result.stderr
    return {line.split()[1] for line in out.splitlines() if line.startswith(">> ") and " wave " in line
            and line.split()[1] in ORDER}


# ---- kills at the write boundaries of one stage (test_crash_consistency.py, test_kill_report.py) ----

OLD = b"old output of an earlier run\n"


def copy_done(demo_done: WavePaths, tmp_path) -> WavePaths:
    """The finished wave of the fault tests, made with the lighter variance spec (5 bootstrap replicates,
    linearisation only in estimation): what is tested is the write sequence, and each stage runs a few
    dozen times."""
    root = tmp_path / "project"
    shutil.copytree(demo_done.root, root, symlinks=True)
    return WavePaths(2024, root)


def stage_hashes(stage: str, paths: WavePaths) -> dict[str, str]:
    base = paths.out
    files = output_files(stage, paths)
    return {k: v for k, v in snapshot(base).items() if base / k in files}


def report_sample(names: list[str], part: int | None = None) -> list[str]:
    """The report writes dozens of files in three steps; the fast suite kills it at one boundary of each
    kind (a figure written, the journal written, the target removed, a file renamed, the page renamed in
    the second step, the manifest written and renamed, the journal removed), the slow one at all of them.
    `part` 0 is the first commit's kinds, 1 the rest: two test files, so that both test processes share
    the kills (each costs two runs of the report)."""
    renames = [n for n in names if n.startswith("rename:")]
    picks = [next(n for n in names if n.startswith("write:figures/")), "commit1:journal", "commit1:target-removed",
             next(n for n in names if n.startswith("rename:tables/")), "rename:report.html", "commit2:journal",
             "write:manifest.json", renames[-1], names[-1]]
    assert all(p in names for p in picks)
    return picks if part is None else (picks[:5], picks[5:])[part]


def kill_everywhere(stage: str, demo_done: WavePaths, tmp_path, every: bool, part: int | None = None) -> int:
    paths = copy_done(demo_done, tmp_path)
    uninterrupted = stage_hashes(stage, paths)
    names = boundaries(stage, paths, tmp_path / "boundaries.txt")
    assert stage_hashes(stage, paths) == uninterrupted, "same inputs must give byte-identical outputs"
    assert len(set(names)) == len(names)
    assert sum(n.startswith("write:") for n in names) == len(uninterrupted) == sum(
        n.startswith("rename:") for n in names)
    target = stages.target(stage, paths)
    renames = [n for n in names if n.startswith("rename:")]
    assert renames[-1] == f"rename:{target.name}", "the make target is renamed last"
    assert names[-1].endswith(":settled"), "the journal goes once the target is in place"
    for name in names if every else report_sample(names, part):
        for f in output_files(stage, paths):  # an old complete set, recognisably not this run's
            f.write_bytes(OLD + f.name.encode())
        old = stage_hashes(stage, paths)
        assert kill_at(stage, paths, name) == FAULT_EXIT, f"{stage} was not killed at {name}"
        after = stage_hashes(stage, paths)
        if target.exists():  # the old complete set, or (killed after the target's rename) the new one
            assert after in (old, uninterrupted), f"killed at {name}: a target beside outputs not its own set"
        # the next invocation starts by settling the journal: from then on one complete set is visible
        tableio.recover(stage, target.parent)
        settled = stage_hashes(stage, paths)
        killed_after_target = names.index(name) >= names.index(renames[-1])
        assert settled == (uninterrupted if killed_after_target else old), \
            f"killed at {name}: after recovery neither the old nor the new complete set"
        assert target.exists()
        assert not list(target.parent.rglob(f"*{tableio.OLD_SUFFIX}")), f"kept old versions left after {name}"
        run_stage(stage, paths)
        assert stage_hashes(stage, paths) == uninterrupted, f"rerun after a kill at {name} differs"
        assert temporaries(paths.out) == [], f"temporary files left after a kill at {name} and a rerun"
        assert not list(paths.out.rglob(".*.commit.json")), f"a journal left after a kill at {name} and a rerun"
    return len(names)


# ---- make after a changed input (test_content_reruns.py, test_redelivery_reruns.py) ----

OLD_DATE = (1_500_000_000, 1_500_000_000)  # 2017: older than any output, as `cp -p` or an unzip leaves a file


def make_ok(root: Path) -> set[str]:
    """`make survey-2024` in `root`, which must succeed: the stages it ran."""
    run = make(root, "survey-2024")
    assert run.returncode == 0, run.stderr[-3000:]
    assert "Traceback" not in run.stderr
    return stages_run(run)


def edit_csv(path: Path, edit) -> None:
    """Rewrite a delivered CSV through `edit` (lines in, lines out), dated older than every output."""
    lines = path.read_text(encoding="utf-8-sig").splitlines()
    path.write_text("\ufeff" + "\n".join(edit(lines)) + "\n", encoding="utf-8")
    os.utime(path, OLD_DATE)
