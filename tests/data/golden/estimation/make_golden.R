# Golden values for pipeline.estimation, computed with R's survey package on the api data.
# Run from this folder:  Rscript make_golden.R
# Writes golden.csv (one row per case × quantity × domain) and the replicate-weight matrices and
# derived data sets the Python tests feed to pipeline.estimation.Design.
suppressMessages(library(survey))
data(api)
options(digits = 15)
out <- list()
add <- function(case, quantity, variable, by, domain, est, se = NA, deff = NA, lci = NA, uci = NA, df = NA) {
  out[[length(out) + 1]] <<- data.frame(case = case, quantity = quantity, variable = variable, by = by,
    domain = as.character(domain), est = as.numeric(est), se = as.numeric(se), deff = as.numeric(deff),
    lci = as.numeric(lci), uci = as.numeric(uci), df = as.numeric(df), stringsAsFactors = FALSE)
}
stat1 <- function(case, fun, var, d, quantity) {
  r <- fun(as.formula(paste0("~", var)), d, deff = TRUE, na.rm = TRUE)
  add(case, quantity, var, "", "all", coef(r), SE(r), deff(r), df = degf(d[!is.na(d$variables[[var]]), ]))
}
statby <- function(case, fun, var, by, d, quantity) {
  r <- svyby(as.formula(paste0("~", var)), as.formula(paste0("~", by)), d, fun, deff = TRUE, na.rm = TRUE)
  doms <- as.character(r[[by]])
  dfs <- sapply(doms, function(v) degf(d[!is.na(d$variables[[by]]) & as.character(d$variables[[by]]) == v &
                                           !is.na(d$variables[[var]]), ]))
  add(case, quantity, var, by, doms, coef(r), SE(r), deff(r), df = dfs)
}
ciprop1 <- function(case, var, d, method) {
  r <- svyciprop(as.formula(paste0("~", var)), d, method = method)
  ci <- confint(r)
  add(case, paste0("ciprop_", method), var, "", "all", coef(r), sqrt(vcov(r)), NA, ci[1], ci[2], degf(d))
}
cipropby <- function(case, var, by, d, method) {
  r <- svyby(as.formula(paste0("~", var)), as.formula(paste0("~", by)), d, svyciprop, vartype = c("se", "ci"),
             method = method)
  doms <- as.character(r[[by]])
  dfs <- sapply(doms, function(v) degf(d[as.character(d$variables[[by]]) == v, ]))
  # confint() on an svyby object would give a Wald interval: take the method's own bounds
  add(case, paste0("ciprop_", method), var, by, doms, coef(r), SE(r), NA, r$ci_l, r$ci_u, dfs)
}
standard <- function(case, d, byvar = "stype") {
  stat1(case, svymean, "api00", d, "mean")
  stat1(case, svytotal, "enroll", d, "total")
  statby(case, svymean, "api00", byvar, d, "mean")
  statby(case, svytotal, "enroll", byvar, d, "total")
  stat1(case, svymean, "ell0", d, "mean")
  for (m in c("logit", "beta")) {
    ciprop1(case, "ell0", d, m)
    cipropby(case, "ell0", byvar, d, m)
    ciprop1(case, "sw", d, m)
    cipropby(case, "sw", byvar, d, m)
  }
}
prep <- function(x) {
  x$ell0 <- as.numeric(x$ell == 0)  # the rare case: few schools with no English-language learners
  x$sw <- as.numeric(x$sch.wide == "Yes")
  x$hi <- as.numeric(x$api00 > 650)  # a common share, so no replicate of a small domain is all 0 or all 1
  x
}
apistrat <- prep(apistrat); apiclus1 <- prep(apiclus1); apiclus2 <- prep(apiclus2)

