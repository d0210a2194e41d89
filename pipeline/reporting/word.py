"""report.docx: the bulletin as an editable Word document, beside report.html.

The same content as the HTML page — headline, verdict, findings, county, key-group and subgroup tables,
figures, methods and data quality — built from the same inputs and formatters, so the two never
disagree and a suppressed cell shows the dash here too. Chinese text needs its fonts declared for the
East-Asian script (w:eastAsia) and the language set to zh-CN, otherwise Word and WPS fall back to a
Latin font and render boxes or mixed glyphs; body text is 宋体 (SimSun) and headings 黑体 (SimHei), the
fonts every Chinese Windows and WPS install has (LibreOffice maps them to Noto CJK).
"""

from __future__ import annotations

import io
from pathlib import Path

import pandas as pd

from pipeline.publishing import labels as L
from pipeline.publishing.workbook import FIXED_TIME, normalise_zip
from pipeline.reporting.figures import benchmark_caption
from pipeline.reporting.html import DEMO_BANNER, findings
from pipeline.reporting.inputs import ReportInputs
from pipeline.reporting.methods import Section, Table, data_quality_section, methods_sections
from pipeline.tableio import atomic_path
from pipeline.vocabulary import OVERALL_LABEL, VARIANCE_METHOD_LABELS

BODY_FONT, HEAD_FONT, LATIN_FONT = "宋体", "黑体", "Times New Roman"
ACCENT = (0x2F, 0x6E, 0xA5)


def _fonts(style_or_run, east_asia: str, size_pt: float | None = None, bold: bool | None = None) -> None:
    from docx.oxml.ns import qn
    from docx.shared import Pt

    font = style_or_run.font
    font.name = LATIN_FONT
    if size_pt:
        font.size = Pt(size_pt)
    if bold is not None:
        font.bold = bold
    rpr = style_or_run.element.get_or_add_rPr()
    rfonts = rpr.find(qn("w:rFonts"))
    if rfonts is None:
        rfonts = rpr.makeelement(qn("w:rFonts"), {})
        rpr.insert(0, rfonts)
    for key in ("w:ascii", "w:hAnsi", "w:cs"):
        rfonts.set(qn(key), LATIN_FONT)
    rfonts.set(qn("w:eastAsia"), east_asia)
    rfonts.set(qn("w:hint"), "eastAsia")
    lang = rpr.find(qn("w:lang"))
    if lang is None:
        lang = rpr.makeelement(qn("w:lang"), {})
        rpr.append(lang)
    lang.set(qn("w:val"), "en-US")
    lang.set(qn("w:eastAsia"), "zh-CN")


def _setup(doc) -> None:
    from docx.shared import Mm

    for s in doc.sections:
        s.page_height, s.page_width = Mm(297), Mm(210)
        s.top_margin = s.bottom_margin = Mm(20)
        s.left_margin = s.right_margin = Mm(18)
    styles = doc.styles
    _fonts(styles["Normal"], BODY_FONT, 10.5)
    for name, size in (("Title", 20), ("Heading 1", 15), ("Heading 2", 12.5)):
        _fonts(styles[name], HEAD_FONT, size, True)
    for name in ("List Bullet", "Caption", "Table Grid"):
        _fonts(styles[name], BODY_FONT)
    # document defaults too, so text typed later by an editor keeps the Chinese font
    from docx.oxml.ns import qn

    defaults = doc.styles.element.find(qn("w:docDefaults"))
    if defaults is not None:
        rpr = defaults.find(qn("w:rPrDefault") + "/" + qn("w:rPr"))
        if rpr is not None:
            rfonts = rpr.find(qn("w:rFonts"))
            if rfonts is None:
                rfonts = rpr.makeelement(qn("w:rFonts"), {})
                rpr.insert(0, rfonts)
            rfonts.set(qn("w:eastAsia"), BODY_FONT)
    core = doc.core_properties
    core.created = core.modified = core.last_printed = FIXED_TIME
    core.author = core.last_modified_by = "泉州市公民科学素质调查"


def _table(doc, caption: str, headers, rows, note: str = "") -> None:
    from docx.enum.text import WD_ALIGN_PARAGRAPH
    from docx.shared import Pt

    p = doc.add_paragraph(style="Caption")
    p.add_run(caption).bold = True
    t = doc.add_table(rows=1, cols=len(headers))
    t.style = doc.styles["Table Grid"]
    for cell, h in zip(t.rows[0].cells, headers, strict=True):
        cell.text = ""
        run = cell.paragraphs[0].add_run(str(h))
        run.bold = True
    for row in rows:
        cells = t.add_row().cells
        for i, (cell, v) in enumerate(zip(cells, row, strict=True)):
            cell.text = str(v)
            if i > 0 and _numeric(str(v)):
                cell.paragraphs[0].alignment = WD_ALIGN_PARAGRAPH.RIGHT
    _widths(t, headers, rows)
    _repeat_header(t.rows[0])
    for row in t.rows:
        for cell in row.cells:
            for par in cell.paragraphs:
                for run in par.runs:
                    run.font.size = Pt(9)
    if note:
        n = doc.add_paragraph()
        r = n.add_run(note)
        r.font.size = Pt(9)


