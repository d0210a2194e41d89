"""report.html: the survey bulletin (公报) as one self-contained page.

Figures are embedded as base64 PNG, styles are inline and the Chinese font is embedded as a subset,
so the file opens offline on any machine and refers to nothing outside itself. Every piece of text
goes through html.escape; numbers go through the suppression-aware formatters of labels.py.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pandas as pd

from pipeline.publishing import labels as L
from pipeline.publishing.document import Section
from pipeline.publishing.fonts import embedded_font_css
from pipeline.publishing.html import (  # noqa: F401
    B64_ALPHABET,
    CSS,
    DEMO_BANNER,
    Numbering,
    e,
    figure_markup,
    section_html,
    table_html,
)
from pipeline.reporting.figures import benchmark_caption
from pipeline.reporting.inputs import ReportInputs
from pipeline.reporting.methods import data_quality_section, methods_sections
from pipeline.vocabulary import OVERALL_LABEL, VARIANCE_METHOD_LABELS


def _value_with_flag(r: pd.Series) -> str:
    text = e(L.fmt_value(r["est"], r["display"], r["reliability"]))
    if r["reliability"] == L.CAUTION:
        text += f'<span class="flag">（{e(L.CAUTION_NOTE)}）</span>'
    return text


def cells_table(caption: str, rows: pd.DataFrame, first: str, inputs: ReportInputs,
                with_verdict: bool = False, label_of=None, model: bool = False) -> str:
    """Published cells as an HTML table; a withheld row keeps its label, sample size, the verdict when the
    policy publishes it and the reason, in words; with `model`, the county's model estimate stands in."""
    if rows.empty:
        return f'<p class="note">{e(caption)}：{e(L.NOT_PROVIDED)}。</p>'
    heads = [first, "样本量", "估计值", f"{inputs.ci}置信区间"] + (["估计方法"] if model else []) + ["可靠性"]
    heads += (["对照目标"] if with_verdict else []) + ["说明"]
    body = []
    for _, r in rows.iterrows():
        rel = r["reliability"]
        label = label_of(r) if label_of else r["domain"]
        t = inputs.target_row(r["domain_type"], r["domain"]) if with_verdict else None
        m = inputs.model_row(r["domain"]) if model else None
        value, interval, kind = _value_with_flag(r), e(L.fmt_interval(r["lci"], r["uci"], r["display"], rel)), \
            L.DIRECT_LABEL
        notes = []
        if rel == L.SUPPRESSED:
            notes.append("直接估计不予发布：" + L.withheld_reason(r["reason"], r["n_eff"]))
            if m is not None:
                value = e(L.fmt_pct(m["model_est"]))
                interval = e(L.fmt_interval(m["model_lci"], m["model_uci"], "proportion"))
                kind = L.MODEL_LABEL
        elif rel == L.CAUTION and m is not None:
            notes.append(f"{L.MODEL_LABEL}{L.fmt_pct(m['model_est'])}"
                         f"（{L.fmt_interval(m['model_lci'], m['model_uci'], 'proportion')}）")
        cells = [f'<td class="text">{e(label)}</td>', f"<td>{e(L.fmt_int(r['n']))}</td>",
                 f"<td>{value}</td>", f"<td>{interval}</td>"]
        if model:
            cells.append(f'<td class="text">{e(kind)}</td>')
        cells.append(f'<td class="text">{e(L.RELIABILITY_LABELS[rel])}</td>')
        if with_verdict:
            cells.append(f'<td class="text">{e(L.verdict_label(t["verdict"], t["publish"]) if t is not None else L.DASH)}</td>')
        cells.append(f'<td class="text wrap">{e("；".join(notes))}</td>')
        cls = ' class="suppressed"' if rel == L.SUPPRESSED and kind != L.MODEL_LABEL else ""
        body.append(f"<tr{cls}>{''.join(cells)}</tr>")
    head = "".join(f"<th>{e(h)}</th>" for h in heads)
    return (f"<table><caption>{e(caption)}</caption><thead><tr>{head}</tr></thead>"
            f"<tbody>{''.join(body)}</tbody></table>")


