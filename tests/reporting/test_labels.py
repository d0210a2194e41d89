"""Formatting rules shared by every output: suppressed → dash, reasons in Chinese, display units."""

from __future__ import annotations

import math

from pipeline.publishing import labels as L


def test_suppressed_values_never_formatted():
    for fmt in (L.fmt_pct, L.fmt_num):
        assert fmt(0.123456, "suppressed") == "—"
    assert L.fmt_interval(0.1, 0.2, "proportion", "suppressed") == "—"
    assert L.fmt_p(0.01, "suppressed") == "—"
    # the verdict is a separate decision: published unless the policy withholds it
    assert L.verdict_label("not met", "verdict") == "未达到目标"
    assert L.verdict_label("met", "none") == L.NO_VERDICT


def test_withheld_reason_in_a_readers_words():
    relw = "suppressed cell: relative Korn-Graubard CI width > 130% (NCHS 2017 criterion 3)"
    assert L.withheld_reason(relw, 201.54) == "估计精度不足（有效样本量 202）"
    assert L.withheld_reason("suppressed cell: effective sample size < 30 (NCHS 2017 criterion 1)", 21.2) == \
        "样本量过少（有效样本量 21）"
    assert L.withheld_reason("no respondents in the domain") == "该分组没有受访者"


def test_formats():
    assert L.fmt_pct(0.15372) == "15.4%"
    assert L.fmt_pct(math.nan) == "—"
    assert L.fmt_value(41.26, "mean") == "41.3"
    assert L.fmt_interval(0.131, 0.172, "proportion") == "13.1%–17.2%"
    assert L.fmt_p(0.0004) == "< 0.001"
    assert L.fmt_int(9950) == "9,950"


def test_verdict_words():
    assert [L.verdict_label(v) for v in ("met", "not met", "undetermined")] == ["已达到目标", "未达到目标", "尚不能判定"]


def test_benchmarks_display_as_shares():
    assert L.display_statistic("bench_07", "mean") == "proportion"
    assert L.display_statistic("score_total", "mean") == "mean"


def test_reasons_translated_part_by_part():
    text = "df < 8: flagged for statistical review (NCHS 2017 criterion 4); confidence interval contains the target"
    assert L.reason_zh(text) == "设计自由度小于8，须经统计审核；置信区间包含目标值"
    assert L.reason_zh("suppressed cell: effective sample size < 30 (NCHS 2017 criterion 1)").startswith(
        "估计值不予发布：样本量过少")
    assert L.reason_zh(None) == "" and L.reason_zh(math.nan) == ""
    assert L.reason_zh("a new reason") == L.UNKNOWN_REASON  # the stage's English never reaches a reader


def test_category_order_follows_publication():
    names = sorted(["南安市", "鲤城区", "泉州台商投资区", "未知区"], key=lambda d: L.category_rank("county", d))
    assert names == ["鲤城区", "南安市", "泉州台商投资区", "未知区"]
