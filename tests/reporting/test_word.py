"""report.docx read back: headline number, verdict, every county, Chinese fonts declared, suppression kept."""

from __future__ import annotations

import zipfile

import pytest

from pipeline import vocabulary as V
from pipeline.publishing import labels as L
from pipeline.reporting.figures import FIGURES
from pipeline.reporting.word import build_docx

from .conftest import PLANTED_FORMS, SUPPRESSED_COUNTY


def _tables(path) -> list[list[list[str]]]:
    import docx

    return [[[c.text for c in row.cells] for row in t.rows] for t in docx.Document(str(path)).tables]


def _text(path) -> tuple[str, list[list[str]]]:
    import docx

    paras = "\n".join(p.text for p in docx.Document(str(path)).paragraphs)
    return paras, [row for t in _tables(path) for row in t]


@pytest.fixture(scope="module")
def docx_path(built):
    path = built.dir / "report.docx"
    assert path.is_file()
    return path


def test_docx_has_headline_verdict_and_every_county(docx_path, inputs):
    paras, rows = _text(docx_path)
    head = inputs.cell(L.HEADLINE)
    value = L.fmt_pct(head["est"], head["reliability"])
    t = inputs.targets
    verdict = L.verdict_label(t.loc[t["domain_type"] == "overall", "verdict"].iloc[0])
    assert value in paras and f"判定为“{verdict}”" in paras
    county_table = next(t for t in _tables(docx_path) if t[0][0] == "县（市、区）")
    counties = {r[0]: r for r in county_table[1:]}
    assert set(counties) == set(V.counties().names)
    for name, row in counties.items():
        cell = inputs.cell(L.HEADLINE, "county", name)
        assert row[2] == L.fmt_pct(cell["est"], cell["reliability"])
    assert counties[SUPPRESSED_COUNTY][2] == L.DASH
    for title in ("一、主要结果", "二、各县（市、区）", "七、调查方法", "八、数据质量", "样本与回答情况", "加权"):
        assert title in paras
    assert any("回答率" in r[0] or "回答率RR3" in r for r in rows)  # the methods' response-rate table


def test_docx_embeds_every_figure(docx_path):
    with zipfile.ZipFile(docx_path) as z:
        media = [n for n in z.namelist() if n.startswith("word/media/")]
    assert len(media) == len(FIGURES)


def test_suppressed_value_never_printed(docx_path):
    with zipfile.ZipFile(docx_path) as z:
        xml = z.read("word/document.xml").decode("utf-8")
    paras, rows = _text(docx_path)
    text = paras + "\n".join("\t".join(r) for r in rows)
    assert not any(p in text for p in PLANTED_FORMS)
    assert not any(p in xml for p in PLANTED_FORMS)


def test_east_asian_fonts_and_language_declared(docx_path):
    with zipfile.ZipFile(docx_path) as z:
        styles = z.read("word/styles.xml").decode("utf-8")
    import docx
    from docx.oxml.ns import qn

    d = docx.Document(str(docx_path))
    for name in ("Normal", "Heading 1", "Heading 2", "Title"):
        rpr = d.styles[name].element.rPr
        assert rpr.find(qn("w:rFonts")).get(qn("w:eastAsia")) in ("宋体", "黑体"), name
        assert rpr.find(qn("w:lang")).get(qn("w:eastAsia")) == "zh-CN", name
    assert 'w:eastAsia="宋体"' in styles  # document defaults: text typed later keeps a Chinese font


def test_docx_is_deterministic(inputs, built):
    figures = {s.stem: built.dir / "figures" / f"{s.stem}.png" for s in FIGURES}
    titles = {s.stem: s.title for s in FIGURES}
    assert build_docx(inputs, figures, titles) == build_docx(inputs, figures, titles)
