"""TODO markers in a drafted specification: what the delivery could not say. The loader refuses a spec
that still has any, and lists all of them at once."""

from __future__ import annotations

from typing import Any

from pipeline.errors import SpecError

TODO = "TODO"


def _name(entry: Any, i: int) -> str:
    if isinstance(entry, dict):
        for k in ("id", "field", "reason", "column"):
            if k in entry and not str(entry[k]).startswith(TODO):
                return f"[{entry[k]}]"
    return f"[{i}]"


def find_todos(data: Any, where: str = "") -> list[str]:
    """Every place (key path) whose key or value is a TODO marker, with the marker's text."""
    out: list[str] = []
    if isinstance(data, dict):
        for k, v in data.items():
            here = f"{where}.{k}" if where else str(k)
            if isinstance(k, str) and k.startswith(TODO):
                out.append(f"{here}: {v}")
                continue
            out += find_todos(v, here)
    elif isinstance(data, list):
        for i, v in enumerate(data):
            out += find_todos(v, f"{where}{_name(v, i)}")
    elif isinstance(data, str) and data.strip().startswith(TODO):
        out.append(f"{where}: {data}")
    return out


def grouped(todos: list[str]) -> list[str]:
    """One line per entry: bare markers of one entry joined (items[Q01]: key, points, …), explained
    markers on lines of their own."""
    lines: list[str] = []
    bare: dict[str, list[str]] = {}
    for t in todos:
        where, text = t.split(": ", 1)
        owner, _, key = where.rpartition(".")
        if text.strip() == TODO and owner:
            if owner not in bare:
                bare[owner] = []
                lines.append(owner)
            bare[owner].append(key)
        else:
            lines.append(t)
    return [f"{line}: {', '.join(bare[line])}" if line in bare else line for line in lines]


def refuse_todos(data: Any, path: str) -> None:
    todos = find_todos(data)
    if todos:
        raise SpecError(f"{path}: {len(todos)} TODO marker(s) still to fill in (a drafted spec is used only when "
                        "complete). Fill the answer keys, points, dimensions and benchmarks with `python -m pipeline "
                        "instrument keys --wave <wave> --template key.xlsx` and `--from key.xlsx`, the rest by hand:\n  "
                        + "\n  ".join(grouped(todos)))