# --- Taylor designs, with and without first-stage FPC -------------------------------------------
standard("strat", svydesign(id = ~1, strata = ~stype, weights = ~pw, data = apistrat), "sch.wide")
standard("strat_fpc", svydesign(id = ~1, strata = ~stype, weights = ~pw, fpc = ~fpc, data = apistrat), "sch.wide")
standard("clus1", svydesign(id = ~dnum, weights = ~pw, data = apiclus1))
standard("clus1_fpc", svydesign(id = ~dnum, weights = ~pw, fpc = ~fpc, data = apiclus1))
# two-stage design, ultimate-cluster variance (no FPC) and first-stage FPC on a one-stage declaration
c2 <- svydesign(id = ~dnum + snum, weights = ~pw, data = apiclus2)
standard("clus2", c2)
statby("clus2", svymean, "acs.k3", "stype", c2, "mean")   # missing values: domain excludes them
stat1("clus2", svymean, "acs.k3", c2, "mean")
c2f <- svydesign(id = ~dnum, weights = ~pw, fpc = ~fpc1, data = apiclus2)
standard("clus2_fpc", c2f)
statby("clus2_fpc", svymean, "acs.k3", "stype", c2f, "mean")

# --- lonely PSUs --------------------------------------------------------------------------------
# apistrat with only one high school left: stratum H has a single PSU. The domain variable `dom`
# has exactly one member in stratum M, so M is lonely only inside that domain.
lon <- apistrat[apistrat$stype != "H" | apistrat$snum == apistrat$snum[apistrat$stype == "H"][1], ]
lon$dom <- ifelse(lon$stype == "M", lon$snum == lon$snum[lon$stype == "M"][1], lon$api00 > 650)
lon$dom <- ifelse(lon$dom, "in", "out")
write.csv(lon[, c("snum", "stype", "pw", "fpc", "api00", "enroll", "sch.wide", "dom")], "lonely_data.csv", row.names = FALSE)
for (pol in c("remove", "certainty", "adjust", "average")) {
  options(survey.lonely.psu = pol)
  dl <- svydesign(id = ~1, strata = ~stype, weights = ~pw, data = lon)
  case <- paste0("lonely_", pol)
  stat1(case, svymean, "api00", dl, "mean")
  # R 4.1.1 centres a lonely PSU's *total* at 0 under "adjust"; survey revised this in 2022 to the
  # average PSU total (the Python side follows the revision, tested with survey's own lonely.psu.R case)
  if (pol != "adjust") stat1(case, svytotal, "enroll", dl, "total")
  statby(case, svymean, "api00", "sch.wide", dl, "mean")
  statby(case, svymean, "api00", "dom", dl, "mean")
}
# the survey package's own lonely-PSU cases (tests/lonely.psu.R): strata = district in apiclus1, many
# singleton strata; then the same with an FPC that makes district 413 a certainty stratum
apiclus1$fpc413 <- ifelse(apiclus1$dnum == 413, 1, 1000)
for (pol in c("remove", "certainty", "adjust", "average")) {
  options(survey.lonely.psu = pol)
  stat1(paste0("rlonely_", pol), svymean, "api00", svydesign(id = ~1, weights = ~pw, strata = ~dnum, data = apiclus1), "mean")
  stat1(paste0("rlonelyfpc_", pol), svymean, "api00",
        svydesign(id = ~1, weights = ~pw, strata = ~dnum, data = apiclus1, fpc = ~fpc413), "mean")
}
options(survey.lonely.psu = "fail")
dl <- svydesign(id = ~1, strata = ~stype, weights = ~pw, data = lon)
msg <- tryCatch({svymean(~api00, dl); "no error"}, error = function(e) conditionMessage(e))
add("lonely_fail", "error", "api00", "", msg, NA)

