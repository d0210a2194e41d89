"""The rendered-report scan: what it catches, and that the wave report passes it."""

from __future__ import annotations

import pytest

from pipeline.reporting.scan import html_text, numbering, scan, scan_text


@pytest.mark.parametrize("text, kind", [
    ("评分规则 threshold_total(cutoff=70)", "snake_case token"),
    ("基线口径 provincial_2020_unpublished", "snake_case token"),
    ("原因 duplicate_id", "snake_case token"),
    ("明细见 quarantine.csv", "file name"),
    ("按模板报送（python -m pipeline indicators template --year 年度）", "command line"),
    ("最大边际误差 8.0e-16", "e-notation"),
    ("判定：not met", "English word"),
    ("泉州开发区（QZKF）", "internal id"),
])
def test_catches_what_is_not_for_the_public(text, kind):
    assert kind in {f.kind for f in scan_text(text, "x")}


def test_passes_plain_public_text():
    text = "具备科学素质的公民比例为16.4%（95%置信区间15.0%–17.9%），Fay–Herriot模型，REML，SHA-256 校验值 1a2b3c"
    assert scan_text(text, "x") == []


def test_numbers_must_follow_reading_order():
    ok = "<figcaption>图1 a</figcaption><caption>表1 b</caption><figcaption>图2 c</figcaption><caption>表2 d</caption>"
    assert numbering(ok, "x") == []
    bad = "<figcaption>图1 a</figcaption><figcaption>图3 b</figcaption><figcaption>图2 c</figcaption>"
    assert [f.kind for f in numbering(bad, "x")] == ["figure number out of order"]
    skipped = "<caption>表1 a</caption><caption>表2 b</caption><caption>表3 c</caption><caption>表5 d</caption>"
    assert [f.kind for f in numbering(skipped, "x")] == ["table number out of order"]


def test_styles_and_images_are_not_text():
    page = "<style>.a_b{color:red}</style><img src='data:image/png;base64,AAA_BBB'><p>正文</p>"
    assert html_text(page).split() == ["正文"]


def test_wave_report_and_workbook_pass(built):
    found = scan([built.dir / "report.html", built.dir / "tables.xlsx"])
    assert found == [], "\n".join(map(str, found))
