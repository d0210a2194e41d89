# Golden values for the Fay-Herriot model in pipeline/estimation/sae.py.
# The Fay-Herriot model is the random-effects meta-regression with known sampling variances, so
# metafor::rma(method = "REML") fits the same likelihood; blup() gives the EBLUP and its g1 + g2 part of
# the MSE. Run from this folder:  Rscript make_golden_sae.R
suppressMessages(library(metafor))
one <- function(case, seed, sd_u) {
  set.seed(seed)
  m <- 15
  x <- round(runif(m, 0.3, 1), 4)
  psi <- round(runif(m, 0.0005, 0.004), 6)
  y <- round(0.05 + 0.2 * x + rnorm(m, 0, sd_u) + rnorm(m, 0, sqrt(psi)), 6)
  fit <- rma(yi = y, vi = psi, mods = ~x, method = "REML", control = list(threshold = 1e-14, maxiter = 1000))
  b <- blup(fit)
  cat(case, "tau2", fit$tau2, "\n")
  data.frame(case = case, area = seq_len(m), y = y, psi = psi, x = x, model_est = b$pred, g12 = b$se^2,
             sigma2_u = fit$tau2, beta0 = unname(coef(fit)[1]), beta1 = unname(coef(fit)[2]))
}
# an interior REML solution, and one on the boundary (area variance estimated as 0)
out <- rbind(one("interior", 7, 0.08), one("boundary", 11, 0.04))
write.csv(out, "sae_golden.csv", row.names = FALSE)
