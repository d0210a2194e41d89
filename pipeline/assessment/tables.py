"""Chinese tables of the assessment, for the workbook (numbers stay numbers) and the HTML report.

Each builder returns a PublishedTable whose frame has Chinese headers and numeric values; `html_table`
formats the same frame for the report, so the two never disagree. Suppressed cells show the dash.
"""

from __future__ import annotations

import re

import numpy as np
import pandas as pd

from pipeline.assessment.projection import STATUS_ZH
from pipeline.publishing import labels as L
from pipeline.publishing.document import Table
from pipeline.publishing.workbook import PublishedTable
from pipeline.vocabulary import OVERALL_LABEL

PCT_HEADERS = {"估计值", "95%置信区间下限", "95%置信区间上限", "起始估计值", "结束估计值", "最近一次估计值", "外推值",
               "外推区间下限", "外推区间上限", "目标值", "已发布值", "泉州估计值", "排第一的概率", "进入前三的概率"}
PP_HEADERS = {"差值", "差值95%区间下限", "差值95%区间上限", "年变化（百分点）", "差距（估计值−目标）"}  # percentage points
SE_HEADERS = {"标准误", "外推标准误"}
P_HEADERS = {"p值", "单侧检验p值"}
# Header sets are written at 95%; a header at another level ("90%置信区间下限") is looked up as its 95% form.
_LEVEL = re.compile(r"\d+(?:\.\d+)?%(?=置信区间|区间)")


def _kind_of(header: str) -> str:
    return _LEVEL.sub("95%", header)


def _ci(level: float) -> tuple[str, str]:
    """The two interval headers at a confidence level: ("95%置信区间下限", "95%置信区间上限")."""
    ci = L.ci_pct(level)
    return f"{ci}置信区间下限", f"{ci}置信区间上限"
DTYPE_ZH = {"overall": OVERALL_LABEL, "county": "县（市、区）", "group": "重点人群"}
COMPARISON_ZH = {"consecutive": "相邻两次调查", "since_first_wave": "较本序列首次调查", "since_baseline": "较2020年基线"}


def order_domains(df: pd.DataFrame) -> pd.DataFrame:
    key = [(list(DTYPE_ZH).index(t) if t in DTYPE_ZH else 9, *L.category_rank(t, d))
           for t, d in zip(df["domain_type"], df["domain"], strict=True)]
    return df.assign(_k=key).sort_values("_k", kind="mergesort").drop(columns="_k")


def _mask(frame: pd.DataFrame, suppressed: np.ndarray, columns: list[str]) -> pd.DataFrame:
    frame = frame.astype({c: object for c in columns})
    frame.loc[suppressed, columns] = L.DASH
    return frame


def _pub(sheet: str, stem: str, frame: pd.DataFrame) -> PublishedTable:
    return PublishedTable(sheet, stem, frame.reset_index(drop=True), ("proportion",) * len(frame), "C2")


def trend_published(trend: pd.DataFrame, level: float = 0.95) -> PublishedTable:
    """`level`: the waves' ci.level, at which their lci/uci were made."""
    t = order_domains(trend.sort_values("wave", kind="mergesort"))
    lo, hi = _ci(level)
    f = pd.DataFrame({"范围": t["domain_type"].map(DTYPE_ZH), "名称": t["domain"], "年度": t["wave"],
                      "口径序列": t["series"], "评分规则": t["rule"], "样本量": t["n"], "估计值": t["est"],
                      "标准误": t["se"], lo: t["lci"], hi: t["uci"],
                      "可靠性": t["reliability"].map(L.RELIABILITY_LABELS)})
    f = _mask(f, (t["reliability"] == L.SUPPRESSED).to_numpy(), ["估计值", "标准误", lo, hi])
    return _pub("趋势", "trend", f)


