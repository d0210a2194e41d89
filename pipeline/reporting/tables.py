"""Published tables: the same tables as an Excel workbook (Chinese sheets) and as UTF-8-with-BOM CSVs.

A table is built once as a DataFrame of display values, with the statistic of each row kept aside so
the workbook can format proportions as 0.0% and means as 0.0. Suppressed cells are replaced by the
dash before anything is written, together with every column from which the estimate could be
recovered (se, CI, CV, design effect, effective n, gap, p-value).
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pandas as pd

from pipeline.publishing import labels as L
from pipeline.publishing import workbook as W
from pipeline.publishing.workbook import PublishedTable
from pipeline.reporting.inputs import ReportInputs
from pipeline.tableio import write_table
from pipeline.vocabulary import OVERALL_LABEL, VARIANCE_METHOD_LABELS, counties

# Columns a reader could use to recover a suppressed estimate.
MASKED = ("n_eff", "est", "se", "lci", "uci", "cv", "deff", "gap", "p_value")
CELL_COLUMNS = {
    "n": "样本量", "n_eff": "有效样本量", "est": "估计值", "se": "标准误", "lci": "95%置信区间下限",
    "uci": "95%置信区间上限", "df": "自由度", "cv": "变异系数", "deff": "设计效应",
    "reliability": "可靠性", "reason": "可靠性说明",
}
CSV_DIGITS = {"est": 6, "se": 6, "lci": 6, "uci": 6, "cv": 4, "deff": 3, "n_eff": 1, "df": 1, "gap": 6,
              "p_value": 4, "target": 4}


def _mask_and_round(rows: pd.DataFrame) -> pd.DataFrame:
    rows = rows.copy()
    out = {}
    suppressed = (rows["reliability"] == L.SUPPRESSED).to_numpy()
    for col in rows.columns:
        vals = rows[col].tolist()
        if col in CSV_DIGITS:
            vals = [None if pd.isna(v) else round(float(v), CSV_DIGITS[col]) for v in vals]
        if col in MASKED:
            vals = [L.DASH if s else v for v, s in zip(vals, suppressed, strict=True)]
        out[col] = pd.Series(vals, dtype=object)
    return pd.DataFrame(out)


def _cell_table(rows: pd.DataFrame, lead: dict[str, list]) -> pd.DataFrame:
    masked = _mask_and_round(rows)
    frame = pd.DataFrame({k: pd.Series(v, dtype=object) for k, v in lead.items()})
    for col, head in CELL_COLUMNS.items():
        if col == "reliability":
            frame[head] = [L.RELIABILITY_LABELS[r] for r in rows["reliability"]]
        elif col == "reason":
            frame[head] = [L.reason_zh(r) for r in rows["reason"]]
        elif col == "n":
            frame[head] = [int(v) for v in rows["n"]]
        else:
            frame[head] = masked[col].tolist()
    return frame


def _published(sheet: str, stem: str, rows: pd.DataFrame, lead: dict[str, list], frozen: str = "B2") -> PublishedTable:
    return PublishedTable(sheet, stem, _cell_table(rows, lead), tuple(rows["display"]), frozen)


def _concat(inputs: ReportInputs, frames: list[pd.DataFrame]) -> pd.DataFrame:
    """Stack cell rows; with none, an empty frame that still has every column of estimates.csv."""
    frames = [f for f in frames if not f.empty]
    return pd.concat(frames, ignore_index=True) if frames else inputs.estimates.iloc[0:0].reset_index(drop=True)


def overall_table(inputs: ReportInputs) -> PublishedTable:
    ids = [L.HEADLINE, *L.CLASS_ESTIMANDS, L.SCORE_TOTAL, *(d[0] for d in inputs.dimensions)]
    rows = _concat(inputs, [inputs.cells(i, "overall") for i in ids])
    return _published(OVERALL_LABEL, "overall", rows,
                      {"指标": [L.estimand_label(i, inputs.benchmark_titles, inputs.dimensions)
                               for i in rows["estimand_id"]]})


def county_table(inputs: ReportInputs) -> PublishedTable:
    rows = inputs.cells(L.HEADLINE, "county")
    return _published("县区", "county", rows, {"县（市、区）": rows["domain"].tolist()})


def group_table(inputs: ReportInputs) -> PublishedTable:
    rows = inputs.cells(L.HEADLINE, "group")
    return _published("人群", "group", rows, {"重点人群": rows["domain"].tolist()})


def subgroup_table(inputs: ReportInputs) -> PublishedTable:
    rows = _concat(inputs, [inputs.cells(L.HEADLINE, t) for t in L.SUBGROUP_TYPES])
    lead = {"分组类型": [L.DOMAIN_TYPE_LABELS[t] for t in rows["domain_type"]],
            "分组": rows["domain"].tolist()}
    return _published("分组", "subgroups", rows, lead, frozen="C2")


def score_table(inputs: ReportInputs) -> PublishedTable:
    ids = [L.SCORE_TOTAL, *(d[0] for d in inputs.dimensions)]
    dtypes = ("overall", "county", *L.SUBGROUP_TYPES, "group")
    rows = _concat(inputs, [inputs.cells(i, t) for t in dtypes for i in ids])
    lead = {"分组类型": [L.DOMAIN_TYPE_LABELS[t] for t in rows["domain_type"]],
            "分组": rows["domain"].tolist(),
            "指标": [L.estimand_label(i, dimensions=inputs.dimensions) for i in rows["estimand_id"]]}
    return _published("维度得分", "scores", rows, lead, frozen="D2")


def benchmark_table(inputs: ReportInputs) -> PublishedTable:
    ids = inputs.benchmark_ids()
    rows = _concat(inputs, [inputs.cells(i, "overall") for i in ids])
    est_ids = rows["estimand_id"].tolist()
    lead = {"基准编号": [L.benchmark_number(i) for i in est_ids],
            "基准": [inputs.benchmark_titles.get(i, L.benchmark_fallback(i)) for i in est_ids],
            "所属部分": [_dimension_name(inputs, inputs.benchmark_groups.get(i, "")) for i in est_ids]}
    return _published("基准", "benchmarks", rows, lead, frozen="C2")


def _dimension_name(inputs: ReportInputs, dim_id: str) -> str:
    names = {est_id.removeprefix("score_"): name for est_id, name, _ in inputs.dimensions}
    return names.get(dim_id, "")


def model_table(inputs: ReportInputs) -> PublishedTable | None:
    """The county model estimates beside the direct ones (sae.csv); a withheld direct estimate stays a dash."""
    sae = inputs.sae
    if sae is None or sae.empty:
        return None
    direct = inputs.cells(L.HEADLINE, "county").set_index("domain")
    order = sorted(sae["area"], key=lambda d: L.category_rank("county", d))
    m = sae.set_index("area").loc[order]
    rel = [direct["reliability"].get(a, L.SUPPRESSED) for a in order]
    frame = pd.DataFrame({
        "县（市、区）": order,
        "样本量": [int(v) for v in m["n"]],
        "直接估计": [L.DASH if r == L.SUPPRESSED else round(float(v), 6) for v, r in zip(m["direct_est"], rel, strict=True)],
        "可靠性": [L.RELIABILITY_LABELS[r] for r in rel],
        "模型估计": [round(float(v), 6) for v in m["model_est"]],
        "模型估计标准误": [round(100 * float(v) ** 0.5, 4) for v in m["model_mse"]],
        "模型估计95%区间下限": [round(float(v), 6) for v in m["model_lci"]],
        "模型估计95%区间上限": [round(float(v), 6) for v in m["model_uci"]],
        "直接估计的权重": [round(float(v), 4) for v in m["shrinkage"]],
        "县内城镇人口比例": [round(float(v), 4) for v in m["urban_share"]] if "urban_share" in m else None,
    })
    return PublishedTable("模型估计", "model", frame, ("proportion",) * len(frame), "B2")


def target_table(inputs: ReportInputs) -> PublishedTable:
    t = inputs.targets
    keys = [(L.DOMAIN_TYPES.index(dt) if dt in L.DOMAIN_TYPES else 99, *L.category_rank(dt, d))
            for dt, d in zip(t["domain_type"], t["domain"], strict=True)]
    t = t.iloc[sorted(range(len(t)), key=lambda i: keys[i])].reset_index(drop=True)
    m = _mask_and_round(t)
    frame = pd.DataFrame({
        "分组类型": [L.DOMAIN_TYPE_LABELS.get(x, x) for x in t["domain_type"]],
        "分组": t["domain"].tolist(),
        "样本量": [int(v) for v in t["n"]],
        "估计值": m["est"].tolist(),
        "标准误": m["se"].tolist(),
        "95%置信区间下限": m["lci"].tolist(),
        "95%置信区间上限": m["uci"].tolist(),
        "自由度": m["df"].tolist(),
        "目标值": m["target"].tolist(),
        "差距（估计值−目标）": m["gap"].tolist(),
        "单侧检验p值": m["p_value"].tolist(),
        "判定": [L.verdict_label(v, p) for v, p in zip(t["verdict"], t["publish"], strict=True)],
        "可靠性": [L.RELIABILITY_LABELS[r] for r in t["reliability"]],
        "可靠性说明": [L.reason_zh(r) for r in t["reason"]],
    })
    return PublishedTable("目标判定", "targets", frame, ("proportion",) * len(t), "C2")


COLUMN_NOTES = {
    "指标": "估计的指标：比例为加权比例（工作表中以百分数显示，CSV文件中为0–1的小数），得分为加权平均分",
    "分组类型": f"估计所针对的人群划分：{OVERALL_LABEL}、县（市、区）、性别、年龄段、文化程度、城乡或重点人群",
    "分组": "分组类型下的具体人群",
    "县（市、区）": f"泉州市{len(counties().units)}个县级单位（含{'、'.join(u.name_zh for u in counties().units if u.is_zone)}）",
    "重点人群": "规划确定的重点人群：农民、产业工人、老年人（60–69岁）、领导干部和公务员",
    "基准编号": "《中国公民科学素质基准》中的基准序号（1–26）",
    "基准": "基准名称",
    "所属部分": "该基准所属的测试部分",
    "样本量": "该分组中完成有效问卷的受访者人数（未加权）",
    "有效样本量": "样本量除以该估计的设计效应（设计效应小于1时按1计），相当于同等精度的简单随机样本人数",
    "估计值": "按最终权数计算的加权估计；基准为该基准所属题目的平均正确率",
    "标准误": "考虑分层、整群抽样和加权调整的设计标准误；比例的标准误以百分点表示（工作簿与报告相同）",
    "95%置信区间下限": "95%置信区间下限；比例采用logit或Korn–Graubard方法，均值采用t分布",
    "95%置信区间上限": "95%置信区间上限",
    "自由度": "设计自由度：含该分组成员的初级抽样单位数减去层数",
    "变异系数": "标准误除以估计值",
    "设计效应": "复杂抽样设计下的方差与同样本量简单随机抽样方差之比",
    "可靠性": "可靠 / 谨慎解读 / 不予发布，见下方说明",
    "可靠性说明": "判为谨慎解读或不予发布的原因",
    "目标值": "规划目标：2025年具备科学素质的公民比例超过该值",
    "差距（估计值−目标）": "估计值减去目标值，负数表示低于目标",
    "单侧检验p值": "原假设“比例不高于目标”的单侧检验p值",
    "判定": L.VERDICT_RULE + "；估计值因精度不足不予发布的分组，仍按其95%置信区间判定并发布判定结果",
    "估计方法": "直接估计：按调查数据和设计计算；模型估计：直接估计不予发布时采用的面积层次Fay–Herriot模型估计",
    "直接估计": "按调查数据和抽样设计计算的加权估计（与“县区”工作表的估计值相同）；不予发布的以“—”表示",
    "模型估计": "面积层次Fay–Herriot模型的县（市、区）估计（经验最佳线性无偏预测），依赖模型假定",
    "模型估计标准误": "模型估计均方误差的平方根，单位为百分点",
    "模型估计95%区间下限": "模型估计 − 1.96 × 模型估计标准误",
    "模型估计95%区间上限": "模型估计 + 1.96 × 模型估计标准误",
    "直接估计的权重": "模型估计中直接估计所占的权重（收缩系数），其余权重给模型回归值",
    "县内城镇人口比例": "模型的县级辅助变量：按最终权数计算的城镇人口比例",
}


def notes_table(inputs: ReportInputs, tables: list[PublishedTable]) -> PublishedTable:
    """The 说明 sheet: every column of every table, then the reliability flags."""
    rows = [
        ("数据", "演示数据（模拟生成），并非泉州市调查结果" if inputs.is_demo else f"泉州市{inputs.wave}年公民科学素质调查"),
        ("调查对象", "泉州市18–69岁常住居民"),
        ("方差估计方法", VARIANCE_METHOD_LABELS.get(
            inputs.variance_method, inputs.variance_method)),
    ]
    seen: list[str] = []
    for t in tables:
        seen += [c for c in t.frame.columns if c not in seen]
    rows += [(c, COLUMN_NOTES[c]) for c in seen]
    rows += [
        ("可靠性：可靠", "满足发布标准，可直接引用"),
        ("可靠性：谨慎解读", "精度较低（如设计自由度小于8、估计值为0或100%、均值的变异系数大于30%），引用时须注明"),
        ("可靠性：不予发布", f"不满足发布标准（如有效样本量小于30或置信区间过宽），以“{L.DASH}”表示，不公布任何数值"),
        ("可靠性依据", "比例：美国国家卫生统计中心（NCHS）2017年《比例数据发布标准》；均值：有效样本量、变异系数和自由度"),
        (L.DASH, "不予发布或无数据"),
    ]
    frame = pd.DataFrame({"项目": [r[0] for r in rows], "说明": [r[1] for r in rows]}, dtype=object)
    return PublishedTable("说明", "notes", frame, ("",) * len(frame), "A2")


def at_level(t: PublishedTable, level: float) -> PublishedTable:
    """A table's headers (and the notes sheet's text), written for 95% intervals, at the wave's level
    (estimands.yaml ci.level): "90%置信区间下限", "± 1.645 ×"."""
    if float(level) == 0.95:
        return t
    ci, z = L.ci_pct(level), L.z_of(level)

    def say(x):
        return x.replace("95%", ci).replace("1.96", z) if isinstance(x, str) else x

    frame = t.frame.rename(columns=say)
    if t.stem == "notes":
        frame = frame.map(say)
    return dataclasses.replace(t, frame=frame)


def build_tables(inputs: ReportInputs) -> list[PublishedTable]:
    tables = [overall_table(inputs), county_table(inputs), group_table(inputs), subgroup_table(inputs),
              score_table(inputs), benchmark_table(inputs), target_table(inputs)]
    model = model_table(inputs)
    if model is not None:
        tables.insert(2, model)
    return [at_level(t, inputs.ci_level) for t in [*tables, notes_table(inputs, tables)]]


def write_csvs(tables: list[PublishedTable], folder: Path) -> list[Path]:
    return [write_table(t.frame, folder / f"{t.stem}.csv") for t in tables]


def workbook_bytes(tables: list[PublishedTable], office=()) -> bytes:
    """The analysis sheets, then the bulletin-layout sheets of `office` (reporting.office)."""
    if not office:
        return W.workbook_bytes(tables)
    from pipeline.reporting.office import add_to_workbook

    return W.workbook_bytes(tables, lambda wb: add_to_workbook(wb, list(office)))


def write_workbook(tables: list[PublishedTable], path: Path, office=()) -> Path:
    return W.write_bytes(workbook_bytes(tables, office), path)
