"""The methods and data-quality sections, written from the run's own records.

Sample sizes come from the ingest report and estimates.csv, response rates and weighting steps from
weighting_diagnostics.csv, the variance and calibration methods from the metadata stored with
weights.parquet. Any record or metric that is absent is reported as "未提供" rather than guessed.
"""

from __future__ import annotations

import pandas as pd

from pipeline.publishing import labels as L
from pipeline.publishing.document import Section, Table
from pipeline.reporting.delivery import delivery_quality_items, delivery_section
from pipeline.reporting.inputs import ReportInputs
from pipeline.vocabulary import (
    CALIBRATION_METHOD_LABELS,
    CI_METHOD_LABELS,
    OVERALL_LABEL,
    REPLICATE_METHOD_LABELS,
    check_label,
)

NA = L.NOT_PROVIDED
CITY = OVERALL_LABEL

STEP_LABELS = {
    "base": "基础权数（抽样设计权数）", "design": "基础权数（抽样设计权数）",
    "nonresponse": "无回答调整", "nr": "无回答调整",
    "calibration": "校准", "raking": "校准（耙式加权）",
    "trimming": "极端权数截尾", "trim": "极端权数截尾", "final": "最终权数",
}
# The weighting steps of the design record (its `steps`) in the words of the methods section; the slot each
# fills names its rows in weighting_diagnostics.csv.
STEP_WORDS = {
    "base": "基础权数（入样概率的倒数乘以户内合格成人数）",
    "nonresponse": "无回答调整（按联系记录表划分的加权组）",
    "nonresponse_counts": "无回答调整（按各组的完成数与合格数）",
    "calibration": "校准",
    "trimming": "极端权数截尾（截尾后重新校准）",
}
DELIVERED_WORDS = {"design_weight": "调查公司交付的设计权数", "final_weight": "调查公司交付的最终权数"}
STEP_ORDER = ("base", "design", "nonresponse", "nr", "calibration", "raking", "trimming", "trim", "final")
STEP_METRICS = (
    ("kish_deff", "加权设计效应（Kish）", "{:.2f}"),
    ("weight_min", "最小权数", "{:,.1f}"), ("weight_median", "权数中位数", "{:,.1f}"),
    ("weight_max", "最大权数", "{:,.1f}"),
)
RESPONSE_METRICS = (("rr1", "回答率RR1"), ("rr3", "回答率RR3"), ("coop1", "合作率COOP1"))
VARIABLE_LABELS = {"county_code": "县（市、区）", "county": "县（市、区）", "stratum": "层", "sex": "性别",
                   "age_band": "年龄段", "urban": "城乡", "education": "文化程度"}

def _metric(diag: pd.DataFrame | None, metric: str, step: str | None = None) -> float | None:
    """A city-wide value: the row at the overall level, else the row with neither variable nor level."""
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


EFFECTIVE_N = ("有效样本量：样本量除以该估计的设计效应（设计效应小于1时按1计），即与该估计精度相同的简单随机样本"
               "人数；设计效应同时反映分层、整群抽样和加权的影响。本报告中“有效样本量”只指这一定义。")


def _dates(ing: dict) -> str:
    d = ing.get("interview_dates")
    if not d or len(d) != 2:
        return NA
    (y0, m0, d0), (y1, m1, d1) = (str(x).split("-") for x in d)
    return f"{int(y0)}年{int(m0)}月{int(d0)}日至{int(y1)}年{int(m1)}月{int(d1)}日"


