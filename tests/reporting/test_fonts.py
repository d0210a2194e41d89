"""The figures use the CJK font bundled with mplfonts, never a system font, and draw no missing glyphs."""

from __future__ import annotations

import io
import warnings

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from pipeline.publishing.fonts import FONT_FILE, bundled_font_path, font_in_use, rc_params  # noqa: E402


def test_bundled_font_is_inside_mplfonts():
    path = bundled_font_path()
    assert path.name == FONT_FILE
    assert "mplfonts" in path.parts
    assert path.stat().st_size > 1_000_000


def test_chinese_text_renders_with_bundled_font_and_no_missing_glyphs():
    with matplotlib.rc_context(rc_params()), warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        fig, ax = plt.subplots()
        title = ax.set_title("具备科学素质的公民比例（泉州台商投资区）≥16%")
        ax.set_xlabel("数据不足，不予发布 — 谨慎解读")
        fig.savefig(io.BytesIO(), format="png")
        fig.savefig(io.BytesIO(), format="svg")
        assert font_in_use(title.get_fontproperties()) == bundled_font_path().resolve()
        plt.close(fig)
    missing = [str(w.message) for w in caught if "Glyph" in str(w.message) and "missing" in str(w.message)]
    assert missing == []


def test_default_font_would_miss_glyphs():
    """Guards the previous test: without the bundled font the same text does warn."""
    with matplotlib.rc_context({"font.family": ["DejaVu Sans"]}), warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        fig, ax = plt.subplots()
        ax.set_title("具备科学素质")
        fig.savefig(io.BytesIO(), format="png")
        plt.close(fig)
    assert any("missing" in str(w.message) for w in caught)


def test_report_run_drew_no_missing_glyphs(built):
    assert not [w for w in built.warnings if "Glyph" in w]


def test_suite_runs_as_on_a_chinese_desktop(chinese_desktop_fonts):
    """Guards the tests above: the bundled font's own family name resolves to another file here, as it
    does where fonts-noto-cjk is installed, so asking for the font by name would be caught."""
    from matplotlib import font_manager

    family = font_manager.FontProperties(fname=str(bundled_font_path())).get_name()
    assert font_in_use(font_manager.FontProperties(family=family)) == chinese_desktop_fonts.resolve()


def test_a_font_subset_made_ahead_is_the_one_made_in_place_whichever_text_the_page_has():
    """The rule made ahead in a worker is used only for exactly the characters it was started with; a page
    whose text turned out otherwise gets its own subset, so the page is the same either way."""
    from pipeline.publishing.fonts import FontFaceAhead, _font_face, embedded_font_css

    _font_face.cache_clear()  # the in-place rule made afresh, not remembered from an earlier call
    forecast, page = "泉州市科学素质 16%", "泉州市科学素质 15.6%（南安）"
    with FontFaceAhead(forecast) as ahead:
        assert ahead.css(forecast) == embedded_font_css(forecast)
    with FontFaceAhead(forecast) as ahead:
        other = ahead.css(page)
    assert other == embedded_font_css(page) and other != embedded_font_css(forecast)
