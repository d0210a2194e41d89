"""report.html: the survey bulletin (公报) as one self-contained page.

Figures are embedded as base64 PNG, styles are inline and the Chinese font is embedded as a subset,
so the file opens offline on any machine and refers to nothing outside itself. Every piece of text
goes through html.escape; numbers go through the suppression-aware formatters of labels.py.
"""

from __future__ import annotations

import base64
import html
import re
from pathlib import Path

import pandas as pd

from pipeline.reporting import labels as L
from pipeline.reporting.figures import benchmark_caption
from pipeline.reporting.fonts import embedded_font_css
from pipeline.reporting.inputs import ReportInputs
from pipeline.reporting.methods import Section, Table, data_quality_section, methods_sections

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


def _img(png: Path, alt: str) -> str:
    data = base64.b64encode(png.read_bytes()).decode("ascii")
    return f'<img src="data:image/png;base64,{data}" alt="{e(alt)}">'


def figure_html(png: Path, number: int, title: str) -> str:
    return f"<figure>{_img(png, title)}<figcaption>图{number} {e(title)}</figcaption></figure>"


LONG_TEXT = 14  # characters; a text column with a longer cell wraps
NUMERIC = re.compile(r"^[\d,.%–−\-+<>≤≥ e—]*$|^未提供$")


def table_html(table: Table) -> str:
    """Numbers right-aligned under right-aligned headers, words left-aligned."""
    text_cols = [i == 0 or any(not NUMERIC.match(str(row[i])) for row in table.rows)
                 for i in range(len(table.headers))]
    # Only long text (notes, rules) may wrap; numbers and short labels stay on one line, so that a note
    # column cannot squeeze "+1.2" or "全市" into one character per line.
    wrap = [t and any(len(str(row[i])) > LONG_TEXT for row in table.rows) for i, t in enumerate(text_cols)]
    cls = [' class="text wrap"' if w else ' class="text"' if t else "" for t, w in zip(text_cols, wrap, strict=True)]
    head = "".join(f"<th{c}>{e(h)}</th>" for h, c in zip(table.headers, cls, strict=True))
    body = "".join(
        "<tr>" + "".join(f"<td{k}>{e(c)}</td>" for c, k in zip(row, cls, strict=True)) + "</tr>"
        for row in table.rows
    )
    note = f'<p class="note">{e(table.note)}</p>' if table.note else ""
    return f"<table><caption>{e(table.caption)}</caption><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>{note}"


def section_html(section: Section, level: int = 3) -> str:
    parts = [f"<h{level}>{e(section.title)}</h{level}>"]
    for item in section.items:
        parts.append(table_html(item) if isinstance(item, Table) else f"<p>{e(item)}</p>")
    return "\n".join(parts)


def _value_with_flag(r: pd.Series) -> str:
    text = e(L.fmt_value(r["est"], r["display"], r["reliability"]))
    if r["reliability"] == L.CAUTION:
        text += f'<span class="flag">（{e(L.CAUTION_NOTE)}）</span>'
    return text


def cells_table(caption: str, rows: pd.DataFrame, first: str, inputs: ReportInputs,
                with_verdict: bool = False, label_of=None) -> str:
    """Published cells as an HTML table; the suppressed row keeps its label and sample size only."""
    if rows.empty:
        return f'<p class="note">{e(caption)}：{e(L.NOT_PROVIDED)}（estimates.csv 中没有这些估计）。</p>'
    verdicts = {}
    if with_verdict:
        t = inputs.targets
        verdicts = {(a, b): (v, r) for a, b, v, r in zip(t["domain_type"], t["domain"], t["verdict"], t["reliability"],
                                                          strict=True)}
    heads = [first, "样本量", "估计值", "95%置信区间", "可靠性"] + (["对照目标"] if with_verdict else [])
    body = []
    for _, r in rows.iterrows():
        rel = r["reliability"]
        label = label_of(r) if label_of else r["domain"]
        cells = [f'<td class="text">{e(label)}</td>', f"<td>{e(L.fmt_int(r['n']))}</td>",
                 f"<td>{_value_with_flag(r)}</td>",
                 f"<td>{e(L.fmt_interval(r['lci'], r['uci'], r['display'], rel))}</td>",
                 f"<td>{e(L.RELIABILITY_LABELS[rel])}</td>"]
        if with_verdict:
            v = verdicts.get((r["domain_type"], r["domain"]))
            cells.append(f"<td>{e(L.verdict_label(*v) if v else L.DASH)}</td>")
        cls = ' class="suppressed"' if rel == L.SUPPRESSED else ""
        body.append(f"<tr{cls}>{''.join(cells)}</tr>")
    head = "".join(f"<th>{e(h)}</th>" for h in heads)
    return (f"<table><caption>{e(caption)}</caption><thead><tr>{head}</tr></thead>"
            f"<tbody>{''.join(body)}</tbody></table>")


