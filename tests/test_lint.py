"""The code base stays lint-clean (ruff, configured in pyproject.toml), so `make lint` is always green."""

import shutil
import subprocess
import sys

import pytest

from pipeline.paths import ROOT


def test_ruff_is_clean():
    if shutil.which("ruff") is None and subprocess.run([sys.executable, "-m", "ruff", "--version"],
                                                       capture_output=True).returncode != 0:
        pytest.fail("ruff is not installed: it is a dev dependency (pip install -e '.[dev]').")
    out = subprocess.run([sys.executable, "-m", "ruff", "check", "--output-format", "concise",
                          "pipeline", "tests", "benchmarks"], cwd=ROOT, capture_output=True, text=True)
    assert out.returncode == 0, out.stdout + out.stderr
