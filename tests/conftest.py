"""Fixtures shared across stages: a demo wave generated once per test session in a temporary project."""

from __future__ import annotations

import fcntl
import os
import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path

import matplotlib
import pytest

from pipeline.paths import ROOT, WavePaths

# Figures drawn in this process go to files, whatever display the machine has; notebook kernels are other
# processes and keep their own inline backend.
matplotlib.use("Agg")

DEMO_PER_STRATUM = 300  # about 3,900 interviews: the full population and design, a smaller sample


def _tracked_state() -> dict[str, tuple[int, int]]:
    try:
        listed = subprocess.run(["git", "ls-files", "-z"], cwd=ROOT, capture_output=True, check=True).stdout
    except (OSError, subprocess.CalledProcessError):
        return {}  # not a git checkout: nothing to compare
    state = {}
    for name in listed.decode().split("\0"):
        p = ROOT / name
        if name and p.is_file():
            state[name] = (p.stat().st_size, p.stat().st_mtime_ns)
    return state


# The longest test files first, so that the two processes of `make test` (one file at a time each) end
# together instead of one of them starting a long file last.
LONGEST_FIRST = ("faults/test_kill_report.py", "faults/test_kill_report_late.py", "faults/test_content_reruns.py",
                 "faults/test_redelivery_reruns.py", "faults/test_crash_consistency.py")


def pytest_collection_modifyitems(items) -> None:
    tests = Path(__file__).parent

    def rank(item) -> int:
        name = item.path.relative_to(tests).as_posix() if item.path.is_relative_to(tests) else ""
        return LONGEST_FIRST.index(name) if name in LONGEST_FIRST else len(LONGEST_FIRST)

    items.sort(key=rank)


@pytest.fixture(scope="session", autouse=True)
def tracked_files_untouched():
    """No test writes into the checkout's tracked files: golden numbers and benchmark results change only
    when asked for (QZ_UPDATE_GOLDEN=1, or `make bench`, which sets QZ_BENCH_RESULTS)."""
    before = _tracked_state()
    yield
    if os.environ.get("QZ_UPDATE_GOLDEN") or os.environ.get("QZ_BENCH_RESULTS"):
        return
    after = _tracked_state()
    changed = sorted(k for k in before.keys() | after.keys() if before.get(k) != after.get(k))
    assert not changed, f"tests changed tracked files: {changed[:10]}"


@pytest.fixture(scope="session", autouse=True)
def chinese_desktop_fonts():
    """Every test runs as on a machine whose system fonts include one named like the bundled font."""
    from tests.desktop_fonts import install_competing_font

    return install_competing_font()


def make_project(root: Path) -> Path:
    """A project folder with the real wave specifications and empty data folders."""
    shutil.copytree(ROOT / "survey_instruments", root / "survey_instruments")
    (root / "data" / "raw").mkdir(parents=True)
    (root / "data" / "processed").mkdir(parents=True)
    return root


def project_with(root: Path, raw: Path | None = None, processed: Path | None = None, wave: int = 2024) -> WavePaths:
    """A project folder (`make_project`) holding a copy of the delivery `raw` and, if given, of the processed
    outputs `processed` of `wave`: how a test gets a wave of its own to change or break."""
    make_project(root)
    paths = WavePaths(wave, root)
    if raw is not None:
        shutil.copytree(raw, paths.raw)
    if processed is not None:
        shutil.copytree(processed, paths.out)
    return paths


def shared_folder(tmp_path_factory, name: str, build: Callable[[Path], object]) -> Path:
    """A read-only folder that `build` fills once for the whole test run: the first test process (of the
    two `make test` starts) to ask builds it under a lock, the other waits and uses it. A build that
    failed leaves no `.done` mark, so the next process to ask builds it again and sees the same error."""
    base = tmp_path_factory.getbasetemp()
    if os.environ.get("PYTEST_XDIST_WORKER"):
        base = base.parent  # shared by the workers of one run, new for every run
    shared = base / "shared"
    shared.mkdir(exist_ok=True)
    folder, done = shared / name, shared / f"{name}.done"
    with open(shared / f"{name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not done.exists():
            if folder.exists():
                shutil.rmtree(folder)
            folder.mkdir()
            build(folder)
            done.touch()
    return folder


def _simulated(root: Path) -> None:
    from pipeline.simulate import run_simulate

    make_project(root)
    run_simulate(2024, WavePaths(2024, root).raw, per_stratum=DEMO_PER_STRATUM, root=root)


@pytest.fixture(scope="session")
def demo_raw(tmp_path_factory) -> WavePaths:
    """The 2024 demo delivery as fieldwork would hand it over (read-only for tests: copy before changing)."""
    return WavePaths(2024, shared_folder(tmp_path_factory, "demo", _simulated))


@pytest.fixture(scope="session")
def demo_ingested(demo_raw, tmp_path_factory) -> WavePaths:
    """The demo wave after ingest, in a project of its own so that tests of failures cannot disturb it."""
    from pipeline.ingest import run_ingest

    def build(root: Path) -> None:
        run_ingest(project_with(root, demo_raw.raw), progress=False)

    return WavePaths(2024, shared_folder(tmp_path_factory, "ingested", build))


@pytest.fixture(scope="session")
def demo_estimated(demo_ingested, tmp_path_factory) -> WavePaths:
    """The demo wave through score, weight and estimate, in a project of its own (read-only for tests)."""
    from pipeline.estimation import run_estimate
    from pipeline.scoring.run import run_score
    from pipeline.weighting.run import run_weight

    def build(root: Path) -> None:
        paths = project_with(root, demo_ingested.raw, demo_ingested.out)
        run_score(paths, progress=False)
        run_weight(paths, progress=False)
        run_estimate(paths, progress=False)

    return WavePaths(2024, shared_folder(tmp_path_factory, "estimated", build))
