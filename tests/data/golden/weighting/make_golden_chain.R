# Golden for the whole weighting chain without trimming, computed independently in R:
# base weights -> AAPOR weighting-class non-response adjustment (county x urban) -> rake() to
# county x sex x age band and county x education, for the full sample and every JKn replicate
# (each replicate's non-response adjustment and raking redone on its own weights).
# Inputs in chain/ are a small synthetic wave (made by tests/weighting/synthetic.py, make_wave(seed=3,
# counties=[350502, 350521, 350582, QZTS], psu_per_county=4, ssu_per_psu=3, hh_per_ssu=30); now
# pipeline/simulate/synthetic.py, weighting_tables(draw_wave(...)) with the same arguments), the
# county x sex x age control summed over urban/rural). Run from the project root:
#   Rscript tests/data/golden/weighting/make_golden_chain.R
suppressMessages(library(survey))
dir <- "tests/data/golden/weighting/chain"
cc <- c(county_code = "character", psu = "character", stratum = "character", respondent_id = "character")
resp <- read.csv(file.path(dir, "respondents.csv"), colClasses = cc)
cont <- read.csv(file.path(dir, "contacts.csv"),
                 colClasses = c(cc, household_id = "character", disposition = "character"))
csa <- read.csv(file.path(dir, "county_sex_age.csv"), colClasses = c(county_code = "character"))
ced <- read.csv(file.path(dir, "county_education.csv"), colClasses = c(county_code = "character"))

# JKn replicate factors of the PSUs, from R's own jackknife on the contacts' design
cont$hw <- 1 / (cont$p_psu * cont$p_ssu * cont$p_hh)
dc <- svydesign(ids = ~psu, strata = ~stratum, weights = ~hw, data = cont)
rc <- as.svrepdesign(dc, type = "JKn", compress = FALSE)
F <- as.matrix(rc$repweights)  # contacts x replicates: 0, n_h/(n_h-1) or 1
psu_factor <- F[match(unique(cont$psu), cont$psu), , drop = FALSE]
rownames(psu_factor) <- unique(cont$psu)
R <- ncol(F)

# AAPOR status: I = accepted complete; ENR = 1.1 without respondent id, 1.2, 2.x; U = 3.x; NE = 4.x
d <- cont$disposition
rid <- ifelse(is.na(cont$respondent_id) | cont$respondent_id == "", NA, cont$respondent_id)
status <- ifelse(substr(d, 1, 3) == "1.1" & !is.na(rid), "RESP",
          ifelse(substr(d, 1, 1) %in% c("1", "2"), "ENR", ifelse(substr(d, 1, 1) == "3", "UNK", "NE")))
cls_c <- paste(cont$county_code, cont$urban, sep = "|")
hh_of_resp <- match(resp$respondent_id, rid)
cls_r <- cls_c[hh_of_resp]

nr_factor <- function(hw) {  # hw: household weights of one column
  s <- function(st) tapply(hw * (status == st), cls_c, sum)
  resp_w <- s("RESP"); enr <- s("ENR"); unk <- s("UNK"); ne <- s("NE")
  e <- ifelse(resp_w + enr + ne > 0, (resp_w + enr) / (resp_w + enr + ne), 1)
  f <- ifelse(resp_w > 0, (resp_w + enr + e * unk) / resp_w, 0)
  f[cls_r]
}
resp$w_base <- resp$n_adults / (resp$p_psu * resp$p_ssu * resp$p_hh)
resp$w_nr <- resp$w_base * nr_factor(cont$hw)
repw <- sapply(seq_len(R), function(r) {
  fr <- psu_factor[resp$psu, r]
  resp$w_base * fr * nr_factor(cont$hw * F[, r])
})

resp$csa <- factor(paste(resp$county_code, resp$sex, resp$age_band, sep = "|"))
resp$ced <- factor(paste(resp$county_code, resp$education, sep = "|"))
pop_csa <- data.frame(csa = paste(csa$county_code, csa$sex, csa$age_band, sep = "|"), Freq = csa$population)
pop_ced <- data.frame(ced = paste(ced$county_code, ced$education, sep = "|"), Freq = ced$population)
stopifnot(setequal(levels(resp$csa), pop_csa$csa), setequal(levels(resp$ced), pop_ced$ced))
# rake() on an svrepdesign judges convergence on the full-sample weights only, so each replicate is
# raked as a design of its own to converge it fully.
tight <- list(maxit = 1000, epsilon = 1e-13, verbose = FALSE)
rake_col <- function(w) {
  keep <- w > 0
  des <- svydesign(ids = ~1, weights = w[keep], data = resp[keep, ])
  out <- numeric(length(w))
  out[keep] <- weights(rake(des, list(~csa, ~ced), list(pop_csa, pop_ced), control = tight))
  out
}
fmt <- function(x) formatC(x, digits = 17, format = "g")
out <- data.frame(respondent_id = resp$respondent_id, psu = resp$psu, w_base = fmt(resp$w_base),
                  w_nr = fmt(resp$w_nr), w_cal = fmt(rake_col(resp$w_nr)))
reps <- apply(repw, 2, rake_col)
repdf <- as.data.frame(apply(reps, 2, fmt))
names(repdf) <- sprintf("r%03d", seq_len(R))
write.csv(cbind(out, repdf), file.path(dir, "chain_weights.csv"), row.names = FALSE, quote = FALSE)
cat("chain golden:", nrow(out), "respondents,", R, "replicates\n")
