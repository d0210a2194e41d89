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

from pipeline.faults import FAULT_ENV, LIST_ENV
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