def sample_section(inputs: ReportInputs) -> Section:
    overall = inputs.cell(L.HEADLINE)
    n_scored = int(overall["n"]) if overall is not None else None
    ing = inputs.ingest or {}
    items: list[str | Table] = [
        "调查对象为泉州市18–69岁常住居民，采用分层多阶段概率抽样、入户面访，每户随机选取一名符合条件的居民。"
        f"入户访问时间：{_dates(ing)}。"
    ]
    acc = ing.get("accepted")
    items.append(
        f"原始数据读取记录 {L.fmt_int(ing['rows_read']) if 'rows_read' in ing else NA} 条，"
        f"通过核查 {L.fmt_int(acc) if acc is not None else NA} 条，"
        f"隔离 {L.fmt_int(ing['quarantined']) if 'quarantined' in ing else NA} 条；"
        f"完成测试并计分、纳入比例估计的受访者 {L.fmt_int(n_scored) if n_scored is not None else NA} 人。"
    )
    if acc is not None and n_scored is not None and int(acc) > n_scored:
        limit = (inputs.scoring or {}).get("max_missing_items")
        why = f"拒答或跳过的题目超过{int(limit)}道" if limit is not None else "拒答或跳过的题目过多"
        items.append(
            f"另有 {L.fmt_int(int(acc) - n_scored)} 名受访者{why}，测试无法计分（不按0分计）。他们参与加权，"
            "但不进入具备科学素质比例和得分的计算：比例是已计分受访者的加权比例，即假定未计分者与已计分者"
            "具备科学素质的比例相同；其权数不再另行调整。"
        )
    counties = inputs.cells(L.HEADLINE, "county")
    if not counties.empty:
        items.append(f"各县（市、区）样本量 {L.fmt_int(counties['n'].min())}–{L.fmt_int(counties['n'].max())} 人。")
    items.append(response_table(inputs))
    return Section("样本与回答情况", tuple(items))


DIMENSION_ORDER = ("knowledge", "methods", "spirit", "ability")


def test_section(inputs: ReportInputs) -> Section:
    """The structure of the test and the literate definition, from the wave's questionnaire and scoring rule."""
    names = {est_id.removeprefix("score_"): name for est_id, name, _ in inputs.dimensions}
    parts = sorted(inputs.test_parts, key=lambda p: DIMENSION_ORDER.index(p[0]) if p[0] in DIMENSION_ORDER else 9)
    items: list[str | Table] = []
    if parts:
        total_items = sum(p[1] for p in parts)
        total_points = sum(p[2] for p in parts)
        text = "、".join(f"{names.get(d, d)}{n}题{pts:g}分" for d, n, pts in parts)
        items.append(f"测试共{total_items}题，满分{total_points:g}分，分为四个部分：{text}。题型为判断题、单选题和多选题；"
                     "回答“不知道”按答错计分。")
    else:
        items.append(f"测试结构：{NA}。")
    sc = inputs.scoring or {}
    cutoff = (sc.get("params") or {}).get("cutoff")
    if sc.get("rule") == "threshold_total" and cutoff is not None:
        items.append(f"具备科学素质：总分 ≥ {float(cutoff):g}分。科学素质水平按总分分为四级：高阶（≥ 85分）、"
                     "具备（70–84分）、基本具备（55–69分）和较低（< 55分）。")
    elif sc.get("rule") == "all_dimensions":
        items.append("具备科学素质：科学知识、科学方法、科学与社会三个部分均达到及格线。")
    else:
        items.append(f"具备科学素质的判定规则：{NA}。")
    return Section("测试与指标定义", tuple(items))


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
            "未提供加权诊断，回答率未提供。")
    return Table("回答率", ("地区", *(label for _, label in RESPONSE_METRICS)), tuple(rows), note)


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



def _relative_error(v: float) -> str:
    """A relative error in words a reader can take in ("小于百万分之一"), never in e-notation."""
    v = abs(float(v))
    if v < 1e-6:
        return "小于百万分之一"
    return f"{100 * v:.4f}%"


def _controls(inputs: ReportInputs) -> dict:
    return ((inputs.design_spec or {}).get("weighting") or {}).get("controls") or {}


def _control_label(inputs: ReportInputs, name: str) -> str:
    c = _controls(inputs).get(name) or {}
    by = c.get("by")
    if by:
        return "×".join(VARIABLE_LABELS.get(str(x), "其他变量") for x in by)
    return NA


def controls_text(inputs: ReportInputs) -> str:
    sources = [str(c.get("source_zh")) for c in _controls(inputs).values() if isinstance(c, dict) and c.get("source_zh")]
    if not sources:
        return f"控制总数来源：{NA}。"
    return "控制总数来源：" + "；".join(sources) + "。"


def _weight_steps(meta: dict) -> list[str]:
    """The steps of the design record that changed the weight, in order (forming the replicates does not)."""
    slots = meta.get("slots") or {}
    return [s for s in meta.get("steps") or () if slots.get(s, "replicates") != "replicates"]


