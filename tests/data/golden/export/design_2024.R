# 2024年泉州市公民科学素质调查：分析文件的抽样设计（R，survey 包）
# 数据：literacy_2024.csv（UTF-8），复制权数的方差系数：replicates.csv。
# 运行：Rscript design_2024.R <导出文件夹>   （在 UTF-8 区域设置下运行，例如 LANG=C.UTF-8）
#
# 本脚本复现的已发布结果（具备科学素质的公民比例，复制权数方差）：
#   全市         比例 16.0376%  标准误 1.0620 个百分点  (est = 0.160375999189947, se = 0.0106196861830146)
#   鲤城区        比例 27.1589%  标准误 3.1808 个百分点  (est = 0.271588755749325, se = 0.031807941603933)
#   丰泽区        比例 31.2614%  标准误 2.2312 个百分点  (est = 0.312614215106292, se = 0.0223124243379137)
#   洛江区        比例 14.5120%  标准误 2.8424 个百分点  (est = 0.145119847843883, se = 0.0284241450663611)
#   泉港区        比例  6.3549%  标准误 1.5396 个百分点  (est = 0.0635493796293944, se = 0.0153957306751206)
#   惠安县        数据不足，不予发布
#   安溪县        比例  9.6288%  标准误 1.7534 个百分点  (est = 0.0962881442526805, se = 0.0175344443264325)
#   永春县        比例 13.2537%  标准误 1.7882 个百分点  (est = 0.13253737607591, se = 0.0178821075408286)
#   德化县        比例 20.4468%  标准误 2.8183 个百分点  (est = 0.20446784476328, se = 0.028183276933569)
#   石狮市        比例 16.6343%  标准误 3.6537 个百分点  (est = 0.166343375879956, se = 0.0365367459403646)
#   晋江市        比例 15.1421%  标准误 2.8343 个百分点  (est = 0.151420912531617, se = 0.0283429349718134)
#   南安市        数据不足，不予发布
#   泉州开发区      比例 31.3611%  标准误 2.7867 个百分点  (est = 0.313611303718073, se = 0.0278671583910702)
#   泉州台商投资区    比例 14.4844%  标准误 1.9785 个百分点  (est = 0.144844495081282, se = 0.0197854092594002)
#
# 输出的 method,domain,est,se 各行：replicate_JKn 即已发布的方差方法；taylor_calibrated 为考虑校准的
# 线性化方差（比较用）；taylor_plain 只用层、初级抽样单位和最终权数，不考虑校准，标准误偏大。
suppressMessages(library(survey))
options(survey.lonely.psu = "fail")
args <- commandArgs(trailingOnly = TRUE)
folder <- if (length(args) >= 1) args[1] else "."
d <- read.csv(file.path(folder, "literacy_2024.csv"), fileEncoding = "UTF-8-BOM",
              colClasses = c(respondent_id = "character", county_code = "character", cal_cell_1 = "character", cal_cell_2 = "character"))
rep <- read.csv(file.path(folder, "replicates.csv"), fileEncoding = "UTF-8-BOM",
                colClasses = c(variable = "character", stratum = "character", deleted_psu = "character"))
stopifnot(identical(rep$variable, grep("^w_rep_", names(d), value = TRUE)))

# 已发布的设计：分层刀切法（JKn），复制权数已重新经过全部加权步骤
jk <- svrepdesign(data = d, repweights = d[, rep$variable], weights = ~w_final, type = "JKn",
                  scale = 1, rscales = rep$rscale, mse = FALSE, combined.weights = TRUE)

# 比较：线性化（泰勒）方差，层与初级抽样单位嵌套；校准格作为因子
d$cal_cell_1 <- factor(d$cal_cell_1)
d$cal_cell_2 <- factor(d$cal_cell_2)
lin <- svydesign(ids = ~psu, strata = ~stratum, weights = ~w_final, nest = TRUE, data = d)
pop <- colSums(model.matrix(~ cal_cell_1 + cal_cell_2, d) * d$w_final)
cal <- calibrate(lin, ~ cal_cell_1 + cal_cell_2, population = pop, calfun = "raking")

rows <- function(method, design) {
  city <- svymean(~literate, design, na.rm = TRUE)
  by <- svyby(~literate, ~county_code, design, svymean, na.rm = TRUE)
  data.frame(method = method, domain = c("all", as.character(by$county_code)),
             est = c(coef(city), coef(by)), se = c(SE(city), SE(by)))
}
out <- rbind(rows("replicate_JKn", jk), rows("taylor_calibrated", cal), rows("taylor_plain", lin))
cat(sprintf("# R %s, survey %s; %d respondents, %d replicate weights\n", getRversion(),
            packageVersion("survey"), nrow(d), nrow(rep)))
cat("method,domain,est,se\n")
cat(sprintf("%s,%s,%.17g,%.17g\n", out$method, out$domain, out$est, out$se), sep = "")
