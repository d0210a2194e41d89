"""The command line: every command and subcommand answers --help, through the parser and as people run it."""

from __future__ import annotations

import argparse
import subprocess
import sys

import pytest

from pipeline.cli import build_parser
from pipeline.paths import ROOT


def _commands(parser: argparse.ArgumentParser, prefix: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    """Every command path of the parser tree: (), ("ingest",), ("indicators", "template"), …"""
    found = [prefix]
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                found += _commands(sub, prefix + (name,))
    return found


COMMANDS = _commands(build_parser())


def test_the_tree_is_walked():
    assert ("ingest",) in COMMANDS and ("indicators", "template") in COMMANDS and len(COMMANDS) > 10


@pytest.mark.parametrize("path", COMMANDS, ids=[" ".join(p) or "(top)" for p in COMMANDS])
def test_help(path, capsys):
    with pytest.raises(SystemExit) as done:
        build_parser().parse_args([*path, "--help"])
    assert done.value.code == 0
    out = capsys.readouterr().out
    assert out.startswith("usage: python -m pipeline"), out[:200]


def test_help_as_the_readme_runs_it():
    out = subprocess.run([sys.executable, "-m", "pipeline", "--help"], capture_output=True, text=True, cwd=ROOT)
    assert out.returncode == 0, out.stderr
    assert "estimate" in out.stdout and "16%" in out.stdout
