"""The bundled CJK font (Noto Sans CJK SC shipped by `mplfonts`) for figures and the HTML report.

System fonts differ from machine to machine and most servers have no Chinese font at all, so figures
would print boxes. The font file inside the installed `mplfonts` package is registered with matplotlib
explicitly, and a subset of it is embedded in the HTML so the report renders the same offline.
"""

from __future__ import annotations

import base64
import functools
import io
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from pipeline.errors import PipelineError

FONT_FILE = "NotoSansCJKsc-Regular.otf"
SVG_HASHSALT = "quanzhou-literacy-report"


@functools.cache
def bundled_font_path() -> Path:
    try:
        import mplfonts
    except ModuleNotFoundError:
        raise PipelineError(
            "the report needs the `mplfonts` package for its Chinese font; install the project with "
            "`make venv` (or `pip install mplfonts`)."
        ) from None
    path = Path(mplfonts.__file__).resolve().parent / "fonts" / FONT_FILE
    if not path.is_file():
        raise PipelineError(
            f"the bundled font {FONT_FILE} is not in {path.parent}; reinstall mplfonts "
            "(`pip install --force-reinstall mplfonts`)."
        )
    return path


# The family name the bundled file is registered under. It is the project's own, so no installed font can
# answer to it: Debian's fonts-noto-cjk and most Chinese desktops ship a font named "Noto Sans CJK SC"
# too, and registering the bundle under that name lets matplotlib pick the system file instead.
FAMILY = "Quanzhou Report CJK"


@functools.cache
def register_font() -> str:
    """Register the bundled font file with matplotlib once, under FAMILY; return FAMILY."""
    import dataclasses

    from matplotlib import font_manager, ft2font

    entry = font_manager.ttfFontProperty(ft2font.FT2Font(str(bundled_font_path())))
    font_manager.fontManager.ttflist.append(dataclasses.replace(entry, name=FAMILY))
    _forget_lookups()
    return FAMILY


def _forget_lookups() -> None:
    """Drop matplotlib's cached font look-ups (they predate a font added since)."""
    from matplotlib import font_manager

    cached = getattr(font_manager.fontManager, "_findfont_cached", None)
    if cached is not None:
        cached.cache_clear()


def rc_params() -> dict[str, Any]:
    """Matplotlib settings for every report figure (use with `matplotlib.rc_context`).

    Text becomes paths in SVG so the file renders without the font; a fixed hash salt keeps SVG ids
    stable between runs.
    """
    family = register_font()
    return {
        "font.family": [family],
        "font.sans-serif": [family],
        "axes.unicode_minus": False,
        "svg.fonttype": "path",
        "svg.hashsalt": SVG_HASHSALT,
        "font.size": 10,
        "axes.titlesize": 12,
        "axes.labelsize": 10,
        "xtick.labelsize": 9,
        "ytick.labelsize": 9,
        "legend.fontsize": 9,
        "axes.spines.top": False,
        "axes.spines.right": False,
        "figure.dpi": 100,
    }


def font_in_use(fontproperties) -> Path:
    """The file matplotlib resolves a text's font properties to (tests compare it with the bundle)."""
    from matplotlib import font_manager

    return Path(font_manager.findfont(fontproperties, fallback_to_default=False)).resolve()


def embedded_font_css(text: str, family: str = "ReportCJK") -> str:
    """An @font-face rule with the bundled font subset to the characters of `text`, as a data URI.

    Subsetting keeps the report small (the full font is 16 MB); the result is deterministic because
    the font's own timestamps are kept rather than recalculated.
    """
    return _font_face(_characters(text), family)


def _characters(text: str) -> str:
    return "".join(sorted(set(text) | set("0123456789%.,–—()（）：；、。 ")))


@functools.lru_cache(maxsize=8)
def _font_face(chars: str, family: str) -> str:
    """The @font-face rule for a set of characters: subsetting takes about a second, and a rerun of the
    report in the same process (the assessment's two pages, a notebook) asks for the same set again."""
    from fontTools import subset
    from fontTools.ttLib import TTFont

    font = TTFont(str(bundled_font_path()), recalcTimestamp=False)
    options = subset.Options()
    # Chinese text needs no OpenType layout; dropping GSUB/GPOS makes subsetting several times faster.
    options.layout_features = []
    options.drop_tables += ["GSUB", "GPOS", "GDEF", "BASE", "JSTF", "VORG"]
    options.flavor = "woff"
    options.name_IDs = ["*"]
    options.notdef_outline = True
    options.hinting = False
    subsetter = subset.Subsetter(options=options)
    subsetter.populate(text=chars)
    subsetter.subset(font)
    font.flavor = "woff"
    buf = io.BytesIO()
    font.save(buf, reorderTables=True)
    data = base64.b64encode(buf.getvalue()).decode("ascii")
    return (
        f"@font-face{{font-family:'{family}';font-style:normal;font-weight:400;"
        f"src:url(data:font/woff;base64,{data}) format('woff');}}"
    )


class FontFaceAhead:
    """The @font-face rule of a page subset in a separate process while the caller goes on drawing.

    Subsetting is pure Python and takes seconds; started from a forecast of the page's text, it runs on
    the other core. `css` gives the worker's rule only for exactly the characters it was started with
    and otherwise subsets afresh, so the page is the same whichever way its rule was made.
    """

    def __init__(self, text: str, family: str = "ReportCJK") -> None:
        self.chars, self.family = _characters(text), family
        package_root = str(Path(__file__).resolve().parents[2])  # this copy of the pipeline, not an installed one
        env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [package_root, os.environ.get("PYTHONPATH")]))}
        self._proc = subprocess.Popen(
            [sys.executable, "-c", f"from {__name__} import _serve; _serve()", family],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, env=env,
        )
        self._proc.stdin.write(self.chars.encode("utf-8"))
        self._proc.stdin.close()

    def css(self, text: str) -> str:
        if _characters(text) == self.chars:
            rule = self._proc.stdout.read().decode("utf-8")
            if self._proc.wait() == 0 and rule:
                return rule
        # a worker that failed shows its error here, raised in this process
        return embedded_font_css(text, self.family)

    def close(self) -> None:
        if self._proc.poll() is None:
            self._proc.kill()
        self._proc.stdout.close()
        self._proc.wait()

    def __enter__(self) -> FontFaceAhead:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _serve() -> None:
    """The worker of FontFaceAhead: characters on stdin, the family as argument, the rule on stdout."""
    if hasattr(os, "nice"):
        os.nice(10)  # work ahead: the process waiting for nothing else goes first
    chars = sys.stdin.buffer.read().decode("utf-8")
    sys.stdout.buffer.write(_font_face(chars, sys.argv[1]).encode("utf-8"))