def _widths(t, headers, rows, total_mm: float = 174.0) -> None:
    """Long labels (benchmark titles, notes) get a wide first column; numbers share the rest."""
    from docx.shared import Mm

    longest = [max([len(str(headers[i]))] + [len(str(r[i])) for r in rows]) for i in range(len(headers))]
    share = [min(max(n, 6), 40) for n in longest]
    widths = [total_mm * x / sum(share) for x in share]
    t.autofit = False
    for col, w in zip(t.columns, widths, strict=True):
        col.width = Mm(w)  # the grid: LibreOffice and WPS lay out by it
    for row in t.rows:
        for cell, w in zip(row.cells, widths, strict=True):
            cell.width = Mm(w)


def _repeat_header(row) -> None:
    """The header row repeats on every page a long table runs onto."""
    from docx.oxml.ns import qn

    trpr = row._tr.get_or_add_trPr()
    el = trpr.makeelement(qn("w:tblHeader"), {qn("w:val"): "true"})
    trpr.append(el)


def _numeric(text: str) -> bool:
    return bool(text) and all(ch in "0123456789,.%–−-+<>≤≥ e—" for ch in text)


def cell_rows(rows: pd.DataFrame, inputs: ReportInputs, with_verdict: bool = False, label_of=None) -> list[list[str]]:
    """Published cells as text rows: label, n, estimate, CI, reliability (and the verdict)."""
    verdicts = {}
    if with_verdict:
        t = inputs.targets
        verdicts = {(a, b): (v, r) for a, b, v, r in zip(t["domain_type"], t["domain"], t["verdict"], t["reliability"],
                                                          strict=True)}
    out = []
    for _, r in rows.iterrows():
        rel = r["reliability"]
        value = L.fmt_value(r["est"], r["display"], rel)  # caution is stated in the reliability column
        row = [label_of(r) if label_of else r["domain"], L.fmt_int(r["n"]), value,
               L.fmt_interval(r["lci"], r["uci"], r["display"], rel), L.RELIABILITY_LABELS[rel]]
        if with_verdict:
            v = verdicts.get((r["domain_type"], r["domain"]))
            row.append(L.verdict_label(*v) if v else L.DASH)
        out.append(row)
    return out


def _cells(doc, caption, rows, first, inputs, with_verdict=False, label_of=None) -> None:
    if rows.empty:
        doc.add_paragraph(f"{caption}：{L.NOT_PROVIDED}。")
        return
    heads = [first, "样本量", "估计值", f"{inputs.ci}置信区间", "可靠性"] + (["对照目标"] if with_verdict else [])
    _table(doc, caption, heads, cell_rows(rows, inputs, with_verdict, label_of))


def headline(inputs: ReportInputs) -> tuple[str, str, str, str]:
    """(value, interval, verdict label, sentence) of the headline, as the HTML bulletin states them."""
    r = inputs.cell(L.HEADLINE)
    t = inputs.targets
    tr = t[(t["domain_type"] == "overall") & (t["domain"] == OVERALL_LABEL)]
    verdict = str(tr["verdict"].iloc[0]) if len(tr) else "undetermined"
    rel_t = str(tr["reliability"].iloc[0]) if len(tr) else L.OK
    target = L.fmt_pct(float(tr["target"].iloc[0]), digits=0) if len(tr) else L.NOT_PROVIDED
    rel = r["reliability"]
    value = L.fmt_pct(r["est"], rel)
    interval = L.fmt_interval(r["lci"], r["uci"], "proportion", rel)
    verdict_text = L.verdict_label(verdict, rel_t)
    p_text = L.fmt_p(tr["p_value"].iloc[0], rel_t) if len(tr) else L.DASH
    sentence = (f"{inputs.wave}年，泉州市{L.HEADLINE_LABEL}为{value}（{inputs.ci}置信区间：{interval}）。"
                if rel != L.SUPPRESSED else f"{inputs.wave}年{OVERALL_LABEL}{L.HEADLINE_LABEL}{L.SUPPRESSED_NOTE}。")
    sentence += f"对照规划目标（2025年超过{target}），判定为“{verdict_text}”（单侧检验p值 {p_text}）。"
    return value, interval, f"对照目标 {target}：{verdict_text}", sentence


def _section(doc, section: Section) -> None:
    if section.title:
        doc.add_heading(section.title, level=2)
    for item in section.items:
        if isinstance(item, Table):
            _table(doc, item.caption, item.headers, item.rows, item.note)
        else:
            doc.add_paragraph(str(item))


