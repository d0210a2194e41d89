"""`ci.level: 0.90` in estimands.yaml: every public word about intervals says 90%, in the HTML page, the Word
bulletin, the workbook, the CSV tables, the figures and the command-line summary. The only 95% left is the
NCHS suppression criterion, which is defined on a 95% Korn–Graubard interval whatever the report's level."""

from __future__ import annotations

import re
import shutil
import zipfile

import pytest

from pipeline.estimation import run_estimate
from pipeline.paths import WavePaths
from pipeline.publishing import labels as L
from pipeline.reporting import run_report
from pipeline.reporting.figures import FIGURES, render
from pipeline.reporting.inputs import load_inputs
from tests.faults.kit import lighten

NCHS = "Korn–Graubard 95%置信区间（NCHS"


def _xml_text(path, prefix) -> str:
    with zipfile.ZipFile(path) as z:
        return "".join(re.sub(r"<[^>]+>", "", z.read(n).decode("utf-8")) for n in sorted(z.namelist())
                       if n.startswith(prefix) and n.endswith(".xml"))


@pytest.fixture(scope="module")
def at_90(demo_estimated, tmp_path_factory) -> tuple[WavePaths, object]:
    root = tmp_path_factory.mktemp("ci90") / "project"
    shutil.copytree(demo_estimated.root, root, symlinks=True)
    paths = WavePaths(2024, root)
    lighten(paths)
    text = paths.estimands.read_text(encoding="utf-8")
    assert "level: 0.95" in text
    paths.estimands.write_text(text.replace("level: 0.95", "level: 0.90", 1), encoding="utf-8")
    run_estimate(paths, progress=False)
    return paths, run_report(paths, progress=False)


def _public_texts(paths: WavePaths, result) -> dict[str, str]:
    out = paths.report_dir
    texts = {"report.html": re.sub(r"<[^>]+>", " ", (out / "report.html").read_text(encoding="utf-8")),
             "report.docx": _xml_text(out / "report.docx", "word/"),
             "tables.xlsx": _xml_text(out / "tables.xlsx", "xl/"),
             "summary": result.summary()}
    for f in sorted((out / "tables").glob("*.csv")):
        texts[f"tables/{f.name}"] = f.read_text(encoding="utf-8-sig")
    inputs = load_inputs(paths)
    for spec in FIGURES:
        fig = render(spec, inputs)
        texts[f"figure {spec.stem}"] = " ".join(t.get_text() for t in fig.findobj(
            lambda a: hasattr(a, "get_text") and callable(a.get_text)))
    return texts


def test_every_public_text_says_90(at_90):
    paths, result = at_90
    texts = _public_texts(paths, result)
    for name, text in texts.items():
        left = text.replace(NCHS, "")
        assert not re.search(r"(?<![\d.])95%", left), f"{name} still says 95%: …{left[max(0, left.find('95%') - 40):left.find('95%') + 20]}…"
        # z = 1.96 as a number of its own, not the digits inside an estimate such as 21.963
        assert not re.search(r"(?<![\d.])1\.96(?![\d])", left), f"{name} still uses z = 1.96"
    for name in ("report.html", "report.docx", "tables.xlsx", "summary", "tables/targets.csv", "figure fig1_county"):
        assert "90%" in texts[name], f"{name} never names the 90% level"
    assert "90%置信区间下限" in texts["tables/targets.csv"]
    assert "1.645" in texts["report.html"] or "1.645" in texts["tables.xlsx"]  # the model interval's z


def test_the_intervals_are_the_90_ones(at_90):
    paths, _ = at_90
    inputs = load_inputs(paths)
    assert inputs.ci_level == 0.90 and inputs.ci == "90%"
    head = inputs.cell(L.HEADLINE)
    assert L.fmt_interval(head["lci"], head["uci"], "proportion", head["reliability"]) in \
        (paths.report_dir / "report.html").read_text(encoding="utf-8")


@pytest.mark.parametrize("level, pct, z", [(0.95, "95%", "1.96"), (0.9, "90%", "1.645"), (0.99, "99%", "2.576"),
                                           (0.995, "99.5%", "2.807")])
def test_level_words(level, pct, z):
    assert L.ci_pct(level) == pct and L.z_of(level) == z
    assert L.verdict_rule(level).count(pct) == 2
