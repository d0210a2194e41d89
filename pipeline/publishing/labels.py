"""Chinese labels, display orders and number formatting shared by figures, tables and the HTML report.

Suppression lives here too: every formatter takes the cell's reliability and returns the dash for a
suppressed cell, so no output path can print the number of a cell the estimate stage withheld.
"""

from __future__ import annotations

import math
import statistics
from typing import Any

from pipeline.instruments import dimension_estimands
from pipeline.schemas import CAUTION, OK, RELIABILITY_VALUES, SUPPRESSED  # noqa: F401  (re-exported)
from pipeline.vocabulary import DOMAIN_TYPE_LABELS, OVERALL_LABEL, counties

DASH = "—"
SUPPRESSED_NOTE = "数据不足，不予发布"
CAUTION_NOTE = "谨慎解读"
NOT_PROVIDED = "未提供"

RELIABILITY_LABELS = {OK: "可靠", CAUTION: "谨慎解读", SUPPRESSED: "不予发布"}

VERDICT_LABELS = {"met": "已达到目标", "not met": "未达到目标", "undetermined": "尚不能判定"}
NO_VERDICT = "不作判定"
# targets.csv `publish`: what of a target cell is published (estimation/targets.py)
PUBLISH_ESTIMATE, PUBLISH_VERDICT, PUBLISH_CAUTION, PUBLISH_NONE = "estimate", "verdict", "caution", "none"
PUBLISH_VALUES = (PUBLISH_ESTIMATE, PUBLISH_VERDICT, PUBLISH_CAUTION, PUBLISH_NONE)
MODEL_LABEL = "模型估计"
DIRECT_LABEL = "直接估计"

HEADLINE = "literate"
HEADLINE_LABEL = "具备科学素质的公民比例"

CLASS_ESTIMANDS = ("class_advanced", "class_literate", "class_basic", "class_low")
CLASS_LABELS = {
    "class_advanced": "高阶",
    "class_literate": "具备",
    "class_basic": "基本具备",
    "class_low": "较低",
}
CLASS_RULES = {
    "class_advanced": "总分 ≥ 85",
    "class_literate": "70 ≤ 总分 < 85",
    "class_basic": "55 ≤ 总分 < 70",
    "class_low": "总分 < 55",
}

# The four parts of the test: pipeline.instruments.dimension_estimands() (names from frameworks.yaml).
SCORE_TOTAL = "score_total"

DOMAIN_TYPES = tuple(DOMAIN_TYPE_LABELS)
SUBGROUP_TYPES = ("sex", "age_band", "education", "urban")

CATEGORY_ORDER = {
    "overall": (OVERALL_LABEL,),
    "county": counties().names,
    "sex": ("男", "女"),
    "age_band": ("18-29", "30-39", "40-49", "50-59", "60-69"),
    "education": ("小学及以下", "初中", "高中/中专", "大专", "本科及以上"),
    "urban": ("城镇", "乡村"),
    "group": ("农民", "产业工人", "老年人", "领导干部和公务员"),
}


def estimand_label(estimand_id: str, benchmark_titles: dict[str, str] | None = None,
                   dimensions: tuple[tuple[str, str, float], ...] | None = None) -> str:
    if estimand_id == HEADLINE:
        return HEADLINE_LABEL
    if estimand_id in CLASS_LABELS:
        return f"{CLASS_LABELS[estimand_id]}（{CLASS_RULES[estimand_id]}）的比例"
    if estimand_id == SCORE_TOTAL:
        return "总分（满分100）"
    dims = dimensions if dimensions is not None else tuple((d[0], d[2], d[3]) for d in dimension_estimands())
    for est_id, name, marks in dims:
        if estimand_id == est_id:
            return f"{name}得分（满分{marks:g}）"
    if estimand_id.startswith("bench_"):
        return (benchmark_titles or {}).get(estimand_id, benchmark_fallback(estimand_id))
    return estimand_id


def benchmark_number(estimand_id: str) -> int:
    return int(estimand_id.split("_", 1)[1])


def benchmark_fallback(estimand_id: str) -> str:
    return f"基准{benchmark_number(estimand_id)}"


def display_statistic(estimand_id: str, statistic: str) -> str:
    """How a cell is printed: benchmark scores are means of 0–1 item scores, so they read as shares."""
    return "proportion" if estimand_id.startswith("bench_") else statistic


# The estimate stage states its reliability reasons in English; readers of the bulletin get Chinese.
REASONS_ZH = (
    ("no respondents", "该分组无受访者"),
    ("df <= 0", "自由度为0，无法估计方差"),
    ("effective sample size < 30", "样本量过少：有效样本量小于30"),
    ("relative korn-graubard ci width", "估计精度不足：置信区间宽度超过估计值的130%"),
    ("ci width >= 0.30", "估计精度不足：置信区间宽度不小于30个百分点"),
    ("estimate of 0% or 100%", "估计值为0或100%，须经统计审核"),
    ("df < 8", "设计自由度小于8，须经统计审核"),
    ("cv > 0.30", "变异系数大于30%"),
    ("confidence interval contains the target", "置信区间包含目标值"),
    ("no confidence interval", "无法计算置信区间"),
)
UNKNOWN_REASON = "其他原因，须经统计审核"