def build_docx(inputs: ReportInputs, figures: dict[str, Path], titles: dict[str, str]) -> bytes:
    from docx import Document
    from docx.enum.text import WD_ALIGN_PARAGRAPH
    from docx.shared import Mm, Pt, RGBColor

    doc = Document()
    _setup(doc)
    numbers = {stem: i for i, stem in enumerate(figures, start=1)}

    def fig(stem: str) -> None:
        if stem not in titles:  # a renamed figure must fail here, not vanish from the document
            raise KeyError(f"report.docx places figure {stem!r}, which the report does not draw")
        if stem not in figures:
            return
        doc.add_picture(str(figures[stem]), width=Mm(165))
        doc.paragraphs[-1].alignment = WD_ALIGN_PARAGRAPH.CENTER
        cap = doc.add_paragraph(f"图{numbers[stem]} {titles[stem]}", style="Caption")
        cap.alignment = WD_ALIGN_PARAGRAPH.CENTER

    if inputs.is_demo:
        p = doc.add_paragraph()
        p.alignment = WD_ALIGN_PARAGRAPH.CENTER
        run = p.add_run(DEMO_BANNER)
        run.bold = True
        run.font.color.rgb = RGBColor(0x9A, 0x6B, 0x00)
    title = doc.add_paragraph(f"泉州市{inputs.wave}年公民科学素质调查公报", style="Title")
    title.alignment = WD_ALIGN_PARAGRAPH.CENTER
    method = VARIANCE_METHOD_LABELS.get(inputs.variance_method, inputs.variance_method)
    sub = doc.add_paragraph(f"调查对象：泉州市18–69岁常住居民　标准误：{method}　置信水平：{inputs.ci}")
    sub.alignment = WD_ALIGN_PARAGRAPH.CENTER

    doc.add_heading("一、主要结果", level=1)
    value, interval, verdict, sentence = headline(inputs)
    p = doc.add_paragraph()
    big = p.add_run(value)
    big.bold = True
    big.font.size = Pt(28)
    big.font.color.rgb = RGBColor(*ACCENT)
    p.add_run(f"　{L.HEADLINE_LABEL}（泉州市18–69岁居民）　{inputs.ci}置信区间：{interval}　").bold = False
    p.add_run(verdict).bold = True
    doc.add_paragraph(sentence)
    rule = doc.add_paragraph()
    rule.add_run(f"判定规则：{L.verdict_rule(inputs.ci_level)}。").font.size = Pt(9)
    for f in findings(inputs):
        doc.add_paragraph(f, style="List Bullet")

    doc.add_heading("二、各县（市、区）", level=1)
    _cells(doc, "表1 各县（市、区）具备科学素质的公民比例", inputs.cells(L.HEADLINE, "county"), "县（市、区）",
           inputs, with_verdict=True)
    fig("fig1_county")

    doc.add_heading("三、重点人群", level=1)
    fig("fig2_groups")
    _cells(doc, "表2 重点人群具备科学素质的公民比例", inputs.cells(L.HEADLINE, "group"), "重点人群", inputs,
           with_verdict=True)

    doc.add_heading("四、不同性别、年龄、文化程度和城乡居民", level=1)
    fig("fig3_subgroups")
    sub_rows = pd.concat([inputs.cells(L.HEADLINE, t) for t in L.SUBGROUP_TYPES], ignore_index=True)
    _cells(doc, "表3 不同群体具备科学素质的公民比例", sub_rows, "分组", inputs,
           label_of=lambda r: f"{L.DOMAIN_TYPE_LABELS[r['domain_type']]}：{r['domain']}")

    doc.add_heading("五、科学素质水平与测试各部分得分", level=1)
    fig("fig4_classes")
    fig("fig5_dimensions")
    score_ids = [*L.CLASS_ESTIMANDS, L.SCORE_TOTAL, *(d[0] for d in inputs.dimensions)]
    scores = pd.concat([inputs.cells(i, "overall") for i in score_ids], ignore_index=True)
    _cells(doc, f"表4 科学素质水平分布与平均得分（{OVERALL_LABEL}）", scores, "指标", inputs,
           label_of=lambda r: L.estimand_label(r["estimand_id"]))

    doc.add_heading("六、《中国公民科学素质基准》各基准的正确率", level=1)
    fig("fig6_benchmarks")
    bench = [inputs.cells(b, "overall") for b in inputs.benchmark_ids()]
    if bench:
        _cells(doc, f"表5 各基准的平均正确率（{OVERALL_LABEL}）", pd.concat(bench, ignore_index=True), "基准", inputs,
               label_of=lambda r: benchmark_caption(inputs, r["estimand_id"], 200))

    doc.add_heading("七、调查方法", level=1)
    for s in methods_sections(inputs):
        _section(doc, s)
    doc.add_heading("八、数据质量", level=1)
    _section(doc, Section("", data_quality_section(inputs).items))
    foot = ("本公报的全部数值由调查数据处理流程自动生成；完整表格见同目录 tables.xlsx 与 tables/ 下的CSV文件，"
            "输入与输出文件的校验值见 manifest.json。")
    doc.add_paragraph((DEMO_BANNER + "。" if inputs.is_demo else "") + foot).runs[0].font.size = Pt(9)
    buf = io.BytesIO()
    doc.save(buf)
    return normalise_zip(buf.getvalue())


def write_docx(inputs: ReportInputs, figures: dict[str, Path], titles: dict[str, str], path: Path) -> Path:
    data = build_docx(inputs, figures, titles)
    with atomic_path(path) as tmp:
        tmp.write_bytes(data)
    return path