def headline_html(inputs: ReportInputs) -> tuple[str, str]:
    """The headline box and the verdict key (met / not met / undetermined) it states."""
    r = inputs.cell(L.HEADLINE)
    t = inputs.targets
    tr = t[(t["domain_type"] == "overall") & (t["domain"] == "全市")]
    verdict = str(tr["verdict"].iloc[0]) if len(tr) else "undetermined"
    rel_t = str(tr["reliability"].iloc[0]) if len(tr) else L.OK
    target = float(tr["target"].iloc[0]) if len(tr) else None
    rel = r["reliability"]
    value = L.fmt_pct(r["est"], rel)
    interval = L.fmt_interval(r["lci"], r["uci"], "proportion", rel)
    target_text = L.fmt_pct(target, digits=0) if target is not None else L.NOT_PROVIDED
    verdict_text = L.verdict_label(verdict, rel_t)
    p_text = L.fmt_p(tr["p_value"].iloc[0], rel_t) if len(tr) else L.DASH
    sentence = (
        f"{inputs.wave}年，泉州市{L.HEADLINE_LABEL}为{value}（95%置信区间：{interval}）。"
        if rel != L.SUPPRESSED else f"{inputs.wave}年全市{L.HEADLINE_LABEL}{L.SUPPRESSED_NOTE}。"
    )
    sentence += f"对照规划目标（2025年超过{target_text}），判定为“{verdict_text}”（单侧检验p值 {p_text}）。"
    box = (
        '<section class="headline">'
        f'<div class="big">{e(value)}</div>'
        f"<div><div><strong>{e(L.HEADLINE_LABEL)}</strong>（泉州市18–69岁居民）</div>"
        f'<div class="ci">95%置信区间：{e(interval)}　样本量：{e(L.fmt_int(r["n"]))}</div>'
        f'<div class="verdict v-{e(verdict.replace(" ", "-"))}">对照目标 {e(target_text)}：{e(verdict_text)}</div>'
        "</div></section>"
        f"<p>{e(sentence)}</p>"
        f'<p class="note">判定规则：{e(L.VERDICT_RULE)}。</p>'
    )
    return box, verdict


def findings(inputs: ReportInputs) -> list[str]:
    """A few plain statements drawn from publishable cells only."""
    out = []
    adv = inputs.cell("class_advanced")
    basic = [inputs.cell(c) for c in ("class_advanced", "class_literate", "class_basic")]
    if adv is not None and adv["reliability"] != L.SUPPRESSED:
        out.append(f"达到高阶水平（总分85分及以上）的比例为{L.fmt_pct(adv['est'])}。")
    if all(b is not None and b["reliability"] != L.SUPPRESSED for b in basic):
        out.append(f"基本具备及以上（总分55分及以上）的比例合计为{L.fmt_pct(sum(float(b['est']) for b in basic))}。")
    counties = inputs.cells(L.HEADLINE, "county")
    shown = counties[counties["reliability"] != L.SUPPRESSED].sort_values("est", kind="mergesort")
    if len(shown) >= 2:
        hi, lo = shown.iloc[-1], shown.iloc[0]
        out.append(f"在可发布估计的{len(shown)}个县（市、区）中，{hi['domain']}最高（{L.fmt_pct(hi['est'])}），"
                   f"{lo['domain']}最低（{L.fmt_pct(lo['est'])}）。")
    t = inputs.targets
    ct = t[(t["domain_type"] == "county") & (t["reliability"] != L.SUPPRESSED)]
    if len(ct):
        n = {v: int((ct["verdict"] == v).sum()) for v in L.VERDICT_LABELS}
        out.append(f"对照{L.fmt_pct(float(ct['target'].iloc[0]), digits=0)}的目标：{n['met']}个县（市、区）已达到，"
                   f"{n['not met']}个未达到，{n['undetermined']}个尚不能判定。")
    n_sup = int((counties["reliability"] == L.SUPPRESSED).sum())
    if n_sup:
        out.append(f"{n_sup}个县（市、区）样本不足，估计不予发布。")
    return out