def headline_html(inputs: ReportInputs) -> tuple[str, str]:
    """The headline box and the verdict key (met / not met / undetermined) it states."""
    r = inputs.cell(L.HEADLINE)
    tr = inputs.target_row("overall", OVERALL_LABEL)
    verdict = str(tr["verdict"]) if tr is not None else "undetermined"
    publish = str(tr["publish"]) if tr is not None else L.PUBLISH_NONE
    target = float(tr["target"]) if tr is not None else None
    rel = r["reliability"]
    value = L.fmt_pct(r["est"], rel)
    interval = L.fmt_interval(r["lci"], r["uci"], "proportion", rel)
    target_text = L.fmt_pct(target, digits=0) if target is not None else L.NOT_PROVIDED
    verdict_text = L.verdict_label(verdict, publish)
    p_text = L.fmt_p(tr["p_value"], rel) if tr is not None else L.DASH
    sentence = (
        f"{inputs.wave}年，泉州市{L.HEADLINE_LABEL}为{value}（{inputs.ci}置信区间：{interval}）。"
        if rel != L.SUPPRESSED else
        f"{inputs.wave}年{OVERALL_LABEL}{L.HEADLINE_LABEL}不予发布：{L.withheld_reason(r['reason'], r['n_eff'])}。"
    )
    sentence += f"对照规划目标（2025年超过{target_text}），判定为“{verdict_text}”"
    sentence += f"（单侧检验p值 {p_text}）。" if rel != L.SUPPRESSED else "。"
    box = (
        '<section class="headline">'
        f'<div class="big">{e(value)}</div>'
        f"<div><div><strong>{e(L.HEADLINE_LABEL)}</strong>（泉州市18–69岁居民）</div>"
        f'<div class="ci">{inputs.ci}置信区间：{e(interval)}　样本量：{e(L.fmt_int(r["n"]))}</div>'
        f'<div class="verdict v-{e(verdict.replace(" ", "-"))}">对照目标 {e(target_text)}：{e(verdict_text)}</div>'
        "</div></section>"
        f"<p>{e(sentence)}</p>"
        f'<p class="note">判定规则：{e(L.verdict_rule(inputs.ci_level))}。</p>'
    )
    return box, verdict


def verdict_counts(targets: pd.DataFrame, domain_type: str) -> dict[str, list[str]]:
    """Published verdict label → domains, in published order: the one source of every summary count."""
    rows = targets[targets["domain_type"] == domain_type]
    rows = rows.iloc[sorted(range(len(rows)), key=lambda i: L.category_rank(domain_type, rows["domain"].iloc[i]))]
    out: dict[str, list[str]] = {}
    for v, p, d in zip(rows["verdict"], rows["publish"], rows["domain"], strict=True):
        out.setdefault(L.verdict_label(v, p), []).append(str(d))
    return out


def verdict_sentence(targets: pd.DataFrame, domain_type: str, unit: str, label: str) -> str:
    counts = verdict_counts(targets, domain_type)
    order = [*L.VERDICT_LABELS.values(), L.NO_VERDICT]
    parts = [f"{k}{len(counts[k])}{unit}（{'、'.join(counts[k])}）" for k in order if k in counts]
    return f"{label}：" + "，".join(parts) + "。" if parts else ""


def findings(inputs: ReportInputs) -> list[str]:
    """A few plain statements, each drawn from the table it summarises."""
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
        out.append(f"在直接估计可发布的{len(shown)}个县（市、区）中，{hi['domain']}最高（{L.fmt_pct(hi['est'])}），"
                   f"{lo['domain']}最低（{L.fmt_pct(lo['est'])}）。")
    t = inputs.targets
    if (t["domain_type"] == "county").any():
        target = L.fmt_pct(float(t["target"].iloc[0]), digits=0)
        out.append(verdict_sentence(t, "county", "个", f"各县（市、区）对照{target}的目标"))
    for _, r in counties[counties["reliability"] == L.SUPPRESSED].iterrows():
        m = inputs.model_row(r["domain"])
        text = f"{r['domain']}的直接估计不予发布（{L.withheld_reason(r['reason'], r['n_eff'])}）"
        if m is not None:
            text += (f"，{L.MODEL_LABEL}为{L.fmt_pct(m['model_est'])}"
                     f"（{inputs.ci}区间{L.fmt_interval(m['model_lci'], m['model_uci'], 'proportion')}）")
        out.append(text + "。")
    if (t["domain_type"] == "group").any():
        out.append(verdict_sentence(t, "group", "个", "重点人群"))
    return [x for x in out if x]


def build_html(inputs: ReportInputs, figures: dict[str, Path], titles: dict[str, str],
               embed_font: bool = True, font_css: Callable[[str], str] = embedded_font_css) -> tuple[str, str]:
    """The bulletin as a string and the headline verdict it states.

    Figures and tables are numbered as they are placed, so the numbers follow the reading order. Without
    `embed_font` the page relies on the reader's system fonts (smaller, for previews and tests);
    `font_css` makes the @font-face rule for the page's text.
    """
    title, body, verdict = _title_body(inputs, figures, titles, Numbering())
    font = font_css(title + body) if embed_font else ""
    page = (
        '<!DOCTYPE html>\n<html lang="zh-CN">\n<head>\n<meta charset="utf-8">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        f"<title>{e(title)}</title>\n<style>{font}{CSS}</style>\n</head>\n<body>\n<main>\n{body}\n</main>\n"
        "</body>\n</html>\n"
    )
    return page, verdict


def font_text_ahead(inputs: ReportInputs, titles: dict[str, str]) -> str:
    """The text `build_html` will subset its font to, known before the figures are drawn: each figure's PNG
    stands in as the whole base64 alphabet, which every real figure spells out."""
    def stand_in(_png: Path, number: int, title: str) -> str:
        return figure_markup(B64_ALPHABET, number, title)

    title, body, _ = _title_body(inputs, {stem: Path(stem) for stem in titles}, titles, Numbering(stand_in))
    return title + body