def steps_text(meta: dict) -> str:
    """The weighting steps actually run (the design record's `steps`), in order, from the weight they start
    from: a final-weight delivery has neither base weights from the probabilities nor a non-response step."""
    steps = _weight_steps(meta)
    if not steps:
        return f"加权步骤：{NA}。"
    mode = (meta.get("delivery") or {}).get("mode")
    words = [DELIVERED_WORDS.get(mode, "交付的权数") if s == "delivered_weight" else STEP_WORDS[s] for s in steps]
    if len(words) == 1:
        return f"权数为{words[0]}，未再调整。"
    return f"权数以{words[0]}为起点，依次经过{_and(words[1:])}。"


def _and(words: list[str]) -> str:
    """甲、乙和丙."""
    return words[0] if len(words) == 1 else "、".join(words[:-1]) + "和" + words[-1]


# the steps a replicate goes through again, in the variance text's words
REDONE_WORDS = {"nonresponse": "无回答调整", "calibration": "校准", "trimming": "截尾"}


def replicated_steps_text(record: dict) -> str:
    """Which weighting steps every replicate repeats (those after the replicates are formed), so which the
    variance reflects; a count-table non-response factor is the same in every replicate and is said so."""
    steps = list(record.get("steps") or ())
    if "replicates" not in steps:
        return "每套重复权数都重新经过全部加权步骤，因此方差反映了加权各步骤的影响。"
    after = steps[steps.index("replicates") + 1:]
    redone = [REDONE_WORDS[s] for s in after if s in REDONE_WORDS]
    text = (f"每套重复权数都重新经过{_and(redone)}，因此方差反映了{_and(redone)}的影响。" if redone else
            "重复权数只改变各初级抽样单位的权数，此后没有再调整的加权步骤。")
    if "nonresponse_counts" in after:
        text += "按各组完成数与合格数计算的无回答调整系数在各套重复权数中相同，其不确定性未反映在方差中。"
    return text


def weighting_section(inputs: ReportInputs) -> Section:
    diag = inputs.diagnostics
    meta = inputs.weights_meta or {}
    cal = meta.get("calibration") or {}
    method = cal.get("method")
    items: list[str | Table] = [
        steps_text(meta) +
        f"校准方法：{CALIBRATION_METHOD_LABELS.get(str(method).lower(), str(method)) if method else NA}；"
        f"校准边际：{_margins_text(cal)}。" + controls_text(inputs)
    ]
    if diag is None:
        items.append("未提供加权诊断。")
        return Section("加权", tuple(items))
    delivered = "delivered_weight" in (meta.get("steps") or ())
    base_word = DELIVERED_WORDS.get((meta.get("delivery") or {}).get("mode"), "交付的权数") if delivered else "基础权数"
    labels = {**STEP_LABELS, "base": base_word} if delivered else STEP_LABELS
    rows = [(labels.get(step, step), *(_fmt(_metric(diag, m, step), pat) for m, _, pat in STEP_METRICS))
            for step in _steps(diag)]
    if rows:
        items.append(Table(f"各加权步骤的权数诊断（{OVERALL_LABEL}）", ("步骤", *(label for _, label, _ in STEP_METRICS)),
                           tuple(rows)))
    else:
        items.append(f"各加权步骤的权数诊断：{NA}。")
    first_iter = _metric(diag, "iterations", "calibration")
    final_iter = cal.get("iterations") if cal.get("iterations") is not None else _metric(diag, "iterations", "final")
    errors = [v for v in (cal.get("max_margin_error"), *diag.loc[(diag["metric"] == "max_margin_error")
                                                               & (diag["step"] == "final"), "value"].tolist())
              if v is not None and pd.notna(v)]
    trimmed = _first(diag, "trimmed", ("trimming",))
    facts = [
        f"{base_word}之和与抽样框人口之比 {_fmt(_first(diag, 'base_weight_frame_ratio', ('base',)), '{:.4f}')}",
        f"校准迭代 {_fmt(first_iter, '{:.0f}')} 次" + (f"，截尾后重新校准迭代 {float(final_iter):.0f} 次"
                                                       if final_iter is not None and first_iter is not None
                                                       and float(final_iter) != float(first_iter) else ""),
        "最终权数（含全部重复权数）与控制总数的最大相对偏差" + (_relative_error(max(errors)) if errors else NA),
    ]
    facts.append(f"被截尾的权数 {_fmt(trimmed, '{:.0f}')} 个")
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
            mrows.append((_control_label(inputs, var), L.fmt_int(len(g)), L.fmt_int(g["control"].sum()),
                          NA if rel.empty else _relative_error(rel.max())))
        items.append(Table("校准边际：加权总数与控制总数（全样本最终权数）",
                           ("校准边际", "类别数", "控制总数", "最大相对偏差"), tuple(mrows)))
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
            "标准误采用重复权数法估计，" + replicated_steps_text(inputs.weights_meta or {}) +
            f"重复方法：{REPLICATE_METHOD_LABELS.get(str(meta.get('type') or method).lower(), str(method)) if method else NA}；"
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
        parts = [f"{CI_METHOD_LABELS.get(m.lower(), m)}（{n} 个估计）" for m, n in methods.items()]
        items.append(f"{inputs.ci}置信区间：比例默认采用logit变换法，比例较小或接近0、1时采用Korn–Graubard（beta）法；"
                     "自由度为含该分组成员的初级抽样单位数减去含该分组成员的层数，重复权数法与泰勒线性化法相同（不取重复权数矩阵的秩，"
                     "故不依赖数值容差）。本次使用：" + "、".join(parts) + "。")
    overall = inputs.cell(L.HEADLINE)
    if overall is not None and pd.notna(overall["df"]):
        items.append(f"{OVERALL_LABEL}估计的设计自由度为 {float(overall['df']):.0f}，设计效应为 "
                     f"{L.fmt_num(overall['deff'], overall['reliability'], 2)}。")
    return Section("方差估计与置信区间", tuple(items))


