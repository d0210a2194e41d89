# 2024年泉州市公民科学素质调查：分析文件的抽样设计（R，survey 包）
# 数据：literacy_2024.csv（UTF-8），复制权数的方差系数：replicates.csv。
# 运行：Rscript design_2024.R <导出文件夹>   （在 UTF-8 区域设置下运行，例如 LANG=C.UTF-8）
#
# 本脚本复现的已发布结果（具备科学素质的公民比例，复制权数方差）：
#   全市         比例 15.9155%  标准误 0.8448 个百分点  (est = 0.159155270806747, se = 0.00844822933451524)
#   鲤城区        比例 26.6818%  标准误 2.9793 个百分点  (est = 0.266817814697848, se = 0.0297929406224101)
#   丰泽区        比例 29.6116%  标准误 3.0435 个百分点  (est = 0.296116121043824, se = 0.0304348907622629)
#   洛江区        比例 16.2674%  标准误 3.7148 个百分点  (est = 0.162674262007597, se = 0.0371483033795156)
#   泉港区        比例  7.6442%  标准误 1.0954 个百分点  (est = 0.0764421489024122, se = 0.0109541637693278)
#   惠安县        数据不足，不予发布
#   安溪县        数据不足，不予发布
#   永春县        比例 12.6993%  标准误 1.4870 个百分点  (est = 0.126992525121975, se = 0.0148699873189294)
#   德化县        比例 18.1745%  标准误 2.1642 个百分点  (est = 0.181745207862786, se = 0.0216417303355798)
#   石狮市        比例 16.5824%  标准误 3.4171 个百分点  (est = 0.165824454504254, se = 0.0341709057172641)
#   晋江市        比例 15.4390%  标准误 1.6990 个百分点  (est = 0.154390159629751, se = 0.0169896076019711)
#   南安市        比例 12.1433%  标准误 1.8478 个百分点  (est = 0.121432664462867, se = 0.0184781827833418)
#   泉州开发区      比例 30.8502%  标准误 2.9664 个百分点  (est = 0.30850182933204, se = 0.0296640953422728)
#   泉州台商投资区    比例 15.4159%  标准误 1.7371 个百分点  (est = 0.154158698965992, se = 0.017371069814964)
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