def ci_pct(level: float) -> str:
    """The confidence level as every public text writes it: 0.95 → "95%", 0.9 → "90%" (estimands.yaml ci.level)."""
    return f"{100 * float(level):.10g}%"


def z_of(level: float) -> str:
    """The normal quantile of a two-sided level as the text writes it: 1.96 at 95%, 1.645 at 90%
    (the standard library's quantile, exact to a few units in the 16th digit: the report need not import
    scipy, a second of its start-up, for three printed decimals)."""
    return f"{statistics.NormalDist().inv_cdf(0.5 + float(level) / 2):.3f}".rstrip("0")


def verdict_rule(level: float = 0.95) -> str:
    ci = ci_pct(level)
    return f"已达到目标：{ci}置信区间下限高于目标；未达到目标：{ci}置信区间上限低于目标；尚不能判定：置信区间包含目标"


VERDICT_RULE = verdict_rule(0.95)


def reason_zh(reason: Any) -> str:
    """Translate each '; '-separated part of a reason. A part without a translation is never printed as
    written (it is the estimate stage's English): it reads "其他原因，须经统计审核"."""
    if reason is None or (isinstance(reason, float) and math.isnan(reason)) or str(reason) in ("", "<NA>"):
        return ""
    out = []
    for part in str(reason).split("; "):
        prefix = ""
        if part.startswith("suppressed cell: "):
            prefix, part = "估计值不予发布：", part[len("suppressed cell: "):]
        low = part.lower()
        zh = next((z for key, z in REASONS_ZH if key in low), UNKNOWN_REASON)
        out.append(prefix + zh)
    return "；".join(x for x in out if x)


def category_rank(domain_type: str, domain: str) -> tuple[int, str]:
    """Sort key that follows the published order of a category, unknown labels last."""
    order = CATEGORY_ORDER.get(domain_type, ())
    return (order.index(domain) if domain in order else len(order), domain)


def _finite(x: Any) -> bool:
    try:
        return x is not None and not math.isnan(float(x)) and not math.isinf(float(x))
    except (TypeError, ValueError):
        return False


def fmt_pct(x: Any, reliability: str = OK, digits: int = 1) -> str:
    """A 0–1 proportion as a percentage, or the dash when suppressed or missing."""
    if reliability == SUPPRESSED or not _finite(x):
        return DASH
    return f"{100.0 * float(x):.{digits}f}%"


def fmt_num(x: Any, reliability: str = OK, digits: int = 1) -> str:
    if reliability == SUPPRESSED or not _finite(x):
        return DASH
    return f"{float(x):.{digits}f}"


def fmt_int(x: Any) -> str:
    if not _finite(x):
        return DASH
    return f"{int(round(float(x))):,}"


def fmt_value(x: Any, statistic: str, reliability: str = OK) -> str:
    """Estimate in its natural unit: proportions as %, means with one decimal."""
    if statistic == "proportion":
        return fmt_pct(x, reliability)
    return fmt_num(x, reliability, 1 if statistic == "mean" else 0)


def fmt_interval(lci: Any, uci: Any, statistic: str, reliability: str = OK) -> str:
    lo, hi = fmt_value(lci, statistic, reliability), fmt_value(uci, statistic, reliability)
    if DASH in (lo, hi):
        return DASH
    return f"{lo}–{hi}"


def fmt_p(p: Any, reliability: str = OK) -> str:
    if reliability == SUPPRESSED or not _finite(p):
        return DASH
    p = float(p)
    return "< 0.001" if p < 0.001 else f"{p:.3f}"


def verdict_label(verdict: str, publish: str = PUBLISH_ESTIMATE) -> str:
    """The verdict as published: every report, table and summary count goes through this one function."""
    if publish == PUBLISH_NONE:
        return NO_VERDICT
    return VERDICT_LABELS[str(verdict)]


def withheld_reason(reason: Any, n_eff: Any = None) -> str:
    """Why an estimate is not printed, in a reader's words ("估计精度不足（有效样本量 201）")."""
    text = "" if reason is None or (isinstance(reason, float) and math.isnan(reason)) else str(reason).lower()
    neff = f"（有效样本量 {float(n_eff):,.0f}）" if _finite(n_eff) else ""
    if "no respondents" in text:
        return "该分组没有受访者"
    if "df <= 0" in text:
        return "无法估计抽样误差（样本只来自一个抽样单位）"
    if "effective sample size" in text:
        return f"样本量过少{neff}"
    if "width" in text:
        return f"估计精度不足{neff}"
    return f"估计精度不足{neff}" if text else ""