def _title_body(inputs: ReportInputs, figures: dict[str, Path], titles: dict[str, str],
                num: Numbering) -> tuple[str, str, str]:
    def fig(stem: str) -> str:
        return num.figure(figures.get(stem), titles.get(stem, ""))

    box, verdict = headline_html(inputs)
    method_name = VARIANCE_METHOD_LABELS.get(inputs.variance_method,
                                                                          inputs.variance_method)
    title = f"泉州市{inputs.wave}年公民科学素质调查公报"
    parts = []
    if inputs.is_demo:
        parts.append(f'<div class="demo" role="alert">{e(DEMO_BANNER)}</div>')
    parts.append(f"<header><h1>{e(title)}</h1><p class=\"sub\">调查对象：泉州市18–69岁常住居民　"
                 f"标准误：{e(method_name)}　置信水平：{inputs.ci}</p></header>")
    parts.append("<h2>一、主要结果</h2>" + box)
    parts.append('<ul class="findings">' + "".join(f"<li>{e(f)}</li>" for f in findings(inputs)) + "</ul>")

    # On paper the county table comes first: its rows flow on from page 1, where the tall county figure
    # would jump to page 2 and leave half of page 1 empty. On screen the figure leads.
    county_fig = fig("fig1_county")
    county_note = ("直接估计不予发布的县（市、区）给出模型估计（面积层次Fay–Herriot模型，见“调查方法”），"
                   f"其区间为模型均方误差给出的{inputs.ci}区间；对照目标的判定始终依据直接估计的{inputs.ci}置信区间。"
                   if inputs.sae is not None else "")
    parts.append('<h2>二、各县（市、区）</h2><div class="lead">' + county_fig
                 + cells_table(num.table("各县（市、区）具备科学素质的公民比例"), inputs.cells(L.HEADLINE, "county"),
                               "县（市、区）", inputs, with_verdict=True, model=inputs.sae is not None) + "</div>"
                 + (f'<p class="note">{e(county_note)}</p>' if county_note else ""))

    parts.append("<h2>三、重点人群</h2>" + fig("fig2_groups"))
    parts.append(cells_table(num.table("重点人群具备科学素质的公民比例"), inputs.cells(L.HEADLINE, "group"), "重点人群",
                             inputs, with_verdict=True))

    parts.append('<h2 class="newpage">四、不同性别、年龄、文化程度和城乡居民</h2>' + fig("fig3_subgroups"))
    sub = pd.concat([inputs.cells(L.HEADLINE, t) for t in L.SUBGROUP_TYPES], ignore_index=True)
    parts.append(cells_table(num.table("不同群体具备科学素质的公民比例"), sub, "分组", inputs, with_verdict=True,
                             label_of=lambda r: f"{L.DOMAIN_TYPE_LABELS[r['domain_type']]}：{r['domain']}"))

    parts.append('<h2 class="newpage">五、科学素质水平与测试各部分得分</h2>' + fig("fig4_classes") + fig("fig5_dimensions"))
    score_ids = [*L.CLASS_ESTIMANDS, L.SCORE_TOTAL, *(d[0] for d in inputs.dimensions)]
    scores = pd.concat([inputs.cells(i, "overall") for i in score_ids], ignore_index=True)
    parts.append(cells_table(num.table(f"科学素质水平分布与平均得分（{OVERALL_LABEL}）"), scores, "指标", inputs,
                             label_of=lambda r: L.estimand_label(r["estimand_id"], dimensions=inputs.dimensions)))

    parts.append("<h2>六、《中国公民科学素质基准》各基准的正确率</h2>" + fig("fig6_benchmarks"))
    bench = pd.concat([inputs.cells(b, "overall") for b in inputs.benchmark_ids()] or [pd.DataFrame()],
                      ignore_index=True)
    if not bench.empty:
        parts.append(cells_table(num.table(f"各基准的平均正确率（{OVERALL_LABEL}）"), bench, "基准", inputs,
                                 label_of=lambda r: benchmark_caption(inputs, r["estimand_id"], 200)))

    parts.append('<h2 class="newpage">七、调查方法</h2>')
    parts += [section_html(s, numbering=num) for s in methods_sections(inputs)]
    parts.append("<h2>八、数据质量</h2>")
    parts.append(section_html(Section("", data_quality_section(inputs).items), numbering=num))
    foot = ("本公报的全部数值由调查数据处理流程自动生成；完整表格见随公报发布的Excel工作簿，"
            "每个输入与输出文件的校验值随数据一并存档。")
    if inputs.is_demo:
        foot = DEMO_BANNER + "。" + foot
    parts.append(f"<footer>{e(foot)}</footer>")
    return title, "\n".join(parts), verdict
