"""Figure conventions shared by the wave report and the assessments: the palette, the resolution, the
white margin, and saving one figure as PNG and SVG so that the same figure gives the same bytes."""

from __future__ import annotations

from pathlib import Path

import matplotlib
import matplotlib.pyplot as plt
from matplotlib.figure import Figure

from pipeline.publishing.fonts import rc_params
from pipeline.tableio import atomic_path

DPI = 200
BAR = "#2f6ea5"
BAR_LIGHT = "#dbe7f3"
TARGET = "#c0392b"
REFERENCE = "#555555"
MUTED = "#8a8a8a"
MODEL = "#6a3d9a"  # model estimates: a colour no direct estimate uses
TRACK = "#ececec"
PAD = 0.14  # inches of white margin around every figure


def save_figure(fig: Figure, out_dir: Path, stem: str) -> dict[str, Path]:
    """PNG and SVG of one figure, atomically; SVG without a date so reruns are byte-identical.

    Every figure uses the constrained layout; its padding gives the white margin, so no second
    "tight bounding box" drawing pass is needed.
    """
    written = {}
    engine = fig.get_layout_engine()
    if engine is not None and hasattr(engine, "set"):
        engine.set(w_pad=PAD, h_pad=PAD)
    with matplotlib.rc_context(rc_params()):
        for fmt, extra in (("png", {"dpi": DPI, "metadata": {"Software": None}}),
                           ("svg", {"metadata": {"Date": None}})):
            path = out_dir / f"{stem}.{fmt}"
            with atomic_path(path) as tmp:
                fig.savefig(tmp, format=fmt, facecolor="white",
                            **extra)
            written[fmt] = path
    plt.close(fig)
    return written
