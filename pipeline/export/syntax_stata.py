"""Stata syntax for the exported .dta: the published replicate design and the linearised comparison.

Stata's jackknife variance with replicate-weight variables is Σ_h m_h Σ_i (θ_(h,i) − θ̄_h)², θ̄_h the mean
of the replicates of stratum h (or the full-sample estimate with `mse`). The published variance (R's
svrVar, design.yaml mse: false) centres every replicate on the mean of *all* replicates, so the
replicates are declared without stratum() (one group) and each carries its own multiplier = scale ×
rscale; `mse` is added only when the wave's design says mse: true. Domains use over(), not subpop():
with subpop() Stata leaves out the replicates that do not touch the subpopulation, which moves the centre.
"""

from __future__ import annotations

import pandas as pd

from pipeline.export.published import comment_block
from pipeline.export.variables import AnalysisFile


def _wrapped(values: list[str], indent: str, per_line: int = 6) -> list[str]:
    return [indent + " ".join(values[i:i + per_line]) + " ///" for i in range(0, len(values), per_line)]


def stata_do(af: AnalysisFile, data_file: str, wave: int, pub: pd.DataFrame) -> str:
    d = af.design
    reps = af.replicates
    mult = [f"{d['scale'] * r:.17g}" for r in reps["rscale"]]
    first, last = reps["variable"].iloc[0], reps["variable"].iloc[-1]
    mse = " mse" if d["mse"] else ""
    city = pub[pub["domain_type"] == "overall"].iloc[0]
    lines = [
        f"* {wave}年泉州市公民科学素质调查：分析文件的抽样设计（Stata 15 或更新版本）",
        f"* 数据：{data_file}（变量标签与取值标签为 UTF-8 中文）。",
        "*",
        *comment_block(pub, "*"),
        "*",
        "* 复制权数：分层刀切法（JKn），每个复制权数删去一个初级抽样单位并重新经过全部加权步骤。",
        "* multiplier() 依次给出每个复制权数的系数 (n_h - 1)/n_h；不写 stratum()，所有复制估计以其总均值为中心，",
        "* 与已发布的方差（R survey 的 mse = FALSE）一致" + ("；已发布方差以全样本估计为中心，故加 mse。" if d["mse"]
                                                    else "；不要加 mse（加了则以全样本估计为中心，结果略有不同）。"),
        "* 分组估计请用 over()：用 subpop() 时 Stata 会略去不触及该子总体的复制样本，中心随之改变。",
        "version 15",
        f'use "{data_file}", clear',
        f"svyset [pweight = {d['weight']}], ///",
        f"    jkrweight({first}-{last}, multiplier( ///",
        *_wrapped(mult, "        "),
        f"    )) vce(jackknife){mse}",
        "svy: mean literate",
        f'display "已发布：est = {city.est:.15g}，se = {city.se:.15g}；本次：est = " %18.15g _b[literate] '
        '"，se = " %18.15g _se[literate]',
        "svy: mean literate, over(county)",
        "",
        "* 比较：只用层、初级抽样单位和最终权数的线性化方差（不考虑校准，标准误偏大，不是已发布的数字）",
        f"svyset {d['psu']} [pweight = {d['weight']}], strata({d['stratum']}) vce(linearized)",
        "svy: mean literate",
        "svy: mean literate, over(county)",
        "",
    ]
    return "\n".join(lines)
