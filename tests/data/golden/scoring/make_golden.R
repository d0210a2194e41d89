# Golden numbers for tests/scoring/test_psychometrics.py and tests/scoring/test_dif.py.
# Run from the repository root:  Rscript tests/data/golden/scoring/make_golden.R
# Needs R with the psych package (Debian: r-cran-psych); mantelhaen.test is in base R's stats.
# Writes the inputs (item matrix, 2x2xK tables) and the statistics computed from them by R.
suppressPackageStartupMessages(library(psych))
out <- "tests/data/golden/scoring"
set.seed(20240613)

# ---- items: 500 respondents x 10 dichotomous items under a 2PL model, two dimensions ----
n <- 500; k <- 10
theta <- rnorm(n)
a <- runif(k, 0.7, 2.0); b <- runif(k, -1.5, 1.2)
p <- plogis(sweep(outer(theta, b, "-"), 2, a, "*"))
right <- (matrix(runif(n * k), n, k) < p) * 1
points <- c(1, 1.25, 2.5, 1, 2, 1.5, 1.25, 2.5, 1, 2)
dimension <- c(rep("knowledge", 6), rep("methods", 4))
colnames(right) <- sprintf("I%02d", 1:k)
x <- sweep(right, 2, points, "*")  # item scores in points
write.csv(right, file.path(out, "items_right.csv"), row.names = FALSE)
write.csv(data.frame(item_id = colnames(right), points = points, dimension = dimension),
          file.path(out, "items_spec.csv"), row.names = FALSE)

al <- function(m) alpha(m, check.keys = FALSE, warnings = FALSE)
whole <- al(x)
rows <- list()
for (d in unique(dimension)) {
  idx <- which(dimension == d)
  ad <- al(x[, idx])
  rows[[d]] <- data.frame(item_id = colnames(right)[idx], alpha_if_deleted = ad$alpha.drop$raw_alpha)
}
items <- do.call(rbind, rows)
items$point_biserial <- whole$item.stats[items$item_id, "r.drop"]
write.csv(items, file.path(out, "items_golden.csv"), row.names = FALSE)

scopes <- data.frame(scope = c("knowledge", "methods", "total"))
scopes$alpha <- sapply(scopes$scope, function(s) {
  idx <- if (s == "total") 1:k else which(dimension == s); al(x[, idx])$total$raw_alpha })
# KR-20 equals alpha of the unit-weighted right/wrong items
scopes$kr20 <- sapply(scopes$scope, function(s) {
  idx <- if (s == "total") 1:k else which(dimension == s); al(right[, idx])$total$raw_alpha })
write.csv(scopes, file.path(out, "reliability_golden.csv"), row.names = FALSE)

# ---- Mantel-Haenszel: reference/focal x right/wrong x 8 rest-score strata ----
K <- 8
tab <- array(0L, dim = c(2, 2, K))
for (s in 1:K) {
  nr <- sample(20:60, 1); nf <- sample(15:50, 1)
  pr <- plogis((s - 4.5) / 1.5); pf <- plogis((s - 4.5) / 1.5 - 0.6)
  ar <- rbinom(1, nr, pr); af <- rbinom(1, nf, pf)
  tab[, , s] <- matrix(c(ar, af, nr - ar, nf - af), 2, 2)  # [group, response]: rows ref/focal, cols right/wrong
}
write.csv(data.frame(stratum = 1:K, A = tab[1, 1, ], B = tab[1, 2, ], C = tab[2, 1, ], D = tab[2, 2, ]),
          file.path(out, "mh_tables.csv"), row.names = FALSE)
# a second, fixed table whose |sum(A - E(A))| < 0.5, where R applies no continuity correction
small <- array(c(5L, 5L, 5L, 5L, 3L, 2L, 3L, 3L), dim = c(2, 2, 2))
write.csv(data.frame(stratum = 1:2, A = small[1, 1, ], B = small[1, 2, ], C = small[2, 1, ], D = small[2, 2, ]),
          file.path(out, "mh_tables_small.csv"), row.names = FALSE)
gold <- function(case, t) {
  mh <- mantelhaen.test(t, correct = TRUE)
  se_ln <- (log(mh$conf.int[2]) - log(mh$estimate)) / qnorm(0.975)
  data.frame(case = case, alpha_mh = unname(mh$estimate), chi2 = unname(mh$statistic), p_value = mh$p.value,
             ln_alpha_se = unname(se_ln))
}
write.csv(rbind(gold("simulated", tab), gold("small", small)), file.path(out, "mh_golden.csv"), row.names = FALSE)
cat("golden numbers written to", out, "\n")
