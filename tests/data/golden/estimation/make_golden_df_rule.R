# Golden intervals for the replicate designs' df rule: PSUs with domain members − strata with domain
# members (the Taylor count), which the pipeline uses instead of R's degf (rank of the replicate weights
# − 1). svyciprop is given that df; everything else is R's own computation on the same designs as
# make_golden.R. Run from this folder:  Rscript make_golden_df_rule.R   → golden_df_rule.csv
suppressMessages(library(survey))
data(api)
options(digits = 15)
apistrat$hi <- as.numeric(apistrat$api00 > 650)
rows <- list()
count_df <- function(sub, psu, stratum) {
  n_psu <- if (is.null(psu)) nrow(sub) else length(unique(sub[[psu]]))
  n_psu - length(unique(sub[[stratum]]))
}
# svyciprop(method = "beta") ignores its df argument (it calls degf(design)); these are its own lines
# (survey 4.x) with the df given instead
beta_ci <- function(d, df, level = 0.95) {
  m <- svymean(~hi, d)
  n.eff <- coef(m) * (1 - coef(m)) / vcov(m)
  rval <- coef(m)[1]
  alpha <- 1 - level
  n.eff <- n.eff * (qt(alpha / 2, nrow(d) - 1) / qt(alpha / 2, df))^2
  c(qbeta(alpha / 2, n.eff * rval, n.eff * (1 - rval) + 1), qbeta(1 - alpha / 2, n.eff * rval + 1, n.eff * (1 - rval)))
}
domains <- function(case, r, data, stratum) {
  for (v in c("No", "Yes")) {
    keep <- data$sch.wide == v
    k <- count_df(data[keep, ], NULL, stratum)
    for (m in c("logit", "beta")) {
      ci <- svyciprop(~hi, subset(r, sch.wide == v), method = m, df = k)
      b <- if (m == "beta") beta_ci(subset(r, sch.wide == v), k) else confint(ci)
      rows[[length(rows) + 1]] <<- data.frame(case = case, quantity = paste0("ciprop_", m), variable = "hi",
        by = "sch.wide", domain = v, est = as.numeric(coef(ci)), se = as.numeric(sqrt(vcov(ci))),
        lci = b[1], uci = b[2], df = k, stringsAsFactors = FALSE)
    }
  }
}
ds <- svydesign(id = ~1, strata = ~stype, weights = ~pw, data = apistrat)
domains("jkn", as.svrepdesign(ds, type = "JKn"), apistrat, "stype")
pairs <- apistrat
pairs$pair <- paste(pairs$stype, ave(seq_len(nrow(pairs)), pairs$stype, FUN = function(i) ceiling(seq_along(i) / 2)))
dp <- svydesign(id = ~1, strata = ~pair, weights = ~pw, data = pairs)
domains("brr", as.svrepdesign(dp, type = "BRR"), pairs, "pair")
domains("fay", as.svrepdesign(dp, type = "Fay", fay.rho = 0.3), pairs, "pair")
write.csv(do.call(rbind, rows), "golden_df_rule.csv", row.names = FALSE)
