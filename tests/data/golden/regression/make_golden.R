# Golden values for pipeline.estimation.regression: R's survey::svyglm on the api data and on the demo wave.
# Run from this folder:  Rscript make_golden.R
# (demo_wave.csv, demo_jkn.csv and demo_jkn_rscales.csv come from export_demo.py.)
# Writes golden.csv: one row per case × coefficient (position `k` in R's model matrix, which is also
# the order of the patsy design matrix), with est, se, the t-test df and the Wald interval; and
# golden_wald.csv: regTermTest(method = "Wald") joint tests of factor terms.
suppressMessages(library(survey))
data(api)
options(digits = 15, survey.lonely.psu = "fail")
out <- list()
tests <- list()
wald <- function(case, fit, term) {
  r <- regTermTest(fit, as.formula(paste0("~", term)), method = "Wald")
  tests[[length(tests) + 1]] <<- data.frame(case = case, term = term, F = as.numeric(r$Ftest), df = r$df,
                                             ddf = r$ddf, p_value = as.numeric(r$p), stringsAsFactors = FALSE)
}
add <- function(case, fit) {
  s <- summary(fit)$coefficients
  ci <- confint(fit)
  out[[length(out) + 1]] <<- data.frame(case = case, k = seq_len(nrow(s)), term = rownames(s),
    est = s[, 1], se = s[, 2], t = s[, 3], p_value = s[, 4], df = fit$df.residual,
    lci = ci[, 1], uci = ci[, 2], stringsAsFactors = FALSE)
}
lin <- api00 ~ ell + meals + mobility
logi <- I(sch.wide == "Yes") ~ ell + meals
both <- function(case, d) {
  add(paste0(case, "_linear"), svyglm(lin, d))
  add(paste0(case, "_logistic"), svyglm(logi, d, family = quasibinomial()))
}

strat <- svydesign(id = ~1, strata = ~stype, weights = ~pw, data = apistrat)
strat_fpc <- svydesign(id = ~1, strata = ~stype, weights = ~pw, fpc = ~fpc, data = apistrat)
clus1 <- svydesign(id = ~dnum, weights = ~pw, fpc = ~fpc, data = apiclus1)
clus2 <- svydesign(id = ~dnum + snum, weights = ~pw, data = apiclus2)
both("strat", strat)
both("strat_fpc", strat_fpc)
both("clus1_fpc", clus1)
both("clus2", clus2)
# missing values: acs.k3 is NA for some apiclus2 schools; svyglm drops the rows, the design keeps its PSUs
add("clus2_na_linear", svyglm(api00 ~ acs.k3 + meals, clus2))
add("clus2_na_logistic", svyglm(I(sch.wide == "Yes") ~ acs.k3 + meals, clus2, family = quasibinomial()))
# factor terms
m <- svyglm(I(sch.wide == "Yes") ~ stype + meals, clus2, family = quasibinomial())
add("clus2_factor_logistic", m)
wald("clus2_factor_logistic", m, "stype")
# domains: subset of the full design
add("strat_sub_linear", svyglm(lin, strat, subset = stype != "E"))
# a domain missing from some PSUs (not every sampled district has a middle school)
add("clus2_sub_linear", svyglm(lin, clus2, subset = stype == "M"))
add("clus1_sub_logistic", svyglm(I(api00 > 650) ~ ell + meals, clus1, subset = stype == "E",
                                 family = quasibinomial()))

# replicate designs: JKn from the stratified design, bootstrap on the cluster sample
jkn <- as.svrepdesign(strat, type = "JKn")
both("jkn", jkn)
add("jkn_sub_logistic", svyglm(I(api00 > 650) ~ ell + meals, jkn, subset = stype != "H", family = quasibinomial()))
write.csv(as.data.frame(jkn$repweights$weights[, ]), "api_jkn_factors.csv", row.names = FALSE)
write.csv(data.frame(scale = jkn$scale, rscales = jkn$rscales, mse = jkn$mse), "api_jkn_info.csv", row.names = FALSE)

# calibrated design (raking on school type and sch.wide): variance from the calibration residuals
totals <- c(`(Intercept)` = 6194, stypeH = 755, stypeM = 1018, sch.wideYes = 4776)
cal <- calibrate(svydesign(id = ~dnum, weights = ~pw, data = apiclus1), ~stype + sch.wide, totals,
                 calfun = "raking")
write.csv(data.frame(w = weights(cal)), "api_cal_weights.csv", row.names = FALSE)
add("cal_clus1_linear", svyglm(lin, cal))
add("cal_clus1_logistic", svyglm(I(api00 > 650) ~ ell + meals, cal, family = quasibinomial()))

# --- the demo wave ------------------------------------------------------------------------------
# factor levels in code-point order, which is how the Python side (patsy) sorts them
lev <- function(x) factor(x, levels = sort(unique(x[!is.na(x)]), method = "radix"))
demo <- read.csv("demo_wave.csv", colClasses = c(stratum = "character", psu = "character",
                                                 county_code = "character"), encoding = "UTF-8")
for (v in c("education", "age_band", "sex", "urban")) demo[[v]] <- lev(demo[[v]])
dd <- svydesign(ids = ~psu, strata = ~stratum, weights = ~w_final, nest = TRUE, data = demo)
demo_formula <- literate ~ education + age_band + sex + urban
m <- svyglm(demo_formula, dd, family = quasibinomial())
add("demo_logistic", m)
wald("demo_logistic", m, "education")
wald("demo_logistic", m, "age_band")
add("demo_sub_logistic", svyglm(literate ~ education + age_band + sex, dd, subset = urban == "城镇",
                                family = quasibinomial()))

jk <- read.csv("demo_jkn.csv", colClasses = c(stratum = "character", psu = "character",
                                              county_code = "character"), encoding = "UTF-8")
for (v in c("education", "age_band", "sex", "urban")) jk[[v]] <- lev(jk[[v]])
rs <- read.csv("demo_jkn_rscales.csv")$rscales
rep_cols <- grep("^rep_", names(jk), value = TRUE)
djk <- svrepdesign(data = jk, repweights = jk[, rep_cols], weights = ~w_final, type = "JKn", scale = 1,
                   rscales = rs, combined.weights = TRUE, mse = FALSE)
m <- svyglm(demo_formula, djk, family = quasibinomial())
add("demo_jkn_logistic", m)
wald("demo_jkn_logistic", m, "age_band")
# the same respondents as a linearised design, for comparison with the replicate fit
dj <- svydesign(ids = ~psu, strata = ~stratum, weights = ~w_final, nest = TRUE, data = jk)
add("demo_jkn_taylor_logistic", svyglm(demo_formula, dj, family = quasibinomial()))

g <- do.call(rbind, out)
write.csv(g, "golden.csv", row.names = FALSE)
write.csv(do.call(rbind, tests), "golden_wald.csv", row.names = FALSE)
cat(nrow(g), "golden rows,", length(tests), "Wald tests\n")