def changes_published(changes: pd.DataFrame, level: float = 0.95) -> PublishedTable:
    """`level`: the assessment's own level for differences (assessment.yaml `level`)."""
    c = order_domains(changes)
    ci = L.ci_pct(level)
    f = pd.DataFrame({"比较": c["comparison"].map(COMPARISON_ZH), "起始年": c["wave_from"], "结束年": c["wave_to"],
                      "范围": c["domain_type"].map(DTYPE_ZH), "名称": c["domain"], "起始估计值": c["est_from"],
                      "结束估计值": c["est_to"], "差值": c["diff"], "标准误": c["se"], f"差值{ci}区间下限": c["lci"],
                      f"差值{ci}区间上限": c["uci"], "p值": c["p_value"],
                      "显著": c["significant"].map({True: "是", False: "否"}).fillna("—"),
                      "可比": c["comparable"].map({True: "可比", False: "不可比（口径不同）"}),
                      "说明": c["note"].fillna("")})
    return _pub("变化", "changes", f)


def projection_published(proj: pd.DataFrame) -> PublishedTable:
    p = order_domains(proj)
    f = pd.DataFrame({"范围": p["domain_type"].map(DTYPE_ZH), "名称": p["domain"], "所用调查": p["waves"],
                      "最近一次估计值": p["last_est"], "年变化（百分点）": p["annual_change"], "外推年份": p["projection_year"],
                      "外推值": p["projection"], "外推标准误": p["projection_se"], "外推区间下限": p["lower"],
                      "外推区间上限": p["upper"], "目标值": p["target"], "状态": p["status"].map(STATUS_ZH),
                      "说明": p["reason"].fillna("")})
    return _pub("中期研判", "projection", f)


def verdicts_published(v: pd.DataFrame, level: float = 0.95) -> PublishedTable:
    v = order_domains(v)
    lo, hi = _ci(level)
    f = pd.DataFrame({"范围": v["domain_type"].map(DTYPE_ZH), "名称": v["domain"], "年度": v["wave"], "样本量": v["n"],
                      "估计值": v["est"], lo: v["lci"], hi: v["uci"], "目标值": v["target"],
                      "差距（估计值−目标）": v["gap"], "单侧检验p值": v["p_value"], "结论": v["verdict_zh"],
                      "可靠性": v["reliability"].map(L.RELIABILITY_LABELS),
                      "说明": ["估计值不予发布：" + L.withheld_reason(r, n) if rel == L.SUPPRESSED else ""
                             for r, n, rel in zip(v["reason"], v["n_eff"], v["reliability"], strict=True)]})
    sup = (v["reliability"] == L.SUPPRESSED).to_numpy()
    f = _mask(f, sup, ["估计值", lo, hi, "差距（估计值−目标）", "单侧检验p值"])
    return _pub("终期结论", "verdicts", f)


def ranking_published(r: pd.DataFrame, interval: float) -> PublishedTable:
    basis = r["basis"] if "basis" in r else pd.Series("direct", index=r.index)
    f = pd.DataFrame({"排序（按估计值）": r["rank"], "县（市、区）": r["domain"], "估计值": r["est"],
                      "估计方法": basis.map({"direct": L.DIRECT_LABEL, "model": L.MODEL_LABEL}), "标准误": r["se"],
                      "名次中位数": r["median_rank"], f"{interval:.0%}名次区间": [f"{a}–{b}" for a, b in
                                                                          zip(r["rank_lo"], r["rank_hi"], strict=True)],
                      "排第一的概率": r["p_first"].round(3), "进入前三的概率": r["p_top3"].round(3)})
    return _pub("县区排名", "ranking", f)


def position_published(p: pd.DataFrame, level: float = 0.95) -> PublishedTable:
    lo, hi = _ci(level)
    f = pd.DataFrame({"比较对象": p["area_zh"], "发布年份": p["published_year"], "已发布值": p["published_est"],
                      "泉州调查年份": p["wave"], "泉州估计值": p["est"], lo: p["lci"],
                      hi: p["uci"], "差值": p["diff"], "泉州位置": p["position_zh"],
                      "来源": p["source"], "说明": p["note"].fillna("")})
    return _pub("与全国全省比较", "position", f)


