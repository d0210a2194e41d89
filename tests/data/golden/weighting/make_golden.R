# Golden numbers for tests/weighting: R survey's rake(), postStratify(), calibrate() and JKn
# replicate raking on R's api data. Run from the project root:
#   Rscript tests/data/golden/weighting/make_golden.R
# Writes the api extracts under tests/data/api/ (unless present) and the goldens beside this script.
suppressMessages(library(survey))
data(api)
out <- "tests/data/golden/weighting"
api_dir <- "tests/data/api"
dir.create(api_dir, showWarnings = FALSE, recursive = TRUE)
for (nm in c("apiclus1", "apistrat")) {
  f <- file.path(api_dir, paste0(nm, ".csv"))
  if (!file.exists(f)) write.csv(get(nm), f, row.names = FALSE)
}
tight <- list(maxit = 1000, epsilon = 1e-13, verbose = FALSE)
fmt <- function(x) formatC(x, digits = 17, format = "g")

# Population margins from apipop.
pop_stype <- data.frame(table(stype = apipop$stype))
pop_sw <- data.frame(table(sch.wide = apipop$sch.wide))
pop_aw <- data.frame(table(awards = apipop$awards))
margins <- rbind(
  data.frame(variable = "stype", level = as.character(pop_stype$stype), population = pop_stype$Freq),
  data.frame(variable = "sch.wide", level = as.character(pop_sw$sch.wide), population = pop_sw$Freq),
  data.frame(variable = "awards", level = as.character(pop_aw$awards), population = pop_aw$Freq))
write.csv(margins, file.path(out, "apipop_margins.csv"), row.names = FALSE)

# apiclus1: one-stage cluster sample of districts.
dclus1 <- svydesign(id = ~dnum, weights = ~pw, data = apiclus1, fpc = ~fpc)
w <- data.frame(cds = apiclus1$cds, pw = apiclus1$pw)

rk <- rake(dclus1, list(~stype, ~sch.wide), list(pop_stype, pop_sw), control = tight)
w$rake <- weights(rk)
ps <- postStratify(dclus1, ~stype, pop_stype)
w$poststratify <- weights(ps)
rk1 <- rake(dclus1, list(~stype), list(pop_stype), control = tight)
w$rake_one_margin <- weights(rk1)

tot <- c(`(Intercept)` = nrow(apipop),
         stypeH = sum(apipop$stype == "H"), stypeM = sum(apipop$stype == "M"),
         sch.wideYes = sum(apipop$sch.wide == "Yes"))
lin <- calibrate(dclus1, ~stype + sch.wide, tot, calfun = "linear")
w$linear <- weights(lin)
rkc <- calibrate(dclus1, ~stype + sch.wide, tot, calfun = "raking", epsilon = 1e-14, maxit = 1000)
w$calibrate_raking <- weights(rkc)
# The unbounded linear g-weights run from 0.879 to 1.860: both truncated-linear bounds bind.
bounds_tl <- c(0.88, 1.65)
tl <- calibrate(dclus1, ~stype + sch.wide, tot, calfun = "linear", bounds = bounds_tl,
                epsilon = 1e-14, maxit = 1000)
w$truncated_linear <- weights(tl)
bounds_lg <- c(0.8, 1.75)
lg <- calibrate(dclus1, ~stype + sch.wide, tot, calfun = "logit", bounds = bounds_lg,
                epsilon = 1e-14, maxit = 1000)
w$logit <- weights(lg)
write.csv(data.frame(lapply(w, function(x) if (is.numeric(x)) fmt(x) else x)),
          file.path(out, "apiclus1_weights.csv"), row.names = FALSE, quote = FALSE)
writeLines(c(paste0("truncated_linear_lower,", bounds_tl[1]), paste0("truncated_linear_upper,", bounds_tl[2]),
             paste0("logit_lower,", bounds_lg[1]), paste0("logit_upper,", bounds_lg[2]),
             paste0("linear_g_min,", fmt(min(w$linear / w$pw))), paste0("linear_g_max,", fmt(max(w$linear / w$pw)))),
           file.path(out, "apiclus1_bounds.csv"))

# apistrat: JKn replicates (each school its own PSU within stype), every replicate re-raked.
dstrat <- svydesign(id = ~1, strata = ~stype, weights = ~pw, data = apistrat, fpc = ~fpc)
rstrat <- as.svrepdesign(dstrat, type = "JKn", compress = FALSE)
rrk <- rake(rstrat, list(~sch.wide, ~awards), list(pop_sw, pop_aw), control = tight)
rep <- weights(rrk, "analysis")
full <- weights(rrk, "sampling")
jk <- data.frame(cds = apistrat$cds, stype = apistrat$stype, pw = apistrat$pw, w_full = fmt(full))
repdf <- as.data.frame(apply(rep, 2, fmt))
names(repdf) <- sprintf("r%03d", seq_len(ncol(rep)))
write.csv(cbind(jk, repdf), file.path(out, "apistrat_jkn_raked.csv"), row.names = FALSE, quote = FALSE)
write.csv(data.frame(replicate = seq_along(rstrat$rscales), rscales = fmt(rstrat$rscales), scale = rstrat$scale),
          file.path(out, "apistrat_jkn_rscales.csv"), row.names = FALSE, quote = FALSE)

# A two-variable raking example computed by R (the unit-weight sample of a 3 x 2 table).
# Sample counts by age group (rows) and sex (columns), each unit with weight 1.
cells <- expand.grid(age = c("18-34", "35-54", "55+"), sex = c("M", "F"))
cells$n <- c(40, 55, 30, 45, 60, 20)
units <- cells[rep(seq_len(nrow(cells)), cells$n), c("age", "sex")]
units$w <- 1
d2 <- svydesign(id = ~1, weights = ~w, data = units)
pop_age <- data.frame(age = c("18-34", "35-54", "55+"), Freq = c(300, 420, 280))
pop_sex <- data.frame(sex = c("M", "F"), Freq = c(490, 510))
r2 <- rake(d2, list(~age, ~sex), list(pop_age, pop_sex), control = tight)
units$raked <- weights(r2)
tab <- unique(units[, c("age", "sex", "raked")])
tab <- merge(cells, tab)
tab$raked <- fmt(tab$raked)
write.csv(tab, file.path(out, "two_way_raking.csv"), row.names = FALSE, quote = FALSE)
cat("goldens written to", out, "\n")
