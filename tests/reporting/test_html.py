"""report.html: self-contained, escaped, states the verdict of targets.csv, marks demo data."""

from __future__ import annotations

import re

import pandas as pd
import pytest

from pipeline.publishing.document import Table
from pipeline.publishing.html import DEMO_BANNER, table_html

from .conftest import BENCH_TITLES


@pytest.fixture(scope="module")
def page(built):
    return (built.dir / "report.html").read_text(encoding="utf-8")


def test_no_external_references(page):
    assert not re.search(r"""(src|href)\s*=\s*["']?\s*(https?:)?//""", page, re.I)
    assert not re.search(r"url\(\s*['\"]?\s*(https?:)?//", page, re.I)
    assert "@import" not in page
    assert not re.search(r"<(script|link|iframe|object|embed)\b", page, re.I)
    for m in re.finditer(r"""\bsrc\s*=\s*["']([^"']*)""", page):
        assert m.group(1).startswith("data:image/png;base64,")
    assert "@font-face" in page and "data:font/woff;base64," in page  # the font travels with the page


def test_figures_embedded(page):
    assert page.count("data:image/png;base64,") == 6


def test_verdict_matches_targets_csv(page, built):
    t = pd.read_csv(built.paths.processed("targets.csv"), encoding="utf-8-sig")
    overall = t[t["domain_type"] == "overall"].iloc[0]
    words = {"met": "已达到目标", "not met": "未达到目标", "undetermined": "尚不能判定"}
    headline = page[page.index('class="headline"'):page.index("</section>")]
    assert words[overall["verdict"]] in headline
    for other in set(words.values()) - {words[overall["verdict"]]}:
        assert other not in headline
    assert f"{100 * overall['est']:.1f}%" in headline
    assert f"{100 * overall['lci']:.1f}%–{100 * overall['uci']:.1f}%" in headline
    assert built.result.verdict == overall["verdict"]


def test_headline_uses_primary_variance_method(page, built):
    e = pd.read_csv(built.paths.processed("estimates.csv"), encoding="utf-8-sig")
    lit = e[(e["estimand_id"] == "literate") & (e["domain_type"] == "overall")].set_index("variance_method")
    headline = page[page.index('class="headline"'):page.index("</section>")]
    rep, tay = lit.loc["replicate"], lit.loc["taylor"]
    assert f"{100 * rep['lci']:.1f}%–{100 * rep['uci']:.1f}%" in headline
    assert f"{100 * tay['lci']:.1f}%–{100 * tay['uci']:.1f}%" not in headline


def test_demo_banner(page):
    assert DEMO_BANNER in page
    assert page.index(DEMO_BANNER) < page.index("<h1>")


def test_text_is_escaped(page):
    raw = BENCH_TITLES[26]
    assert "<" in raw and "&" in raw
    assert raw not in page
    assert "&lt;及其应对&gt; &amp; 措施" in page


def test_sections_of_the_bulletin(page):
    for heading in ("主要结果", "各县（市、区）", "重点人群", "调查方法", "数据质量", "回答率", "加权", "可靠性标记"):
        assert heading in page, heading
    assert "@media print" in page and "@page" in page
    assert '<html lang="zh-CN">' in page


def test_county_table_leads_on_paper(page):
    """On paper the county table follows the headline on page 1 (its rows can break across pages) and the
    tall county figure comes after it; on screen the figure comes first."""
    block = re.search(r'<h2>二、各县（市、区）</h2><div class="lead">(.*?)</div>', page, re.S)
    assert block and block.group(1).index("<figure>") < block.group(1).index("<table")
    assert "表1 各县" in block.group(1) and "图1 " in block.group(1)
    print_css = page[page.index("@media print"):]
    assert ".lead>table{order:1}" in print_css and ".lead>figure{order:2}" in print_css