def indicator_status_published(s: pd.DataFrame) -> PublishedTable:
    pct = (s["unit_zh"] == "%").to_numpy()

    def show(col: pd.Series) -> list:
        return [None if pd.isna(v) else (f"{100 * v:.1f}%" if p else float(v)) for v, p in zip(col, pct, strict=True)]

    f = pd.DataFrame({"指标名称": s["name_zh"], "单位": s["unit_zh"], "年度": s["year"],
                      "报送值": show(s["value"]), "累计值": show(s["running_total"]), "应达值": show(s["expected"]),
                      "状态": s["status"], "说明": s["note"].fillna("")})
    return PublishedTable("指标完成情况", "indicator_status", f, ("",) * len(f), "C2")


def indicator_issues_published(i: pd.DataFrame, names: dict[str, str] | None = None) -> PublishedTable:
    """The validator's findings for the people who submitted: files by order of receipt, indicators by name."""
    f = pd.DataFrame({"年度": i["year"], "报送序号": _file_numbers(i), "工作表": i["sheet"].fillna(""),
                      "单元格": i["cell"], "填报内容": i["value"].fillna(""),
                      "级别": i["severity"].map({"error": "错误（未采用）", "warning": "提示（已采用）"}),
                      "说明": [_public_message(_without_file(m, f), names or {})
                             for m, f in zip(i["message"], i["file"], strict=True)]})
    return PublishedTable("报送问题", "indicator_issues", f, ("",) * len(f), "A2")


def _without_file(message: str, file: str) -> str:
    """The validator's message names the file for the analyst; the published table names the submission."""
    for sep in ("，", "："):
        message = message.replace(f"{file}{sep}", "")
    return message.replace(str(file), "该报送文件")


SPEC_FILE = re.compile(r"[\w\-/.]*targets\.yaml")
OTHER_FILE = re.compile(r"[\w\-/.]+\.(?:xlsx|xls|csv)")
SNAKE = re.compile(r"(?<![A-Za-z0-9_])[A-Za-z][A-Za-z0-9]*(?:_[A-Za-z0-9]+)+(?![A-Za-z0-9_])")


def _public_message(message: str, names: dict[str, str]) -> str:
    """Indicator ids become their names; a file of the project becomes what it is."""
    message = SPEC_FILE.sub("规划指标清单", message)
    message = OTHER_FILE.sub("另一份报送文件", message)
    for k in sorted(names, key=len, reverse=True):
        message = re.sub(rf"(?<![A-Za-z0-9_]){re.escape(k)}(?![A-Za-z0-9_])", names[k], message)
    return SNAKE.sub("（无法识别的指标编号）", message)


def _file_numbers(i: pd.DataFrame) -> list[str]:
    """Submissions named by year and order of receipt (报送1, 报送2 …), never by file name."""
    out, seen = [], {}
    for y, f in zip(i["year"], i["file"], strict=True):
        key = (y, f)
        if key not in seen:
            seen[key] = sum(1 for k in seen if k[0] == y) + 1
        out.append(f"{y}年报送{seen[key]}")
    return out


def html_table(t: PublishedTable, caption: str, note: str = "", rows: pd.Series | None = None) -> Table:
    frame = t.frame if rows is None else t.frame[rows.to_numpy()]

    def cell(header: str, v) -> str:
        if isinstance(v, str):
            return v
        if v is None or (isinstance(v, float) and not np.isfinite(v)):
            return L.DASH
        kind = _kind_of(header)
        if kind in PP_HEADERS:  # the unit is in the column header, so cells stay short numbers
            return f"{100 * float(v):+.1f}"
        if kind in SE_HEADERS:
            return f"{100 * float(v):.2f}"
        if kind in PCT_HEADERS:
            return f"{100 * float(v):.1f}%"
        if kind in P_HEADERS:
            return L.fmt_p(v)
        if isinstance(v, (float, np.floating)):
            return f"{v:g}" if float(v).is_integer() else f"{v:,.2f}"
        return str(v)

    body = tuple(tuple(cell(h, v) for h, v in zip(frame.columns, row, strict=True))
                 for row in frame.itertuples(index=False))
    headers = tuple(h if _kind_of(h) not in PP_HEADERS | SE_HEADERS or "百分点" in h else f"{h}（百分点）"
                    for h in frame.columns)
    return Table(caption, headers, body, note)
