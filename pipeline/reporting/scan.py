"""Read a rendered report the way the public does and list every word that is not for the public.

The text of report.html (tags, styles and embedded images removed) and every cell and sheet name of a
workbook are searched for what only the pipeline should say: ASCII snake_case tokens (column names,
estimand ids, reason and check codes), internal ids, file names, command lines, English status words,
numbers in e-notation. Figure captions (图n) and table captions (表n) must be numbered 1, 2, 3 … in the
order they appear. `python -m pipeline.reporting.scan FILE …` prints the findings and exits 1 when
there are any.
"""

from __future__ import annotations

import html
import re
import sys
from dataclasses import dataclass
from pathlib import Path

SNAKE = re.compile(r"(?<![A-Za-z0-9_])[A-Za-z][A-Za-z0-9]*(?:_[A-Za-z0-9]+)+(?![A-Za-z0-9_])")
FILE_NAME = re.compile(r"[\w\-]+\.(?:csv|xlsx|json|parquet|sav|zsav|dta|md|yaml|yml|py|R|txt|png|svg|docx)\b")
COMMAND = re.compile(r"\bpython3?\s+-m\b|\bmake\s+[a-z]|--[a-z]{2,}|\bRscript\b")
E_NOTATION = re.compile(r"\b\d+(?:\.\d+)?e[-+]?\d+\b", re.I)
# English words the stages write into their tables; a reader must only ever see their Chinese labels
ENGLISH = re.compile(r"\b(?:met|not met|undetermined|suppressed|caution|on track|at risk|off track|replicate|taylor|"
                     r"direct|model|eblup|synthetic|overall|county|nan|None|True|False|NaN)\b")
INTERNAL_IDS = re.compile(r"\b(?:QZKF|QZTS|bench\d+|w_rep|respondent_id)\b")
FIGURE = re.compile(r"<figcaption>图(\d+)[ 　]")
TABLE = re.compile(r"<caption>表(\d+)[ 　]")


@dataclass(frozen=True)
class Finding:
    source: str  # file, and sheet!cell for a workbook
    kind: str
    text: str

    def __str__(self) -> str:
        return f"{self.source}: {self.kind}: {self.text}"


def html_text(page: str) -> str:
    """The words of a page as a reader sees them."""
    page = re.sub(r"<(style|script)\b.*?</\1>", " ", page, flags=re.S | re.I)
    page = re.sub(r"<[^>]+>", " ", page)
    return html.unescape(page)


def scan_text(text: str, source: str) -> list[Finding]:
    out = []
    for kind, pattern in (("snake_case token", SNAKE), ("file name", FILE_NAME), ("command line", COMMAND),
                          ("e-notation", E_NOTATION), ("English word", ENGLISH), ("internal id", INTERNAL_IDS)):
        for m in pattern.finditer(text):
            out.append(Finding(source, kind, m.group(0)))
    return out


def numbering(page: str, source: str) -> list[Finding]:
    """Figure and table numbers must run 1, 2, 3 … in reading order."""
    out = []
    for kind, pattern in (("figure number", FIGURE), ("table number", TABLE)):
        nums = [int(n) for n in pattern.findall(page)]
        if nums != list(range(1, len(nums) + 1)):
            out.append(Finding(source, f"{kind} out of order", " ".join(map(str, nums))))
    return out


def scan_html(path: Path) -> list[Finding]:
    page = path.read_text(encoding="utf-8")
    return scan_text(html_text(page), str(path)) + numbering(page, str(path))


def scan_workbook(path: Path) -> list[Finding]:
    from openpyxl import load_workbook

    wb = load_workbook(path, read_only=True)
    out = []
    for ws in wb.worksheets:
        out += scan_text(ws.title, f"{path}!{ws.title}")
        for row in ws.iter_rows():
            for cell in row:
                if isinstance(cell.value, str):
                    out += scan_text(cell.value, f"{path}!{ws.title}!{cell.coordinate}")
    wb.close()
    return out


def scan(paths: list[Path]) -> list[Finding]:
    out = []
    for p in paths:
        out += scan_workbook(p) if p.suffix == ".xlsx" else scan_html(p)
    return out


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if not args or args[0] in ("-h", "--help"):
        print("用法：python -m pipeline.reporting.scan 报告.html 表格.xlsx …\n"
              "列出公开文本中不应出现的内部代码、文件名、命令行、英文状态词和顺序错误的图表编号；有问题时返回1。")
        return 0
    found = scan([Path(a) for a in args])
    for f in found:
        print(f)
    print(f"检查 {len(args)} 个文件：发现 {len(found)} 处问题。")
    return 1 if found else 0


if __name__ == "__main__":
    raise SystemExit(main())
