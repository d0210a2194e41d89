"""R syntax (package survey) for the exported analysis file.

The replicate design is the published one: type "JKn", the exported replicate weights as analysis
weights (combined.weights = TRUE), scale 1 and the rscales of replicates.csv, mse as the wave's
design.yaml says. Beside it, for comparison, the linearised design on strata, PSUs and the final weight,
without and with the calibration (calibrate() on the exported calibration cells, to the totals the final
weights meet, so g = 1 and only the residualisation of the variance changes). The machine-readable lines
(method,domain,est,se) are what the golden test compares with estimates.csv.
"""

from __future__ import annotations

import pandas as pd

from pipeline.export.published import comment_block
from pipeline.export.variables import AnalysisFile


def r_script(af: AnalysisFile, data_file: str, replicates_file: str, wave: int, pub: pd.DataFrame) -> str:
    d = af.design
    strings = ["respondent_id", "county_code"] + list(d["calibration_cells"])
    col_classes = ", ".join(f'{s} = "character"' for s in strings)
    cal = " + ".join(d["calibration_cells"])
    mse = "TRUE" if d["mse"] else "FALSE"
    lines = [
        f"# {wave}年泉州市公民科学素质调查：分析文件的抽样设计（R，survey 包）",
        f"# 数据：{data_file}（UTF-8），复制权数的方差系数：{replicates_file}。",
        f"# 运行：Rscript design_{wave}.R <导出文件夹>   （在 UTF-8 区域设置下运行，例如 LANG=C.UTF-8）",
        "#",
        *comment_block(pub, "#"),
        "#",
        "# 输出的 method,domain,est,se 各行：replicate_JKn 即已发布的方差方法；taylor_calibrated 为考虑校准的",
        "# 线性化方差（比较用）；taylor_plain 只用层、初级抽样单位和最终权数，不考虑校准，标准误偏大。",
        "suppressMessages(library(survey))",
        'options(survey.lonely.psu = "fail")',
        "args <- commandArgs(trailingOnly = TRUE)",
        'folder <- if (length(args) >= 1) args[1] else "."',
        f'd <- read.csv(file.path(folder, "{data_file}"), fileEncoding = "UTF-8-BOM",',
        f"              colClasses = c({col_classes}))",
        f'rep <- read.csv(file.path(folder, "{replicates_file}"), fileEncoding = "UTF-8-BOM",',
        '                colClasses = c(variable = "character", stratum = "character", deleted_psu = "character"))',
        f'stopifnot(identical(rep$variable, grep("^{af.replicate_prefix}", names(d), value = TRUE)))',
        "",
        "# 已发布的设计：分层刀切法（JKn），复制权数已重新经过全部加权步骤",
        f'jk <- svrepdesign(data = d, repweights = d[, rep$variable], weights = ~{d["weight"]}, type = "JKn",',
        f"                  scale = {d['scale']:.17g}, rscales = rep$rscale, mse = {mse}, combined.weights = TRUE)",
        "",
        "# 比较：线性化（泰勒）方差，层与初级抽样单位嵌套；校准格作为因子",
        *(f"d${c} <- factor(d${c})" for c in d["calibration_cells"]),
        f"lin <- svydesign(ids = ~{d['psu']}, strata = ~{d['stratum']}, weights = ~{d['weight']}, nest = TRUE, "
        "data = d)",
        f"pop <- colSums(model.matrix(~ {cal}, d) * d${d['weight']})",
        f'cal <- calibrate(lin, ~ {cal}, population = pop, calfun = "raking")',
        "",
        "rows <- function(method, design) {",
        "  city <- svymean(~literate, design, na.rm = TRUE)",
        "  by <- svyby(~literate, ~county_code, design, svymean, na.rm = TRUE)",
        '  data.frame(method = method, domain = c("all", as.character(by$county_code)),',
        "             est = c(coef(city), coef(by)), se = c(SE(city), SE(by)))",
        "}",
        'out <- rbind(rows("replicate_JKn", jk), rows("taylor_calibrated", cal), rows("taylor_plain", lin))',
        'cat(sprintf("# R %s, survey %s; %d respondents, %d replicate weights\\n", getRversion(),',
        '            packageVersion("survey"), nrow(d), nrow(rep)))',
        'cat("method,domain,est,se\\n")',
        'cat(sprintf("%s,%s,%.17g,%.17g\\n", out$method, out$domain, out$est, out$se), sep = "")',
        "",
    ]
    return "\n".join(lines)
