"""What `make venv` and `make lab` install: the Jupyter commands people reach for come with the lab extra."""

from __future__ import annotations

import re
import tomllib

from pipeline.paths import ROOT

# command → the distribution that provides it (the `jupyter` metapackage brings all of them)
JUPYTER_COMMANDS = {"jupyter lab": "jupyterlab", "jupyter notebook": "notebook", "jupyter nbconvert": "nbconvert",
                    "jupyter execute": "nbclient", "jupyter console": "jupyter-console"}


def _names(requirements: list[str]) -> set[str]:
    return {re.split(r"[\s<>=!~\[;]", r, maxsplit=1)[0].lower().replace("_", "-") for r in requirements}


def test_lab_extra_gives_every_jupyter_command():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    lab = _names(project["optional-dependencies"]["lab"]) | _names(project["dependencies"])
    missing = [cmd for cmd, dist in JUPYTER_COMMANDS.items() if dist not in lab and "jupyter" not in lab]
    assert not missing, f"the lab extra does not provide {missing}"
    assert "nbconvert" in lab, "people run `jupyter nbconvert` first: require it by name"
