"""The researchers' notebooks: committed without outputs, named <phase>.<nn>-<description>, sharing no
functions, and every one runs top to bottom on a freshly built demo wave without writing under data/,
with figures in the bundled CJK font."""

from __future__ import annotations

import ast
import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

from pipeline.paths import ROOT, WavePaths

NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))
NAME = re.compile(r"^\d+\.\d{2}-[a-z0-9]+(-[a-z0-9]+)*\.ipynb$")
TIMEOUT = 300  # seconds per cell: generous for a loaded machine; the whole set runs in well under a minute


def _code(nb) -> list[str]:
    # IPython magics and shell escapes are not Python
    return ["\n".join(line for line in c.source.splitlines() if not line.lstrip().startswith(("%", "!")))
            for c in nb.cells if c.cell_type == "code"]


def test_there_are_notebooks_for_each_topic():
    names = [p.stem for p in NOTEBOOKS]
    for topic in ("how-to-estimate", "explore-wave", "weighting-review", "item-analysis", "county-comparison",
                  "drivers-of-literacy"):
        assert any(n.endswith(topic) for n in names), topic


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.name for p in NOTEBOOKS])
def test_committed_without_outputs(path):
    nb = nbformat.read(path, as_version=4)
    dirty = [i for i, c in enumerate(nb.cells) if c.cell_type == "code" and (c.outputs or c.execution_count)]
    assert not dirty, f"{path.name}: cells {dirty} carry outputs or execution counts; clear them before committing"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.name for p in NOTEBOOKS])
def test_name_imports_and_data_access(path):
    assert NAME.match(path.name), f"{path.name}: name notebooks <phase>.<nn>-<description>.ipynb"
    src = "\n".join(_code(nbformat.read(path, as_version=4)))
    tree = ast.parse(src)
    imported = {a.name.split(".")[0] for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names}
    imported |= {n.module.split(".")[0] for n in ast.walk(tree) if isinstance(n, ast.ImportFrom) and n.module}
    assert "pipeline" in imported
    # data come through pipeline.analysis (data/processed only); nothing is written to files
    for banned in ("data/raw", "to_csv(", "to_parquet(", "to_excel(", "savefig(", "open("):
        assert banned not in src, f"{path.name} uses {banned!r}"


def test_no_function_is_defined_in_two_notebooks():
    seen: dict[str, str] = {}
    clashes = []
    for path in NOTEBOOKS:
        tree = ast.parse("\n".join(_code(nbformat.read(path, as_version=4))))
        for node in ast.walk(tree):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                if node.name in seen and seen[node.name] != path.name:
                    clashes.append(f"{node.name} in {seen[node.name]} and {path.name}")
                seen.setdefault(node.name, path.name)
    assert not clashes, "move shared code into the package (pipeline/analysis.py): " + "; ".join(clashes)


# ---------------------------------------------------------------------------------------------- execution
@pytest.fixture(scope="module")
def demo_project(demo_estimated) -> WavePaths:
    return demo_estimated


@pytest.fixture(scope="module")
def kernel_dir(tmp_path_factory) -> Path:
    """A python3 kernel spec that runs this interpreter (the project's environment), whatever kernels
    the machine has registered, with a Chinese desktop's fonts (tests/desktop_fonts.py) installed first."""
    from tests.desktop_fonts import kernel_argv

    d = tmp_path_factory.mktemp("kernels")
    spec = d / "kernels" / "python3"
    spec.mkdir(parents=True)
    (spec / "kernel.json").write_text(json.dumps({
        "argv": kernel_argv(sys.executable, ROOT),
        "display_name": "Python 3 (project)", "language": "python"}), encoding="utf-8")
    return d


def _snapshot(root: Path) -> dict[str, tuple[int, int]]:
    return {str(p.relative_to(root)): (p.stat().st_size, p.stat().st_mtime_ns)
            for p in sorted(root.rglob("*")) if p.is_file()}


def _execute(nb, project: Path, kernel_dir: Path, cwd: Path, monkeypatch) -> Path:
    """Run a notebook as JupyterLab would: the kernel's own (inline) backend, the project given."""
    from nbclient import NotebookClient

    log = cwd / "figures.jsonl"
    monkeypatch.setenv("JUPYTER_PATH", str(kernel_dir))
    monkeypatch.setenv("QZ_PROJECT_ROOT", str(project))
    monkeypatch.setenv("QZ_FIGURE_LOG", str(log))
    monkeypatch.delenv("MPLBACKEND", raising=False)
    client = NotebookClient(nb, kernel_name="python3", timeout=TIMEOUT, resources={"metadata": {"path": str(cwd)}})
    client.execute()  # raises CellExecutionError on the first failing cell
    return log


