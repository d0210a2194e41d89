"""SPSS syntax for the exported .sav.

Complex Samples (CSPLAN) knows strata, clusters and one weight, but not replicate weights or calibration,
so its standard errors treat the final weight as a fixed design weight: they leave out that calibration
to census margins removes the variance the margins explain (and the non-response adjustment and
trimming are not re-done per replicate). The syntax says so, gives the plan for what it is good for, and
then computes the published replicate standard error with ordinary procedures: per replicate the
weighted sums of literate and of the respondents with a score (COMPUTE in a LOOP over VECTORs), their
totals per domain (AGGREGATE), the replicate shares, and Σ rscale_r (θ_r − θ̄)² (DO REPEAT over the
rscales). The arithmetic is that of the estimation stage and of R's svrVar.
"""

from __future__ import annotations

import pandas as pd

from pipeline.export.published import comment_block
from pipeline.export.variables import AnalysisFile
from pipeline.vocabulary import OVERALL_LABEL


def _wrap(words: list[str], indent: str = "  ", width: int = 100) -> list[str]:
    lines, cur = [], indent
    for w in words:
        if len(cur) + len(w) + 1 > width and cur.strip():
            lines.append(cur.rstrip())
            cur = indent
        cur += w + " "
    if cur.strip():
        lines.append(cur.rstrip())
    return lines


def spss_syntax(af: AnalysisFile, data_file: str, wave: int, pub: pd.DataFrame) -> str:
    d = af.design
    reps = list(af.replicates["variable"])
    R = len(reps)
    rs = [f"{d['scale'] * r:.17g}" for r in af.replicates["rscale"]]
    yn = [f"yn{i}" for i in range(1, R + 1)]
    yd = [f"yd{i}" for i in range(1, R + 1)]
    sums = ["y0", "d0"] + yn + yd
    counties = af.variable("county").values
    centre = ("COMPUTE centre = est." if d["mse"] else f"COMPUTE centre = MEAN(th1 TO th{R}).")
    lines = [
        "* Encoding: UTF-8.",
        f"* {wave}年泉州市公民科学素质调查：分析文件的抽样设计（SPSS）。",
        f"* 数据：{data_file}。",
        "*",
        *comment_block(pub, "*"),
        "*",
        "* 第一部分：复杂样本计划（层、初级抽样单位、最终权数）。",
        "* 注意：复杂样本模块不能使用复制权数，也不知道权数经过了校准。它把最终权数当作固定的设计权数，",
        "* 因而其标准误没有扣除按人口普查边际校准所消除的那部分变异，也没有在每个复制样本中重做无回答调整和截尾，",
        "* 通常比已发布的标准误偏大。点估计相同；标准误、置信区间和检验请以第二部分为准。",
        "",
        f"GET FILE='{data_file}'.",
        "DATASET NAME survey WINDOW=FRONT.",
        "CSPLAN ANALYSIS",
        f"  /PLAN FILE='design_{wave}.csaplan'",
        f"  /PLANVARS ANALYSISWEIGHT={d['weight']}",
        f"  /DESIGN STRATA={d['stratum']} CLUSTER={d['psu']}",
        "  /ESTIMATOR TYPE=WR.",
        "CSDESCRIPTIVES",
        f"  /PLAN FILE='design_{wave}.csaplan'",
        "  /SUMMARY VARIABLES=literate",
        "  /SUBPOP TABLE=county DISPLAY=LAYERED",
        "  /MEAN",
        "  /STATISTICS SE CIN(95)",
        "  /MISSING SCOPE=ANALYSIS CLASSMISSING=EXCLUDE.",
        "",
        f"* 第二部分：用普通过程计算已发布的复制权数标准误（{OVERALL_LABEL}及各县区）。",
        "* 对每个复制权数 r：θ_r = Σ w_r·literate / Σ w_r（只计有测试成绩者）；",
        f"* 方差 = Σ_r rscale_r·(θ_r − θ̄)²，θ̄ 为{'全样本估计' if d['mse'] else '全部复制估计的均值'}。",
        "DATASET ACTIVATE survey.",
        "COMPUTE has_score = NOT MISSING(literate).",
        "COMPUTE lit0 = literate.",
        "RECODE lit0 (SYSMIS=0).",
        f"COMPUTE y0 = {d['weight']} * lit0.",
        f"COMPUTE d0 = {d['weight']} * has_score.",
        f"VECTOR wr = {reps[0]} TO {reps[-1]}.",
        f"VECTOR yn({R}) / yd({R}).",
        f"LOOP #r = 1 TO {R}.",
        "  COMPUTE yn(#r) = wr(#r) * lit0.",
        "  COMPUTE yd(#r) = wr(#r) * has_score.",
        "END LOOP.",
        "COMPUTE domain = 0.",
        "DATASET DECLARE city_sums.",
        "AGGREGATE /OUTFILE=city_sums /BREAK=domain",
        "  /" + " ".join(sums[:2]),
        *_wrap(sums[2:], "    "),
        "  = SUM(" + " ".join(sums[:2]),
        *_wrap(sums[2:], "    "),
        "  ).",
        "COMPUTE domain = county.",
        "DATASET DECLARE county_sums.",
        "AGGREGATE /OUTFILE=county_sums /BREAK=domain",
        "  /" + " ".join(sums[:2]),
        *_wrap(sums[2:], "    "),
        "  = SUM(" + " ".join(sums[:2]),
        *_wrap(sums[2:], "    "),
        "  ).",
        "ADD FILES /FILE=city_sums /FILE=county_sums.",
        "DATASET NAME replicate_se.",
        "COMPUTE est = y0 / d0.",
        f"VECTOR yn = yn1 TO yn{R} / yd = yd1 TO yd{R}.",
        f"VECTOR th({R}).",
        f"LOOP #r = 1 TO {R}.",
        "  COMPUTE th(#r) = yn(#r) / yd(#r).",
        "END LOOP.",
        centre,
        "COMPUTE v = 0.",
        f"DO REPEAT t = th1 TO th{R} / s =",
        *_wrap(rs, "    "),
        "  .",
        "  COMPUTE v = v + s * (t - centre) ** 2.",
        "END REPEAT.",
        "COMPUTE se = SQRT(v).",
        f"VALUE LABELS domain 0 '{OVERALL_LABEL}' " + " ".join(f"{k} '{x}'" for k, x in counties.items()) + ".",
        "FORMATS est se (F18.15).",
        "LIST VARIABLES=domain est se.",
        "",
    ]
    return "\n".join(lines)