def test_only_long_text_columns_wrap():
    t = Table("表", ("比较", "差值（百分点）", "说明"),
              (("相邻两次调查", "+1.2", "口径不同（序列中断）：基线口径为省级未公布口径，本次调查为总分阈值口径"),
               ("较本序列首次调查", "−0.4", "")))
    html = table_html(t)
    assert '<td class="text">相邻两次调查</td>' in html  # a short label: left-aligned, on one line
    assert "<td>+1.2</td>" in html  # a number: right-aligned, on one line
    assert '<td class="text wrap">口径不同' in html  # only the note may wrap


def _cells(html_table: str) -> list[list[str]]:
    rows = re.findall(r"<tr[^>]*>(.*?)</tr>", html_table, re.S)
    return [[re.sub(r"<[^>]+>", "", c) for c in re.findall(r"<t[dh][^>]*>(.*?)</t[dh]>", r, re.S)] for r in rows]


def _table(page: str, title: str) -> list[dict[str, str]]:
    start = re.search(r"<caption>表\d+ " + re.escape(title) + "</caption>", page).start()
    chunk = page[page.rindex("<table", 0, start):page.index("</table>", start)]
    rows = _cells(chunk)
    return [dict(zip(rows[0], r, strict=True)) for r in rows[1:]]


def _findings(page: str) -> str:
    return page[page.index('<ul class="findings">'):page.index("</ul>")]


@pytest.mark.parametrize("title, scope", [("各县（市、区）具备科学素质的公民比例", "各县（市、区）对照"),
                                          ("重点人群具备科学素质的公民比例", "重点人群：")])
def test_summary_counts_come_from_the_table_they_summarise(page, title, scope):
    """Every county and group sits in the summary under the verdict its table row prints."""
    rows = _table(page, title)
    first = next(iter(rows[0]))
    line = next(li for li in re.findall(r"<li>(.*?)</li>", _findings(page)) if li.startswith(scope))
    for word in ("已达到目标", "未达到目标", "尚不能判定", "不作判定"):
        names = [r[first] for r in rows if r["对照目标"] == word]
        if names:
            assert f"{word}{len(names)}个（{'、'.join(names)}）" in line, (word, line)
        else:
            assert word not in line


def test_withheld_estimate_keeps_its_verdict_and_reason(tmp_path):
    """安溪县 2024 as the issue found it: n = 819, 7.6% (3.9–14.3%), suppressed for the interval's width,
    wholly below 16%: the report says "未达到目标", withholds the number and says why in words."""
    from .conftest import build_project

    paths = build_project(tmp_path)
    est = pd.read_csv(paths.processed("estimates.csv"), encoding="utf-8-sig")
    hit = (est["domain_type"] == "county") & (est["domain"] == "安溪县") & (est["estimand_id"] == "literate")
    est.loc[hit, ["n", "n_eff", "est", "lci", "uci", "reliability", "reason"]] = [
        819, 201.5, 0.0761, 0.0390, 0.1433, "suppressed", "relative Korn-Graubard CI width > 130% (NCHS 2017 criterion 3)"]
    from pipeline.tableio import write_table
    write_table(est, paths.processed("estimates.csv"), "estimates")
    from .conftest import build_targets
    write_table(build_targets(est), paths.processed("targets.csv"), "targets")
    from pipeline.reporting.run import run_report
    run_report(paths, progress=False)
    page = (paths.report_dir / "report.html").read_text(encoding="utf-8")
    row = next(r for r in _table(page, "各县（市、区）具备科学素质的公民比例") if r["县（市、区）"] == "安溪县")
    assert row["对照目标"] == "未达到目标" and row["估计值"] == "—" and row["可靠性"] == "不予发布"
    assert row["说明"] == "直接估计不予发布：估计精度不足（有效样本量 202）"
    assert not re.search(r"(?<![0-9.])7\.6%", page) and "样本不足" not in page
    assert "安溪县的直接估计不予发布（估计精度不足（有效样本量 202））" in page