# --- replicate designs ----------------------------------------------------------------------------
reps <- function(case, r, data, byvar) {
  w <- weights(r, "analysis")
  write.csv(round(w, 12), paste0("repw_", case, ".csv"), row.names = FALSE)
  write.csv(data.frame(scale = r$scale, rscales = r$rscales, mse = r$mse), paste0("repinfo_", case, ".csv"),
            row.names = FALSE)
  stat1(case, svymean, "api00", r, "mean")
  stat1(case, svytotal, "enroll", r, "total")
  statby(case, svymean, "api00", byvar, r, "mean")
  for (m in c("logit", "beta")) {
    ciprop1(case, "ell0", r, m)
    cipropby(case, "hi", byvar, r, m)
  }
}
ds <- svydesign(id = ~1, strata = ~stype, weights = ~pw, data = apistrat)
reps("jkn", as.svrepdesign(ds, type = "JKn"), apistrat, "sch.wide")
set.seed(20240501)
reps("boot", as.svrepdesign(svydesign(id = ~dnum, weights = ~pw, data = apiclus1), type = "bootstrap",
                            replicates = 50), apiclus1, "stype")
# BRR and Fay need two PSUs per stratum: pair the schools within school type (file order)
pairs <- apistrat
pairs$pair <- paste(pairs$stype, ave(seq_len(nrow(pairs)), pairs$stype, FUN = function(i) ceiling(seq_along(i) / 2)))
write.csv(data.frame(pair = pairs$pair), "brr_pairs.csv", row.names = FALSE)
dp <- svydesign(id = ~1, strata = ~pair, weights = ~pw, data = pairs)
reps("brr", as.svrepdesign(dp, type = "BRR"), pairs, "sch.wide")
reps("fay", as.svrepdesign(dp, type = "Fay", fay.rho = 0.3), pairs, "sch.wide")

# --- calibrated designs ---------------------------------------------------------------------------
pop_stype <- data.frame(stype = c("E", "H", "M"), Freq = c(4421, 755, 1018))
pop_sw <- data.frame(sch.wide = c("No", "Yes"), Freq = c(1077, 5117))
cal <- function(case, d, byvar) {
  write.csv(data.frame(w = weights(d)), paste0("calw_", case, ".csv"), row.names = FALSE)
  stat1(case, svymean, "api00", d, "mean")
  stat1(case, svytotal, "enroll", d, "total")
  statby(case, svymean, "api00", byvar, d, "mean")
  for (m in c("logit")) {
    ciprop1(case, "ell0", d, m)
    cipropby(case, "ell0", byvar, d, m)
  }
}
totals <- c(`(Intercept)` = 6194, stypeH = 755, stypeM = 1018, sch.wideYes = 5117)
cal("cal_strat", calibrate(ds, ~stype + sch.wide, totals, calfun = "raking"), "awards")
cal("cal_clus1", calibrate(svydesign(id = ~dnum, weights = ~pw, data = apiclus1), ~stype + sch.wide, totals,
                           calfun = "raking"), "awards")
cal("rake_clus1", rake(svydesign(id = ~dnum, weights = ~pw, data = apiclus1), list(~stype, ~sch.wide),
                       list(pop_stype, pop_sw)), "awards")

# rake() backfits the residuals for only 10 sweeps; the exact least-squares projection (what the Python
# side solves) computed here in R: OLS of u = (y - ybar)/N on the margins, variance of w * residual
rk <- rake(svydesign(id = ~dnum, weights = ~pw, data = apiclus1), list(~stype, ~sch.wide), list(pop_stype, pop_sw))
w <- weights(rk)
u <- (apiclus1$api00 - sum(w * apiclus1$api00) / sum(w)) / sum(w)
res <- residuals(lm(u ~ stype + sch.wide, data = apiclus1))
v <- survey:::svyrecvar(matrix(w * res), rk$cluster, rk$strata, rk$fpc, postStrata = NULL)
add("rake_exact", "mean", "api00", "", "all", sum(w * apiclus1$api00) / sum(w), sqrt(v[1, 1]))

g <- do.call(rbind, out)
write.csv(g, "golden.csv", row.names = FALSE)
cat("wrote", nrow(g), "golden rows\n")
