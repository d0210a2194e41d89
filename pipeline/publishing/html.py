"""HTML pieces shared by every published page: the style sheet, the demo banner, escaping, figure and
table numbering, tables with numbers right-aligned, sections. Each page embeds its figures and its font
subset, so it opens offline and refers to nothing outside itself."""

from __future__ import annotations

import base64
import html
import re
import string
from collections.abc import Callable
from pathlib import Path

from pipeline.publishing.document import Section, Table

DEMO_BANNER = "演示数据（模拟生成），并非泉州市调查结果"
CSS = """
:root{--ink:#1d1d1d;--muted:#666;--rule:#d6d6d6;--accent:#2f6ea5;--bad:#b03a2e;--good:#1e7b45;--warn:#9a6b00}
*{box-sizing:border-box}
body{margin:0;background:#f4f4f1;color:var(--ink);font-family:'ReportCJK','Noto Sans CJK SC','Source Han Sans SC',
'PingFang SC','Microsoft YaHei',sans-serif;font-size:15px;line-height:1.75}
main{max-width:980px;margin:0 auto;background:#fff;padding:36px 56px 48px}
.demo{background:#fff3cd;border:2px solid #c98a00;color:#6b4a00;font-weight:bold;text-align:center;
padding:10px 16px;margin:0 0 20px;font-size:17px}
header{border-bottom:3px double var(--accent);margin-bottom:22px;text-align:center}
h1{font-size:28px;margin:6px 0 4px;letter-spacing:2px}
.sub{color:var(--muted);margin:0 0 12px}
h2{font-size:20px;border-left:5px solid var(--accent);padding-left:10px;margin:34px 0 12px}
h3{font-size:16px;margin:20px 0 8px}
.headline{display:flex;gap:28px;align-items:center;border:1px solid var(--rule);padding:18px 24px;margin:8px 0 16px}
.big{font-size:46px;font-weight:bold;color:var(--accent);line-height:1.1;white-space:nowrap}
.headline .ci{color:var(--muted)}
.verdict{display:inline-block;font-weight:bold;padding:2px 10px;border:2px solid currentColor;margin-top:6px}
.v-met{color:var(--good)}.v-not-met{color:var(--bad)}.v-undetermined{color:var(--warn)}
ul.findings{padding-left:22px;margin:8px 0}
figure{margin:14px 0 18px;text-align:center;break-inside:avoid;page-break-inside:avoid}
figure img{max-width:100%;height:auto}
figcaption{color:var(--muted);font-size:13px;margin-top:4px}
table{border-collapse:collapse;width:100%;margin:8px 0 6px;font-size:13.5px}
caption{caption-side:top;text-align:left;font-weight:bold;padding:4px 0}
th,td{border-bottom:1px solid var(--rule);padding:4px 8px;text-align:right;vertical-align:top}
th{background:#eef3f8;border-top:1px solid #9fb6cc;border-bottom:1px solid #9fb6cc;white-space:nowrap}
th:first-child,td:first-child{text-align:left}
td{white-space:nowrap}
td.text,th.text{text-align:left}
td.wrap{white-space:normal;min-width:10em}
tr.suppressed td{color:var(--muted)}
.flag{color:var(--warn);font-size:12px;margin-left:3px}
.note{color:var(--muted);font-size:13px;margin:2px 0 12px}
.sha{font-family:monospace;font-size:12px;word-break:break-all}
footer{margin-top:36px;border-top:1px solid var(--rule);padding-top:10px;color:var(--muted);font-size:13px}
@page{size:A4;margin:16mm 14mm}
@media print{
 body{background:#fff;font-size:11pt}
 main{max-width:none;padding:0}
 .demo{-webkit-print-color-adjust:exact;print-color-adjust:exact}
 h2{break-after:avoid;page-break-after:avoid}
 h2.newpage{break-before:page;page-break-before:always}
 thead{display:table-header-group}
 tr{break-inside:avoid;page-break-inside:avoid}
 .headline{break-inside:avoid}
 figure img{max-height:235mm;width:auto}
 .lead{display:flex;flex-direction:column}
 .lead>table{order:1}
 .lead>figure{order:2}
 table{font-size:9.5pt}
 th{white-space:normal}
}
"""


def e(text: object) -> str:
    return html.escape(str(text), quote=True)


B64_ALPHABET = string.ascii_uppercase + string.ascii_lowercase + string.digits + "+/="


def figure_html(png: Path, number: int, title: str) -> str:
    return figure_markup(base64.b64encode(png.read_bytes()).decode("ascii"), number, title)


def figure_markup(data: str, number: int, title: str) -> str:
    """A figure from its PNG as base64 text."""
    return (f'<figure><img src="data:image/png;base64,{data}" alt="{e(title)}">'
            f"<figcaption>图{number} {e(title)}</figcaption></figure>")


class Numbering:
    """Figure and table numbers in reading order: a number is given when the item is placed on the page.

    `figure` makes a placed figure's markup from its PNG file, its number and its title.
    """

    def __init__(self, figure: Callable[[Path, int, str], str] = figure_html) -> None:
        self.figures = 0
        self.tables = 0
        self._figure = figure

    def figure(self, png: Path | None, title: str) -> str:
        if png is None:
            return ""
        self.figures += 1
        return self._figure(png, self.figures, title)

    def table(self, title: str) -> str:
        self.tables += 1
        return f"表{self.tables} {title}"


LONG_TEXT = 14  # characters; a text column with a longer cell wraps
NUMERIC = re.compile(r"^[\d,.%–−\-+<>≤≥ e—]*$|^未提供$")


def table_html(table: Table, numbering: Numbering | None = None) -> str:
    """Numbers right-aligned under right-aligned headers, words left-aligned; numbered when `numbering`."""
    text_cols = [i == 0 or any(not NUMERIC.match(str(row[i])) for row in table.rows)
                 for i in range(len(table.headers))]
    # Only long text (notes, rules) may wrap; numbers and short labels stay on one line, so that a note
    # column cannot squeeze "+1.2" or a two-character label into one character per line.
    wrap = [t and any(len(str(row[i])) > LONG_TEXT for row in table.rows) for i, t in enumerate(text_cols)]
    cls = [' class="text wrap"' if w else ' class="text"' if t else "" for t, w in zip(text_cols, wrap, strict=True)]
    head = "".join(f"<th{c}>{e(h)}</th>" for h, c in zip(table.headers, cls, strict=True))
    body = "".join(
        "<tr>" + "".join(f"<td{k}>{e(c)}</td>" for c, k in zip(row, cls, strict=True)) + "</tr>"
        for row in table.rows
    )
    note = f'<p class="note">{e(table.note)}</p>' if table.note else ""
    caption = numbering.table(table.caption) if numbering is not None else table.caption
    return f"<table><caption>{e(caption)}</caption><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>{note}"


def section_html(section: Section, level: int = 3, numbering: Numbering | None = None) -> str:
    parts = [f"<h{level}>{e(section.title)}</h{level}>"] if section.title else []
    for item in section.items:
        parts.append(table_html(item, numbering) if isinstance(item, Table) else f"<p>{e(item)}</p>")
    return "\n".join(parts)
