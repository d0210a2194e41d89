"""The assessment follows the waves' ci.level: waves estimated at 90% are labelled 90% in every text,
table header and figure legend, and waves estimated at different levels are refused."""

from __future__ import annotations

import re

import matplotlib
import numpy as np
import pandas as pd
import pytest
from openpyxl import load_workbook

from pipeline.assessment import figures as F
from pipeline.assessment.run import run_assess
from pipeline.errors import InputError
from pipeline.plan.targets import load_plan
from pipeline.simulate.indicators import run_indicator_simulate
from tests.assessment.synth import make_root, rising


@pytest.fixture(scope="module")
def at_90(tmp_path_factory):
    waves = rising(2021, 2025)
    for w in waves.values():
        w["level"] = 0.90
    waves[2025]["suppressed"] = ["安溪县"]  # a withheld county: its verdict sentence names the level too
    root = make_root(tmp_path_factory.mktemp("ci90"), waves)
    run_indicator_simulate(load_plan(root / "survey_instruments" / "plan" / "targets.yaml"),
                           root / "data" / "raw" / "indicators")
    texts: list[str] = []

    def capture(fig, out_dir, stem):
        import matplotlib.pyplot as plt

        texts.extend(t.get_text() for t in fig.findobj(matplotlib.text.Text))
        out_dir.mkdir(parents=True, exist_ok=True)
        path = out_dir / f"{stem}.png"
        fig.savefig(path, dpi=30)
        plt.close(fig)
        return {"png": path}

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr("pipeline.assessment.report.embedded_font_css", lambda text: "")
        mp.setattr("pipeline.assessment.run.save_figure", capture)
        run_assess("final", None, root)
    return root / "data" / "processed" / "assessment" / "final", texts


def _text(path):
    html = re.sub(r"<style>.*?</style>", "", path.read_text(encoding="utf-8"), flags=re.S)
    return re.sub(r"<[^>]+>", " ", html)


def test_report_text_says_the_waves_level(at_90):
    out, _ = at_90
    text = _text(out / "report.html")
    assert "95%置信区间" not in text
    assert text.count("90%置信区间") >= 5  # city sentence, withheld county, tables' headers, methods
    assert "结论依据其90%置信区间" in text
    assert "90%置信区间下限高于" in text  # the final-verdict rule in the methods
    # differences keep the assessment's own level (assessment.yaml `level`, 0.95 here)
    assert "差值95%区间下限" in text


def test_workbook_headers_say_the_waves_level(at_90):
    out, _ = at_90
    wb = load_workbook(out / "tables.xlsx", read_only=True)
    headers = {c for ws in wb.worksheets for row in ws.iter_rows(max_row=1, values_only=True) for c in row if c}
    assert {"90%置信区间下限", "90%置信区间上限"} <= headers
    assert not any("95%置信区间" in h for h in headers)


def test_figure_legends_say_the_waves_level(at_90):
    _, texts = at_90
    assert any("90%置信区间" in t for t in texts)
    assert not any("95%" in t for t in texts)


def test_interval_cells_keep_the_waves_numbers(at_90):
    """The published bounds are the wave's own (made at 90%), shown as percentages in the report."""
    out, _ = at_90
    trend = pd.read_csv(out / "tables" / "trend.csv", encoding="utf-8-sig")
    city = trend[(trend["domain_type"] == "overall") & (trend["wave"] == 2025)].iloc[0]
    text = _text(out / "report.html")
    assert f"{100 * city['lci']:.1f}%" in text and f"{100 * city['uci']:.1f}%" in text


def test_ranking_whiskers_use_the_level():
    """est ± z·se with z = 1.6449 at 90%: 0.20 ± 1.6449 × 0.01 = 0.183551 … 0.216449."""
    r = pd.DataFrame({"wave": [2025], "rank": [1], "domain": ["鲤城区"], "est": [0.20], "se": [0.01], "median_rank": [1.0],
                      "rank_lo": [1], "rank_hi": [1], "p_first": [1.0], "p_top3": [1.0]})

    class Spec:
        target, rank_interval = 0.16, 0.9

    fig = F.fig_ranking(r, Spec(), 0.90)
    segs = np.concatenate([c.get_segments() for c in fig.axes[0].collections])
    xs = sorted({round(float(x), 6) for s in segs for x in s[:, 0]})
    assert xs == [0.183551, 0.216449]
    assert fig.axes[0].get_title() == "比例及90%置信区间"


def test_waves_at_different_levels_are_refused(tmp_path):
    waves = rising(2021, 2023)
    waves[2022]["level"] = 0.90
    root = make_root(tmp_path, waves)
    run_indicator_simulate(load_plan(root / "survey_instruments" / "plan" / "targets.yaml"),
                           root / "data" / "raw" / "indicators")
    with pytest.raises(InputError, match=r"wave 2021: 95%, wave 2022: 90%, wave 2023: 95%.*ci\.level"):
        run_assess("midterm", 2023, root)
