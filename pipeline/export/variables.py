"""The analysis file's variables: which columns leave the pipeline, their codes and Chinese labels.

The file is built from an allow-list, never by dropping columns: a column that is not named here cannot
reach it, so nothing that ingest drops (names, phones, ID numbers, addresses, GPS) and nothing internal
(interviewer ids, selection probabilities, quality flags) can appear in an export. Categories are stored
as integer codes with value labels, because Stata and SPSS attach value labels to numbers only; the
codes of the questionnaire's own fields (sex, urban, occupation, hukou) are the questionnaire's codes.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from pipeline import vocabulary as V
from pipeline.errors import InputError
from pipeline.instruments import dimension_estimands
from pipeline.publishing import labels as L
from pipeline.survey_design.record import DesignRecord

LEVELS = ("较低", "基本具备", "具备", "高阶")  # literacy classes, lowest first (scoring.yaml levels)
YES_NO = {0: "否", 1: "是"}


@dataclass(frozen=True)
class Variable:
    name: str
    label: str
    kind: str  # "string" | "code" | "number" | "weight"
    values: dict[int, str] = field(default_factory=dict)  # code → label, for kind "code"
    note: str = ""


@dataclass(frozen=True)
class AnalysisFile:
    data: pd.DataFrame  # one row per respondent, columns in the order of `variables`
    variables: tuple[Variable, ...]
    replicates: pd.DataFrame  # variable, stratum, deleted_psu, rscale
    design: dict  # method, scale, mse, stratum/psu/weight names, n_replicates
    replicate_prefix: str = ""  # the replicate columns' names start with it (the design record's)

    def variable(self, name: str) -> Variable:
        return {v.name: v for v in self.variables}[name]

    @property
    def value_labels(self) -> dict[str, dict[int, str]]:
        return {v.name: v.values for v in self.variables if v.values}

    @property
    def column_labels(self) -> list[str]:
        return [v.label for v in self.variables]


def _coded(values: pd.Series, order: dict[int, str], column: str) -> np.ndarray:
    """Text categories → their codes; a category without a code stops with the value named."""
    lookup = {label: code for code, label in order.items()}
    s = values.astype("string")
    bad = s.notna() & ~s.isin(list(lookup))
    if bad.any():
        i = int(np.flatnonzero(bad.to_numpy())[0])
        raise InputError(
            f"column {column!r}: value {s.iloc[i]!r} (respondent row {i}) has no code in the export's value "
            f"labels {sorted(lookup)}; the wave's specification and the processed tables disagree — re-run "
            "ingest and score on the current specification."
        )
    return s.map(lookup).astype("Float64").to_numpy(dtype=float, na_value=np.nan)


def _from_questionnaire(instrument, name: str) -> tuple[str, dict[int, str]]:
    d = instrument.demographic(name)
    return d.label_zh, {int(code): label for code, label in d.codes}


def build_variables(frame: pd.DataFrame, instrument, group_flags, cal_cells: list[tuple[str, str]],
                    record: DesignRecord, rep_table: pd.DataFrame) -> AnalysisFile:
    """The labelled analysis frame from the estimation stage's analysis frame (respondents ⋈ scores ⋈
    weights, plus the calibration cells). `group_flags`: (Chinese label, bool column) of the key groups;
    `record`: the design record (weight and replicate columns, replicate method and scale)."""
    rep_cols, rep_meta, weight = list(record.replicate_columns), record.replicates, record.weight
    out: dict[str, np.ndarray] = {}
    vs: list[Variable] = []

    def add(var: Variable, values) -> None:
        vs.append(var)
        out[var.name] = values

    add(Variable("respondent_id", "受访者编号（假名，不能还原为问卷编号）", "string"),
        frame["respondent_id"].astype(str).to_numpy(object))
    add(Variable("wave", "调查年份", "number"), frame["wave"].astype(int).to_numpy())
    county_names = {c.code: c.name_zh for c in instrument.counties} or V.counties().name_of
    counties = {i + 1: name for i, name in enumerate(V.counties().names)}
    names = frame["county_code"].astype(str).map(county_names).fillna(frame["county"].astype(str))
    add(Variable("county", "所在县（市、区）", "code", counties), _coded(names, counties, "county"))
    add(Variable("county_code", "县（市、区）代码", "string"), frame["county_code"].astype(str).to_numpy(object))

    # strata and PSUs as consecutive integers (Stata and SPSS designs want numbers), labelled with the codes
    s_codes, s_labels = pd.factorize(frame["stratum"].astype(str), sort=True)
    strata = {i + 1: f"{code} {county_names.get(code, '')}".strip() for i, code in enumerate(s_labels)}
    add(Variable("stratum", "抽样层（县级单位）", "code", strata), (s_codes + 1).astype(float))
    psu_key = frame["stratum"].astype(str) + "|" + frame["psu"].astype(str)
    p_codes, p_labels = pd.factorize(psu_key, sort=True)
    psus = {i + 1: key.split("|", 1)[1] for i, key in enumerate(p_labels)}
    add(Variable("psu", "初级抽样单位（乡镇、街道）", "code", psus), (p_codes + 1).astype(float))

    label, codes = _from_questionnaire(instrument, "sex")
    add(Variable("sex", label, "code", codes), _coded(frame["sex"], codes, "sex"))
    add(Variable("age", "年龄（周岁）", "number"), frame["age"].astype(float).to_numpy())
    bands = {i + 1: b for i, b in enumerate(L.CATEGORY_ORDER["age_band"])}
    add(Variable("age_band", "年龄段", "code", bands), _coded(frame["age_band"], bands, "age_band"))
    edu = {i + 1: b for i, b in enumerate(L.CATEGORY_ORDER["education"])}
    add(Variable("education", "文化程度（五档）", "code", edu), _coded(frame["education"], edu, "education"))
    for name in ("urban", "occupation", "hukou"):
        label, codes = _from_questionnaire(instrument, name)
        add(Variable(name, label, "code", codes), _coded(frame[name], codes, name))
    for label, col in group_flags:
        flag = frame[col].astype("boolean").astype("Float64").to_numpy(dtype=float, na_value=np.nan)
        add(Variable(col, f"重点人群：{label}", "code", dict(YES_NO)), flag)

    for _, col, name, marks in dimension_estimands():
        add(Variable(col, f"{name}得分（满分{marks:g}）", "number"), frame[col].astype(float).to_numpy())
    add(Variable("total", "科学素质测试总分（满分100）", "number"), frame["total"].astype(float).to_numpy())
    levels = {i + 1: lv for i, lv in enumerate(LEVELS)}
    add(Variable("level", "科学素质水平", "code", levels), _coded(frame["level"], levels, "level"))
    lit = frame["literate"].astype("boolean").astype("Float64").to_numpy(dtype=float, na_value=np.nan)
    add(Variable("literate", "是否具备科学素质（总分≥70）", "code", {0: "不具备", 1: "具备"},
                 note="未完成测试者为缺失值，不计入分母"), lit)

    for i, (col, what) in enumerate(cal_cells, start=1):
        add(Variable(f"cal_cell_{i}", f"校准格：{what}（稀疏格已合并）", "string",
                     note="权数校准（raking）所用的格；线性化方差的校准残差按此计算"),
            frame[col].astype(str).to_numpy(object))

    add(Variable(weight, "最终权数（基础权数→无回答调整→校准→截尾）", "weight"),
        frame[weight].astype(float).to_numpy())
    for r in rep_table.itertuples(index=False):
        where = f"删去第{r.stratum}层的初级抽样单位 {r.deleted_psu}" if r.deleted_psu else "复制样本"
        add(Variable(r.variable, f"复制权数（{rep_meta['method']}，{where}，重新经过全部加权步骤）", "weight",
                     note=f"rscale = {r.rscale:.17g}"), frame[r.variable].astype(float).to_numpy())
    data = pd.DataFrame(out)
    design = {"method": rep_meta.get("method"), "scale": float(rep_meta.get("scale", 1.0)),
              "mse": bool(rep_meta.get("mse", False)), "n_replicates": len(rep_cols), "weight": weight,
              "stratum": "stratum", "psu": "psu",
              "calibration_cells": [f"cal_cell_{i}" for i in range(1, len(cal_cells) + 1)]}
    return AnalysisFile(data, tuple(vs), rep_table, design, record.replicate_prefix)


def replicate_table(frame: pd.DataFrame, rep_cols: list[str], rscales) -> pd.DataFrame:
    """One row per replicate column: the stratum and PSU it deletes (JKn: the rows whose replicate
    weight is zero) and its rscale, so every tool gets the same multipliers."""
    rscales = np.asarray(rscales, dtype=float)
    if len(rscales) != len(rep_cols):
        raise InputError(f"weights.parquet metadata has {len(rscales)} rscales for {len(rep_cols)} replicate "
                         "columns; re-run the weighting stage.")
    strata, psus = [], []
    st = frame["stratum"].astype(str).to_numpy()
    ps = frame["psu"].astype(str).to_numpy()
    for col in rep_cols:
        zero = frame[col].to_numpy(float) == 0.0
        if zero.any() and len(set(ps[zero])) == 1:
            i = int(np.flatnonzero(zero)[0])
            strata.append(st[i])
            psus.append(ps[i])
        else:
            strata.append("")
            psus.append("")
    return pd.DataFrame({"variable": rep_cols, "stratum": strata, "deleted_psu": psus, "rscale": rscales})