def build_html(inputs: ReportInputs, figures: dict[str, Path], titles: dict[str, str],
               embed_font: bool = True) -> tuple[str, str]:
    """The bulletin as a string and the headline verdict it states.

    Without `embed_font` the page relies on the reader's system fonts (smaller, for previews and tests).
    """
    numbers = {stem: i for i, stem in enumerate(figures, start=1)}

    def fig(stem: str) -> str:
        return figure_html(figures[stem], numbers[stem], titles[stem]) if stem in figures else ""

    box, verdict = headline_html(inputs)
    method_name = {"replicate": "重复权数法", "taylor": "泰勒线性化法"}.get(inputs.variance_method,
                                                                          inputs.variance_method)
    title = f"泉州市{inputs.wave}年公民科学素质调查公报"
    parts = []
    if inputs.is_demo:
        parts.append(f'<div class="demo" role="alert">{e(DEMO_BANNER)}</div>')
    parts.append(f"<header><h1>{e(title)}</h1><p class=\"sub\">调查对象：泉州市18–69岁常住居民　"
                 f"标准误：{e(method_name)}　置信水平：95%</p></header>")
    parts.append("<h2>一、主要结果</h2>" + box)
    parts.append('<ul class="findings">' + "".join(f"<li>{e(f)}</li>" for f in findings(inputs)) + "</ul>")

    # On paper the county table comes first: its rows flow on from page 1, where the tall county figure
    # would jump to page 2 and leave half of page 1 empty. On screen the figure leads.
    parts.append('<h2>二、各县（市、区）</h2><div class="lead">' + fig("fig1_county")
                 + cells_table("表1 各县（市、区）具备科学素质的公民比例", inputs.cells(L.HEADLINE, "county"),
                               "县（市、区）", inputs, with_verdict=True) + "</div>")

    parts.append("<h2>三、重点人群</h2>" + fig("fig2_groups"))
    parts.append(cells_table("表2 重点人群具备科学素质的公民比例", inputs.cells(L.HEADLINE, "group"), "重点人群",
                             inputs, with_verdict=True))

    parts.append('<h2 class="newpage">四、不同性别、年龄、文化程度和城乡居民</h2>' + fig("fig3_subgroups"))
    sub = pd.concat([inputs.cells(L.HEADLINE, t) for t in L.SUBGROUP_TYPES], ignore_index=True)
    parts.append(cells_table("表3 不同群体具备科学素质的公民比例", sub, "分组", inputs,
                             label_of=lambda r: f"{L.DOMAIN_TYPE_LABELS[r['domain_type']]}：{r['domain']}"))

    parts.append('<h2 class="newpage">五、科学素质水平与测试各部分得分</h2>' + fig("fig6_classes") + fig("fig4_dimensions"))
    score_ids = [*L.CLASS_ESTIMANDS, L.SCORE_TOTAL, *(d[0] for d in inputs.dimensions)]
    scores = pd.concat([inputs.cells(i, "overall") for i in score_ids], ignore_index=True)
    parts.append(cells_table("表4 科学素质水平分布与平均得分（全市）", scores, "指标", inputs,
                             label_of=lambda r: L.estimand_label(r["estimand_id"])))

    parts.append("<h2>六、《中国公民科学素质基准》各基准的正确率</h2>" + fig("fig5_benchmarks"))
    bench = pd.concat([inputs.cells(b, "overall") for b in inputs.benchmark_ids()] or [pd.DataFrame()],
                      ignore_index=True)
    if not bench.empty:
        parts.append(cells_table("表5 各基准的平均正确率（全市）", bench, "基准", inputs,
                                 label_of=lambda r: benchmark_caption(inputs, r["estimand_id"], 200)))

    parts.append('<h2 class="newpage">七、调查方法</h2>')
    parts += [section_html(s) for s in methods_sections(inputs)]
    parts.append("<h2>八、数据质量</h2>")
    quality = data_quality_section(inputs)
    parts.append(section_html(Section("", quality.items)).replace("<h3></h3>", "", 1))
    foot = ("本公报的全部数值由调查数据处理流程自动生成；完整表格见同目录 tables.xlsx 与 tables/ 下的CSV文件，"
            "输入与输出文件的校验值见 manifest.json。")
    if inputs.is_demo:
        foot = DEMO_BANNER + "。" + foot
    parts.append(f"<footer>{e(foot)}</footer>")
    body = "\n".join(parts)
    font_css = embedded_font_css(title + body) if embed_font else ""
    page = (
        '<!DOCTYPE html>\n<html lang="zh-CN">\n<head>\n<meta charset="utf-8">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        f"<title>{e(title)}</title>\n<style>{font_css}{CSS}</style>\n</head>\n<body>\n<main>\n{body}\n</main>\n"
        "</body>\n</html>\n"
    )
    return page, verdict