def reliability_section(inputs: ReportInputs) -> Section:
    e = inputs.estimates
    counts = {r: int((e["reliability"] == r).sum()) for r in L.RELIABILITY_VALUES}
    rules = Table(
        "发布标准（比例：NCHS 2017《比例数据发布标准》，按顺序判定）",
        ("对象", "条件", "处理"),
        (("比例", "有效样本量（样本量÷设计效应，设计效应小于1时按1计）小于30", "不予发布"),
         ("比例", "Korn–Graubard 95%置信区间（NCHS 标准规定的水平，与本报告的置信水平无关）绝对宽度不小于30个百分点", "不予发布"),
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
    return Section("可靠性标记", (EFFECTIVE_N, rules, summary))


def data_quality_section(inputs: ReportInputs) -> Section:
    ing = inputs.ingest
    if ing is None:
        return Section("数据质量", (f"未提供数据接收报告，被隔离记录的情况{NA}。", *delivery_quality_items(inputs)))
    items: list[str | Table] = []
    read, acc, quar = ing.get("rows_read"), ing.get("accepted"), ing.get("quarantined")
    items.append(f"调查公司交付的数据文件（SHA-256校验值 {ing.get('sha256', NA)}）："
                 f"读取 {L.fmt_int(read) if read is not None else NA} 条记录，接收 "
                 f"{L.fmt_int(acc) if acc is not None else NA} 条，隔离 {L.fmt_int(quar) if quar is not None else NA} 条。")
    if None not in (read, acc, quar) and int(read) != int(acc) + int(quar):
        items.append(f"注意：读取数（{L.fmt_int(read)}）不等于接收数与隔离数之和（{L.fmt_int(int(acc) + int(quar))}），"
                     "数据接收报告不一致，请重新运行数据接收步骤。")
    by_reason = ing.get("quarantined_by_reason") or {}
    if by_reason:
        total = sum(int(v) for v in by_reason.values())
        rows = tuple((check_label(k), L.fmt_int(v),
                      L.fmt_pct(int(v) / total) if total else L.DASH)
                     for k, v in sorted(by_reason.items(), key=lambda kv: (-int(kv[1]), kv[0])))
        items.append(Table("被隔离记录的原因", ("原因", "记录数", "占隔离记录"), rows,
                           "被隔离的记录不进入分析，逐条明细随原始数据存档。"))
    else:
        items.append("没有记录被隔离。" if quar == 0 else f"隔离原因{NA}。")
    warnings_ = ing.get("warnings_by_check") or {}
    if warnings_:
        rows = tuple((check_label(k), L.fmt_int(v))
                     for k, v in sorted(warnings_.items(), key=lambda kv: (-int(kv[1]), kv[0])))
        items.append(Table("数据核查提示（记录保留）", ("核查项目", "提示条数"), rows))
    items += delivery_quality_items(inputs)
    return Section("数据质量", tuple(items))


def sae_section(inputs: ReportInputs) -> Section | None:
    """The county model: what it is, its covariates, its fit, and how its interval is made."""
    sae = inputs.sae
    if sae is None or sae.empty:
        return None
    cfg = inputs.sae_spec or {}
    covs = [c for c in cfg.get("covariates", ["urban_share"])]
    cov_zh = "、".join(COVARIATE_LABELS.get(c, "其他县级辅助变量") for c in covs)
    method = str(sae["method"].iloc[0])
    r = sae.iloc[0]
    betas = "，".join(f"{COVARIATE_LABELS.get(c, c)}系数 {float(r[f'beta_{c}']):.3f}" for c in covs
                     if f"beta_{c}" in sae.columns)
    n_syn = int((sae["model_kind"] == "synthetic").sum())
    items: list[str | Table] = [
        "县（市、区）的模型估计采用面积层次Fay–Herriot模型（Fay & Herriot 1979；Rao & Molina 2015，第6章）："
        "各县直接估计 = 县级辅助变量的线性组合 + 县随机效应 + 抽样误差，"
        + ("抽样误差方差由广义方差函数平滑得到：合并设计效应 × 模型回归值 ×（1 − 模型回归值）÷ 县样本量，"
           "合并设计效应取各县设计方差的合并值（各县的设计方差只有少数初级抽样单元支撑，单独使用时波动很大）。"
           if "variances" in sae.columns and str(sae["variances"].iloc[0]) == "smoothed"
           else "抽样误差方差取各县直接估计的设计方差。")
        + f"模型的县级辅助变量：{cov_zh}（由本次调查的最终权数计算）。县随机效应方差按{SAE_METHODS.get(method, method)}估计，"
        f"为 {float(r['sigma2_u']):.5f}（截距 {float(r['beta_intercept']):.3f}，{betas}）。",
        "模型估计（经验最佳线性无偏预测，EBLUP）是直接估计与模型回归值的加权平均，直接估计越精确、权重越大；"
        "其精度用均方误差（Prasad–Rao / Datta–Lahiri 二阶近似，含随机效应方差估计的不确定性）衡量，"
        f"{inputs.ci}区间为模型估计 ± {L.z_of(inputs.ci_level)} × 均方误差的平方根。模型估计依赖模型假定，与直接估计分列并注明“模型估计”。",
    ]
    if n_syn:
        items.append(f"{n_syn}个县（市、区）没有可用的直接估计，给出回归合成估计，其均方误差包含县随机效应方差。")
    factor = float(sae["benchmark_factor"].iloc[0]) if "benchmark_factor" in sae.columns else 1.0
    if cfg.get("benchmark", "none") == "overall":
        items.append(f"模型估计经比例基准化：各县模型估计按人口加权之和等于{OVERALL_LABEL}直接估计（调整系数 {factor:.4f}）；"
                     "区间沿用基准化前的均方误差。")
    return Section("县（市、区）模型估计", tuple(items))


COVARIATE_LABELS = {"urban_share": "县内城镇人口比例", "upper_secondary_share": "县内高中/中专及以上文化程度人口比例"}
SAE_METHODS = {"REML": "限制极大似然法（REML）", "ML": "极大似然法（ML）", "PR": "Prasad–Rao矩估计法",
               "YL": "调整限制极大似然法（Yoshimori–Lahiri 2014，估计值恒为正）",
               "LL": "调整限制极大似然法（Li–Lahiri 2010，估计值恒为正）"}


def methods_sections(inputs: ReportInputs) -> list[Section]:
    sections = [delivery_section(inputs), sample_section(inputs), test_section(inputs), weighting_section(inputs),
                variance_section(inputs), reliability_section(inputs), sae_section(inputs)]
    return [s for s in sections if s is not None]
