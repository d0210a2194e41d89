"""The house rules of the import graph: no circles, no reaching into another package's private names, the
simulator independent of the assessment, and path knowledge only in pipeline/paths.py."""

from __future__ import annotations

import ast
import re
from pathlib import Path

from pipeline.paths import ROOT

PACKAGE = ROOT / "pipeline"


def _module(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imports() -> dict[str, list[tuple[str, tuple[str, ...], bool]]]:
    """module → (imported module, imported names, at top level) for every `import`/`from` in the package."""
    out: dict[str, list[tuple[str, tuple[str, ...], bool]]] = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        top = set(map(id, tree.body))
        found = []
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                found.append((node.module, tuple(a.name for a in node.names), id(node) in top))
            elif isinstance(node, ast.Import):
                found += [(a.name, (), id(node) in top) for a in node.names]
        out[_module(path)] = [f for f in found if f[0].startswith("pipeline")]
    return out


def _package(module: str) -> str:
    return ".".join(module.split(".")[:2])


def test_no_import_circles_between_modules():
    graph: dict[str, set[str]] = {}
    mods = set(_imports())
    for mod, found in _imports().items():
        targets = set()
        for target, names, _ in found:
            # `from pipeline.x import y` imports the module pipeline.x.y when there is one; the package
            # pipeline.x counts only for the names that are not its modules (its __init__ runs either way,
            # but a package importing its own modules is not a circle)
            subs = {f"{target}.{name}" for name in names} & mods
            targets |= subs
            if target in mods and (len(subs) < len(names) or not names) and not mod.startswith(target + "."):
                targets.add(target)
        graph[mod] = targets - {mod}
    cycles = []
    state: dict[str, int] = {}

    def visit(node: str, stack: list[str]) -> None:
        state[node] = 1
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == 1:
                cycles.append(stack[stack.index(nxt):] + [nxt] if nxt in stack else [node, nxt])
            elif nxt not in state:
                visit(nxt, [*stack, nxt])
        state[node] = 2

    for m in sorted(graph):
        if m not in state:
            visit(m, [m])
    assert cycles == []


def test_weighting_and_estimation_never_import_each_other():
    """What both stages need of the design (its record, the codes of its units) lives in
    pipeline.survey_design: estimation reads the design the weighting made, never the weighting's code."""
    crossing = [f"{m}: {t}" for m, f in _imports().items() for t, _, _ in f
                for a, b in (("estimation", "weighting"), ("weighting", "estimation"))
                if m.startswith(f"pipeline.{a}") and t.startswith(f"pipeline.{b}")]
    assert crossing == []


def test_no_package_imports_private_names_of_another():
    bad = [f"{mod}: {target}.{name}" for mod, found in _imports().items() for target, names, _ in found
           for name in names if name.startswith("_") and _package(target) != _package(mod)]
    assert bad == []


def test_the_simulator_and_the_assessment_share_the_plan_not_each_other():
    imports = _imports()
    sim = [f"{m}: {t}" for m, f in imports.items() if m.startswith("pipeline.simulate") for t, _, _ in f
           if t.startswith("pipeline.assessment")]
    assert sim == []
    reporting = [f"{m}: {t}" for m, f in imports.items() if m.startswith("pipeline.assessment") for t, _, _ in f
                 if t.startswith("pipeline.reporting") and not (m == "pipeline.assessment.waves"
                                                                 and t == "pipeline.reporting.inputs")]
    assert reporting == [], "the assessment takes what it shares with the wave report from pipeline.publishing"


LEAKS = re.compile(r"""(/\s*["'](survey_instruments|data)["']\s*/)|(["'](frameworks|counties|assessment)\.yaml["'])|"""
                   r"""(raw\s*/\s*["']truth\.json["'])""")


def test_path_knowledge_only_in_paths():
    leaks = []
    for path in sorted(PACKAGE.rglob("*.py")):
        rel = path.relative_to(ROOT).as_posix()
        if rel == "pipeline/paths.py":
            continue
        for i, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
            if LEAKS.search(line.split("#", 1)[0]):
                leaks.append(f"{rel}:{i}: {line.strip()}")
    assert leaks == [], "build paths with pipeline.paths (WavePaths, ProjectPaths)"