def _images(cell) -> int:
    return sum(1 for o in cell.outputs if o.output_type == "display_data" and "image/png" in o.get("data", {}))


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.name for p in NOTEBOOKS])
def test_notebook_runs_on_the_demo_wave(path, demo_project, kernel_dir, tmp_path, monkeypatch):
    from pipeline.publishing.fonts import bundled_font_path

    data = demo_project.root / "data"
    before = _snapshot(data)
    nb = nbformat.read(path, as_version=4)
    log = _execute(nb, demo_project.root, kernel_dir, tmp_path, monkeypatch)
    assert _snapshot(data) == before, f"{path.name} wrote under data/"
    # every figure cell shows its figures in the notebook (an Agg backend would show none)
    for i, cell in enumerate(nb.cells):
        if cell.cell_type == "code" and "analysis.show(" in cell.source:
            assert _images(cell) == cell.source.count("analysis.show("), f"{path.name} cell {i} shows no figure"
    code = "\n".join(_code(nb))
    if "analysis.show(" in code:
        figures = [json.loads(line) for line in log.read_text(encoding="utf-8").splitlines()]
        assert len(figures) == code.count("analysis.show(")
        bundled = str(bundled_font_path().resolve())
        for f in figures:
            assert f["fonts"] == [bundled], f"{path.name} figure {f['figure']!r} used {f['fonts']}"
    # the kernel saw the demo project, not the checkout
    first = next(c for c in nb.cells if c.cell_type == "code")
    text = "".join(o.get("text", "") for o in first.outputs)
    assert str(demo_project.root) in text


def test_importing_the_package_leaves_the_backend_alone():
    """Only the command line chooses matplotlib's backend; a notebook importing the package keeps its own."""
    probe = (
        "import matplotlib; matplotlib.use('svg'); "
        "import pipeline.analysis, pipeline.reporting, pipeline.reporting.figures, pipeline.assessment.figures, "
        "pipeline.assessment.run; print(matplotlib.get_backend())"
    )
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, cwd=ROOT, check=True)
    assert out.stdout.strip() == "svg", out.stderr


def test_county_comparison_leaves_suppressed_counties_out(demo_project, kernel_dir, tmp_path, monkeypatch,
                                                          chinese_desktop_fonts):
    """One county's headline withheld (as the estimate stage marks it): it is in no pairwise test or rank."""
    import pandas as pd

    from pipeline.schemas import SUPPRESSED

    root = tmp_path / "project"
    shutil.copytree(demo_project.root, root, ignore=shutil.ignore_patterns("raw"))
    est_file = WavePaths(2024, root).processed("estimates.csv")
    est = pd.read_csv(est_file, encoding="utf-8-sig", keep_default_na=False, na_values=[""])
    county = (est["estimand_id"] == "literate") & (est["domain_type"] == "county")
    withheld = sorted(est.loc[county, "domain"].unique())[0]
    est.loc[county & (est["domain"] == withheld), "reliability"] = SUPPRESSED
    est.to_csv(est_file, index=False, encoding="utf-8-sig")
    nb = nbformat.read(next(p for p in NOTEBOOKS if p.stem.endswith("county-comparison")), as_version=4)
    nb.cells.append(nbformat.v4.new_code_cell(
        "import json\n"
        "from matplotlib import font_manager\n"
        "from pipeline.publishing.fonts import bundled_font_path\n"
        "family = font_manager.FontProperties(fname=str(bundled_font_path())).get_name()\n"
        "print(json.dumps({'shown': sorted(shown['domain']), 'paired': sorted(set(pairs['a']) | set(pairs['b'])),"
        " 'ranked': sorted(ranks['domain']),"
        " 'by_family': font_manager.findfont(font_manager.FontProperties(family=family))}, ensure_ascii=False))"))
    _execute(nb, root, kernel_dir, tmp_path, monkeypatch)
    seen = json.loads("".join(o.get("text", "") for o in nb.cells[-1].outputs))
    primary = est["variance_method"] == ("replicate" if (est["variance_method"] == "replicate").any() else "taylor")
    publishable = set(est.loc[county & primary & (est["reliability"] != SUPPRESSED), "domain"])
    for what in ("shown", "paired", "ranked"):
        assert withheld not in seen[what], f"{withheld} (suppressed) is among the {what} counties"
        assert set(seen[what]) == publishable, what
    # the kernel ran as on a Chinese desktop: the bundled font's family name means another file there
    assert Path(seen["by_family"]).resolve() == chinese_desktop_fonts.resolve()


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.name for p in NOTEBOOKS])
def test_reliability_compared_only_with_its_values(path):
    """A misspelt level ("suppress") silently matches nothing; compare with the schema's values only."""
    from pipeline.schemas import RELIABILITY_VALUES

    src = "\n".join(_code(nbformat.read(path, as_version=4)))
    used = re.findall(r"""\[["']reliability["']\]\s*[!=]=\s*["']([^"']*)["']""", src)
    used += [v for group in re.findall(r"""\[["']reliability["']\]\.isin\(\[([^\]]*)\]""", src)
             for v in re.findall(r"""["']([^"']*)["']""", group)]
    assert not set(used) - set(RELIABILITY_VALUES), f"{path.name}: unknown reliability {set(used) - set(RELIABILITY_VALUES)}"
