"""A suppressed cell never shows a number: not in the HTML, the workbook or the CSV tables.

The fixture plants est = 0.123456 on a suppressed county (and its class shares, scores and
benchmarks are suppressed too); its printed forms "12.3" and "0.123" must appear nowhere. Every
other number in the fixture was nudged so that a hit can only come from the planted cell.
"""

from __future__ import annotations

from openpyxl import load_workbook

from .conftest import PLANTED, PLANTED_FORMS, SUPPRESSED_COUNTY, collides


def test_fixture_really_plants_a_suppressed_value(inputs):
    cell = inputs.cell("literate", "county", SUPPRESSED_COUNTY)
    assert cell["est"] == PLANTED and cell["reliability"] == "suppressed"
    assert collides(PLANTED)


def test_not_in_html(built):
    page = (built.dir / "report.html").read_text(encoding="utf-8")
    for form in PLANTED_FORMS:
        assert form not in page, form
    assert SUPPRESSED_COUNTY in page  # the county is listed, only its numbers are withheld


def test_not_in_csv(built):
    files = sorted((built.dir / "tables").glob("*.csv"))
    assert len(files) == 8
    for path in files:
        text = path.read_text(encoding="utf-8-sig")
        for form in PLANTED_FORMS:
            assert form not in text, (path.name, form)


def test_not_in_workbook(built):
    wb = load_workbook(built.dir / "tables.xlsx")
    for ws in wb.worksheets:
        for row in ws.iter_rows():
            for c in row:
                if isinstance(c.value, (int, float)):
                    assert abs(float(c.value) - PLANTED) > 1e-9, (ws.title, c.coordinate)
                    assert not collides(float(c.value)), (ws.title, c.coordinate, c.value)
                elif isinstance(c.value, str):
                    assert not any(f in c.value for f in PLANTED_FORMS), (ws.title, c.coordinate)


def test_suppressed_row_shows_dash_in_html(built):
    page = (built.dir / "report.html").read_text(encoding="utf-8")
    row_start = page.index(f'<tr class="suppressed"><td class="text">{SUPPRESSED_COUNTY}')
    row = page[row_start:page.index("</tr>", row_start)]
    assert "—" in row and "不予发布" in row
