"""The figure set: PNG and SVG for every figure, suppressed cells not drawn, caution cells marked."""

from __future__ import annotations

import re

import matplotlib.pyplot as plt
import pytest
from matplotlib.patches import Rectangle
from PIL import Image

from pipeline.publishing.figures import DPI, save_figure
from pipeline.publishing.fonts import bundled_font_path, font_in_use
from pipeline.reporting import figures as F

from .conftest import CAUTION_COUNTY, PLANTED, SUPPRESSED_COUNTY


def test_every_figure_written_as_png_at_200_dpi_and_svg(built):
    folder = built.dir / "figures"
    for spec in F.FIGURES:
        png, svg = folder / f"{spec.stem}.png", folder / f"{spec.stem}.svg"
        assert png.is_file() and svg.is_file(), spec.stem
        with Image.open(png) as im:
            assert round(im.info["dpi"][0]) == DPI
            assert im.size[0] > 1000
        text = svg.read_text(encoding="utf-8")
        # text as paths: the SVG renders without the font installed
        assert "<text" not in text
        assert "<dc:date>" not in text


@pytest.fixture(scope="module")
def county_fig(inputs):
    fig = F.render(F.FIGURES[0], inputs)
    yield fig
    plt.close(fig)


def _bars(fig):
    return [p for ax in fig.axes for p in ax.patches if isinstance(p, Rectangle) and p.get_width() > 0]


def test_county_figure_sorted_and_uses_bundled_font(county_fig, inputs):
    ax = county_fig.axes[0]
    labels = [t.get_text() for t in ax.get_yticklabels()]
    assert len(labels) == 13
    assert labels[-1] == SUPPRESSED_COUNTY  # suppressed county listed last, without a bar
    shown = inputs.cells("literate", "county").set_index("domain")
    ests = [shown.loc[c, "est"] for c in labels[:-1]]
    assert ests == sorted(ests, reverse=True)
    for t in ax.get_yticklabels():
        assert font_in_use(t.get_fontproperties()) == bundled_font_path().resolve()


def test_suppressed_cell_not_drawn(county_fig):
    widths = [round(p.get_width(), 4) for p in _bars(county_fig)]
    assert round(100 * PLANTED, 4) not in widths
    for ax in county_fig.axes:
        for line in ax.get_lines():
            for x in line.get_xdata():
                assert abs(float(x) - 100 * PLANTED) > 1e-6
    texts = [t.get_text() for ax in county_fig.axes for t in ax.texts]
    assert "数据不足，不予发布" in texts
    assert not [t for t in texts if re.search(r"12\.3", t)]


def test_caution_cell_hatched_and_in_legend(county_fig, inputs):
    hatched = [p for p in _bars(county_fig) if p.get_hatch()]
    assert len(hatched) == 1
    caution = inputs.cell("literate", "county", CAUTION_COUNTY)
    assert hatched[0].get_width() == pytest.approx(100 * caution["est"])
    legend_texts = [t.get_text() for lg in county_fig.legends for t in lg.get_texts()]
    assert "谨慎解读" in legend_texts
    assert "目标 16%" in legend_texts


def test_benchmarks_figure_shows_weakest_with_titles(inputs):
    weakest = F.weakest_benchmarks(inputs)
    all_bench = [inputs.cell(b) for b in inputs.benchmark_ids()]
    assert len(weakest) == F.N_WEAKEST
    assert weakest["est"].max() <= sorted(r["est"] for r in all_bench)[F.N_WEAKEST - 1]
    fig = F.render(F.FigureSpec("b", "", F.fig_benchmarks), inputs)
    labels = [t.get_text() for t in fig.axes[0].get_yticklabels()]
    plt.close(fig)
    assert all(lbl.startswith("基准") for lbl in labels)
    assert any("：" in lbl for lbl in labels)  # titles from frameworks.yaml, not the bare fallback


def test_benchmark_fallback_without_frameworks(inputs):
    from dataclasses import replace

    bare = replace(inputs, benchmark_titles={})
    assert F.benchmark_caption(bare, "bench_07") == "基准7"


def test_figure_files_byte_identical_on_rerun(inputs, built, tmp_path):
    spec = F.FIGURES[5]
    again = save_figure(F.render(spec, inputs), tmp_path, spec.stem)
    for fmt, path in again.items():
        assert path.read_bytes() == (built.dir / "figures" / path.name).read_bytes(), fmt


def test_png_figure_is_not_blank(built):
    with Image.open(built.dir / "figures" / "fig1_county.png") as im:
        colours = im.convert("RGB").getcolors(maxcolors=1 << 20)
    assert colours is not None and len(colours) > 50
