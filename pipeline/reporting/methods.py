"""The methods and data-quality sections, written from the run's own records.

Sample sizes come from the ingest report and estimates.csv, response rates and weighting steps from
weighting_diagnostics.csv, the variance and calibration methods from the metadata stored with
weights.parquet. Any record or metric that is absent is reported as "未提供" rather than guessed.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from pipeline.reporting import labels as L
from pipeline.reporting.inputs import ReportInputs

NA = L.NOT_PROVIDED
CITY = "全市"

STEP_LABELS = {
    "base": "基础权数（抽样设计权数）", "design": "基础权数（抽样设计权数）",
    "nonresponse": "无回答调整", "nr": "无回答调整",
    "calibration": "校准", "raking": "校准（耙式加权）",
    "trimming": "极端权数截尾", "trim": "极端权数截尾", "final": "最终权数",
}
STEP_ORDER = ("base", "design", "nonresponse", "nr", "calibration", "raking", "trimming", "trim", "final")
STEP_METRICS = (
    ("kish_deff", "Kish加权设计效应", "{:.2f}"), ("ess", "有效样本量", "{:,.0f}"),
    ("weight_min", "最小权数", "{:,.1f}"), ("weight_median", "权数中位数", "{:,.1f}"),
    ("weight_max", "最大权数", "{:,.1f}"),
)
RESPONSE_METRICS = (("rr1", "回答率RR1"), ("rr3", "回答率RR3"), ("coop1", "合作率COOP1"))
REPLICATE_METHODS = {
    "jk1": "刀切法（JK1）", "jkn": "分层刀切法（JKn）", "jk2": "成对刀切法（JK2）",
    "brr": "平衡重复复制法（BRR）", "fay": "Fay修正BRR法", "bootstrap": "Rao–Wu重抽样自助法",
    "rao-wu": "Rao–Wu重抽样自助法", "subbootstrap": "Rao–Wu重抽样自助法",
}
CI_METHODS = {
    "logit": "logit变换法", "korn-graubard": "Korn–Graubard（beta）法", "korn_graubard": "Korn–Graubard（beta）法",
    "beta": "Korn–Graubard（beta）法", "kg": "Korn–Graubard（beta）法", "t": "t分布法",
    "wald": "Wald法（估计值±t分位数×标准误，用于均值）",
    "wilson": "Wilson法", "clopper-pearson": "Clopper–Pearson法",
}
VARIABLE_LABELS = {"county_code": "县（市、区）", "county": "县（市、区）", "stratum": "层", "sex": "性别",
                   "age_band": "年龄段", "urban": "城乡", "education": "文化程度"}
# Codes of the ingest stage's checks; an unknown code is shown as it is.
CHECK_LABELS = {
    "age_out_of_range": "年龄不在18–69岁", "code_outside_codebook": "代码不在编码表内", "duplicate_id": "编号重复",
    "missing_id": "缺少问卷编号",
    "duplicate_identical": "完全重复的记录", "unknown_area": "地区代码无法识别", "invalid_design_value": "抽样设计变量无效",
    "short_interview": "访问时间过短", "straightlining": "连续作答同一选项", "too_many_missing": "缺答题目过多",
    "out_of_range": "取值超出规定范围或不是整数",
}
CALIBRATION_METHODS = {"raking": "耙式加权（迭代比例拟合）", "linear": "线性校准（GREG）",
                       "logit": "logit有界校准", "poststratify": "事后分层"}


@dataclass(frozen=True)
class Table:
    caption: str
    headers: tuple[str, ...]
    rows: tuple[tuple[str, ...], ...]
    note: str = ""


@dataclass(frozen=True)
class Section:
    title: str
    items: tuple[str | Table, ...] = field(default_factory=tuple)


def _metric(diag: pd.DataFrame | None, metric: str, step: str | None = None) -> float | None:
    """A city-wide value: the row at level 全市, else the row with neither variable nor level."""
    if diag is None:
        return None
    d = diag[diag["metric"] == metric]
    if step is not None:
        d = d[d["step"] == step]
    level = d["level"].astype(str)
    pick = d[level == CITY]
    if pick.empty:
        pick = d[d["level"].isna() & d["variable"].isna()]
    if pick.empty:
        pick = d[d["level"].isna()]
    vals = pick["value"].dropna()
    return float(vals.iloc[0]) if len(vals) else None


def _first(diag: pd.DataFrame | None, metric: str, steps: tuple[str, ...]) -> float | None:
    for step in steps:
        v = _metric(diag, metric, step)
        if v is not None:
            return v
    return _metric(diag, metric)


def _by_level(diag: pd.DataFrame | None, metric: str, level: str) -> float | None:
    if diag is None:
        return None
    d = diag[(diag["metric"] == metric) & (diag["level"].astype(str) == level)]["value"].dropna()
    return float(d.iloc[0]) if len(d) else None


def _fmt(v: float | None, pattern: str) -> str:
    return NA if v is None else pattern.format(v)


def sample_section(inputs: ReportInputs) -> Section:
    overall = inputs.cell(L.HEADLINE)
    n_scored = int(overall["n"]) if overall is not None else None
    ing = inputs.ingest or {}
    items: list[str | Table] = [
        "调查对象为泉州市18–69岁常住居民，采用分层多阶段概率抽样、入户面访，每户随机选取一名符合条件的居民。"
    ]
    items.append(
        f"原始数据读取记录 {L.fmt_int(ing['rows_read']) if 'rows_read' in ing else NA} 条，"
        f"通过核查 {L.fmt_int(ing['accepted']) if 'accepted' in ing else NA} 条，"
        f"隔离 {L.fmt_int(ing['quarantined']) if 'quarantined' in ing else NA} 条；"
        f"纳入估计的有效样本 {L.fmt_int(n_scored) if n_scored is not None else NA} 人。"
    )
    counties = inputs.cells(L.HEADLINE, "county")
    if not counties.empty:
        items.append(f"各县（市、区）样本量 {L.fmt_int(counties['n'].min())}–{L.fmt_int(counties['n'].max())} 人。")
    items.append(response_table(inputs))
    return Section("样本与回答情况", tuple(items))


def response_table(inputs: ReportInputs) -> Table:
    diag = inputs.diagnostics
    names = inputs.county_names
    metrics = [m for m, _ in RESPONSE_METRICS]
    levels = [CITY]
    if diag is not None:
        found = diag[diag["metric"].isin(metrics)]["level"].dropna().astype(str)
        levels += sorted(set(found) - {CITY}, key=lambda c: L.category_rank("county", names.get(c, c)))
    rows = []
    for lv in levels:
        vals = [_by_level(diag, m, lv) for m in metrics]
        rows.append((names.get(lv, lv), *(NA if v is None else L.fmt_pct(v) for v in vals)))
    note = ("回答率按美国民意研究协会（AAPOR）《标准定义》由抽样户的接触结果计算。" if diag is not None else
            "未提供加权诊断（weighting_diagnostics.csv 不存在），回答率未提供。")
    return Table("表M1 回答率", ("地区", *(label for _, label in RESPONSE_METRICS)), tuple(rows), note)


def _steps(diag: pd.DataFrame) -> list[str]:
    """Steps that carry a weight summary, in processing order."""
    summary = {m for m, _, _ in STEP_METRICS}
    names = list(diag.loc[diag["metric"].isin(summary), "step"].astype(str).unique())
    known = [s for s in STEP_ORDER if s in names]
    return known + sorted(s for s in names if s not in known)


def _margins_text(cal: dict) -> str:
    margins = cal.get("margins") or []
    parts = ["×".join(VARIABLE_LABELS.get(str(x), str(x)) for x in m) if isinstance(m, (list, tuple))
             else VARIABLE_LABELS.get(str(m), str(m)) for m in margins]
    return "；".join(parts) if parts else NA


def weighting_section(inputs: ReportInputs) -> Section:
    diag = inputs.diagnostics
    meta = inputs.weights_meta or {}
    cal = meta.get("calibration") or {}
    method = cal.get("method")
    items: list[str | Table] = [
        "权数依次经过基础权数（入样概率的倒数乘以户内合格成人数）、无回答调整、校准和极端权数截尾等步骤。"
        f"校准方法：{CALIBRATION_METHODS.get(str(method).lower(), str(method)) if method else NA}；"
        f"校准边际：{_margins_text(cal)}。"
    ]
    if diag is None:
        items.append("未提供加权诊断（weighting_diagnostics.csv 不存在）。")
        return Section("加权", tuple(items))
    rows = [(STEP_LABELS.get(step, step), *(_fmt(_metric(diag, m, step), pat) for m, _, pat in STEP_METRICS))
            for step in _steps(diag)]
    if rows:
        items.append(Table("表M2 各加权步骤的权数诊断（全市）", ("步骤", *(label for _, label, _ in STEP_METRICS)),
                           tuple(rows)))
    else:
        items.append(f"各加权步骤的权数诊断：{NA}。")
    facts = [
        f"基础权数之和与抽样框人口之比 {_fmt(_first(diag, 'base_weight_frame_ratio', ('base',)), '{:.4f}')}",
        f"校准迭代次数 {_fmt(_first(diag, 'iterations', ('final', 'calibration')), '{:.0f}')}",
        f"校准后最大边际相对误差 {_fmt(_first(diag, 'max_margin_error', ('final', 'calibration')), '{:.1e}')}",
        f"被截尾的权数 {_fmt(_first(diag, 'trimmed', ('trimming',)), '{:.0f}')} 个",
    ]
    items.append("；".join(facts) + "。")
    margin = diag[diag["metric"] == "margin"]
    if "final" in set(margin["step"]):
        margin = margin[margin["step"] == "final"]
    if margin.empty:
        items.append(f"校准边际达成情况：{NA}。")
    else:
        mrows = []
        for var, g in margin.groupby(margin["variable"].fillna("").astype(str), sort=True):
            rel = ((g["value"] - g["control"]).abs() / g["control"].abs()).replace(float("inf"), float("nan")).dropna()
            mrows.append((var or NA, L.fmt_int(len(g)), L.fmt_int(g["control"].sum()),
                          NA if rel.empty else f"{100 * rel.max():.4f}%"))
        items.append(Table("表M3 校准边际：加权总数与控制总数", ("校准边际", "类别数", "控制总数", "最大相对偏差"),
                           tuple(mrows)))
    return Section("加权", tuple(items))


def variance_section(inputs: ReportInputs) -> Section:
    meta = (inputs.weights_meta or {}).get("replicates") or {}
    items: list[str | Table] = []
    if inputs.variance_method == "replicate":
        method = meta.get("method")
        n_rep = meta.get("n_replicates") or (len(meta["rscales"]) if isinstance(meta.get("rscales"), list)
                                              else inputs.n_replicates)
        scale = meta.get("scale")
        mse = meta.get("mse")
        items.append(
            "标准误采用重复权数法估计，每套重复权数都重新经过全部加权步骤，因此方差反映了无回答调整和校准的影响。"
            f"重复方法：{REPLICATE_METHODS.get(str(meta.get('type') or method).lower(), str(method)) if method else NA}；"
            f"重复权数 {n_rep if n_rep else NA} 套；尺度系数 {f'{float(scale):.4g}' if scale is not None else NA}；"
            f"方差以{'对全样本估计值的离差（MSE形式）' if mse else '对重复估计均值的离差' if mse is not None else '（未提供）'}计算。"
        )
    else:
        items.append("标准误采用泰勒线性化法估计，线性化时使用校准残差，从而反映校准对方差的影响。")
    e = inputs.estimates
    methods = e["ci_method"].dropna().astype(str).value_counts().sort_index()
    if methods.empty:
        items.append(f"置信区间方法：{NA}。")
    else:
        parts = [f"{CI_METHODS.get(m.lower(), m)}（{n} 个估计）" for m, n in methods.items()]
        items.append("95%置信区间：比例默认采用logit变换法，比例较小或接近0、1时采用Korn–Graubard（beta）法；"
                     "自由度为含该分组成员的初级抽样单位数减去层数。本次使用：" + "、".join(parts) + "。")
    overall = inputs.cell(L.HEADLINE)
    if overall is not None and pd.notna(overall["df"]):
        items.append(f"全市估计的设计自由度为 {float(overall['df']):.0f}，设计效应为 "
                     f"{L.fmt_num(overall['deff'], overall['reliability'], 2)}。")
    return Section("方差估计与置信区间", tuple(items))


def reliability_section(inputs: ReportInputs) -> Section:
    e = inputs.estimates
    counts = {r: int((e["reliability"] == r).sum()) for r in L.RELIABILITY_VALUES}
    rules = Table(
        "表M4 发布标准（比例：NCHS 2017《比例数据发布标准》，按顺序判定）",
        ("对象", "条件", "处理"),
        (("比例", "有效样本量（样本量÷设计效应，设计效应小于1时按1计）小于30", "不予发布"),
         ("比例", "Korn–Graubard 95%置信区间绝对宽度不小于30个百分点", "不予发布"),
         ("比例", "绝对宽度大于5个百分点且相对宽度（宽度÷估计值）大于130%", "不予发布"),
         ("比例", "估计值为0或100%", "谨慎解读（须经统计审核）"),
         ("比例", "设计自由度小于8", "谨慎解读（须经统计审核）"),
         ("均值", "有效样本量小于30", "不予发布"),
         ("均值", "变异系数大于30%，或设计自由度小于8", "谨慎解读"),
         ("全部", "以上均不满足", "可靠，直接发布")),
        "自由度为含该分组成员的初级抽样单位数减去含该分组成员的层数；自由度为0时无法估计方差，不予发布。",
    )
    summary = (f"本报告共 {len(e)} 个估计：可靠 {counts[L.OK]} 个，谨慎解读 {counts[L.CAUTION]} 个，"
               f"不予发布 {counts[L.SUPPRESSED]} 个。不予发布的单元在所有图表中均以“{L.DASH}”或“{L.SUPPRESSED_NOTE}”表示，"
               "不给出任何数值；谨慎解读的单元在图中以斜线填充标记。")
    return Section("可靠性标记", (rules, summary))


def data_quality_section(inputs: ReportInputs) -> Section:
    ing = inputs.ingest
    if ing is None:
        return Section("数据质量", (f"未提供数据接收报告（ingest_report.json 不存在），被隔离记录的情况{NA}。",))
    items: list[str | Table] = []
    read, acc, quar = ing.get("rows_read"), ing.get("accepted"), ing.get("quarantined")
    # Only the file name: a full path would show the analyst's folders.
    source = Path(str(ing["source_file"])).name if ing.get("source_file") else NA
    items.append(f"数据文件 {source}（SHA-256 {ing.get('sha256', NA)}）。"
                 f"读取 {L.fmt_int(read) if read is not None else NA} 条记录，接收 "
                 f"{L.fmt_int(acc) if acc is not None else NA} 条，隔离 {L.fmt_int(quar) if quar is not None else NA} 条。")
    if None not in (read, acc, quar) and int(read) != int(acc) + int(quar):
        items.append(f"注意：读取数（{L.fmt_int(read)}）不等于接收数与隔离数之和（{L.fmt_int(int(acc) + int(quar))}），"
                     "数据接收报告不一致，请重新运行数据接收步骤。")
    by_reason = ing.get("quarantined_by_reason") or {}
    if by_reason:
        total = sum(int(v) for v in by_reason.values())
        rows = tuple((CHECK_LABELS.get(str(k), str(k)), str(k), L.fmt_int(v),
                      L.fmt_pct(int(v) / total) if total else L.DASH)
                     for k, v in sorted(by_reason.items(), key=lambda kv: (-int(kv[1]), kv[0])))
        items.append(Table("表Q1 被隔离记录的原因", ("原因", "代码", "记录数", "占隔离记录"), rows,
                           "被隔离的记录不进入分析；明细见 quarantine.csv。"))
    else:
        items.append("没有记录被隔离。" if quar == 0 else f"隔离原因{NA}。")
    warnings_ = ing.get("warnings_by_check") or {}
    if warnings_:
        rows = tuple((CHECK_LABELS.get(str(k), str(k)), str(k), L.fmt_int(v))
                     for k, v in sorted(warnings_.items(), key=lambda kv: (-int(kv[1]), kv[0])))
        items.append(Table("表Q2 数据核查提示（记录保留）", ("核查项目", "代码", "提示条数"), rows))
    return Section("数据质量", tuple(items))


def methods_sections(inputs: ReportInputs) -> list[Section]:
    return [sample_section(inputs), weighting_section(inputs), variance_section(inputs), reliability_section(inputs)]
