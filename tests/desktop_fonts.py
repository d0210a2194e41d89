"""A Chinese desktop's fonts, inside the test process: a font file that is not the bundled one, registered
under the bundled font's own family name ("Noto Sans CJK SC"), first in matplotlib's list.

Debian's fonts-noto-cjk and most Chinese Linux desktops install a font of that family name. Registering it
here makes every test see what such a machine sees, whether or not this machine has the package, so a
figure that asks for the font by family name instead of by file fails everywhere, not only there.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path


def install_competing_font() -> Path:
    """Register the competitor (a font without Chinese glyphs, so a wrong pick also shows as missing
    glyphs) and return its file."""
    import matplotlib
    from matplotlib import font_manager, ft2font

    from pipeline.publishing.fonts import bundled_font_path

    bundled_family = font_manager.FontProperties(fname=str(bundled_font_path())).get_name()
    other = Path(matplotlib.get_data_path()) / "fonts" / "ttf" / "DejaVuSans.ttf"
    entry = font_manager.ttfFontProperty(ft2font.FT2Font(str(other)))
    manager = font_manager.fontManager
    if not any(e.fname == str(other) and e.name == bundled_family for e in manager.ttflist):
        manager.ttflist.insert(0, dataclasses.replace(entry, name=bundled_family))
    cached = getattr(manager, "_findfont_cached", None)
    if cached is not None:
        cached.cache_clear()
    return other


def kernel_argv(python: str, root: Path) -> list[str]:
    """A notebook kernel that sees the same fonts. They are installed by the kernel's exec_lines, which run
    after the kernel has chosen its inline backend: importing matplotlib before that would fix the backend."""
    boot = (f"import sys; sys.path.insert(0, {str(root)!r}); "
            "from tests.desktop_fonts import install_competing_font; install_competing_font()")
    return [python, "-m", "ipykernel_launcher", "-f", "{connection_file}", f"--IPKernelApp.exec_lines={[boot]!r}"]
