# Golden values for the ML and REML Fay-Herriot fits and their Prasad-Rao / Datta-Lahiri MSE
# (pipeline/estimation/sae.py), computed two independent ways:
#   1. metafor::rma(method = "ML" / "REML"): the random-effects meta-regression with known sampling
#      variances is the Fay-Herriot model;
#   2. the log-likelihood written out by hand and maximised with optimize() (a different algorithm from
#      the pipeline's Fisher scoring), then the EBLUP and the MSE terms g1, g2, g3 (and ML's bias term,
#      the formula of sae::mseFH) by hand.
# The two fits must agree before anything is written. Run from this folder:  Rscript make_golden_sae_ml.R
suppressMessages(library(metafor))

loglik <- function(s2, y, psi, X, reml) {
  v <- s2 + psi
  W <- diag(1 / v)
  XtWX <- t(X) %*% W %*% X
  beta <- solve(XtWX, t(X) %*% W %*% y)
  r <- y - X %*% beta
  ll <- -0.5 * sum(log(v)) - 0.5 * sum(r^2 / v)
  if (reml) ll <- ll - 0.5 * as.numeric(determinant(XtWX, logarithm = TRUE)$modulus)
  ll
}

by_hand <- function(y, psi, X, method) {
  reml <- method == "REML"
  upper <- 10 * var(y) + max(psi)
  opt <- optimize(function(s) loglik(s, y, psi, X, reml), c(0, upper), maximum = TRUE, tol = 1e-14)
  s2 <- opt$maximum
  # the boundary: optimize() stops a hair above 0 when the maximum is at 0
  if (loglik(0, y, psi, X, reml) >= opt$objective) s2 <- 0
  v <- s2 + psi
  W <- diag(1 / v)
  Q <- solve(t(X) %*% W %*% X)
  beta <- Q %*% t(X) %*% W %*% y
  gamma <- s2 / v
  est <- gamma * y + (1 - gamma) * (X %*% beta)
  g1 <- gamma * psi
  g2 <- (1 - gamma)^2 * rowSums((X %*% Q) * X)
  g3 <- psi^2 / v^3 * 2 / sum(1 / v^2)
  mse <- g1 + g2 + 2 * g3
  if (method == "ML") {
    b <- -sum(diag(Q %*% t(X) %*% diag(1 / v^2) %*% X)) / sum(1 / v^2)
    mse <- mse - b * (1 - gamma)^2
  }
  list(s2 = s2, beta = as.numeric(beta), est = as.numeric(est), mse = as.numeric(mse))
}

one <- function(case, seed, sd_u, method) {
  set.seed(seed)
  m <- 15
  x <- round(runif(m, 0.3, 1), 4)
  psi <- round(runif(m, 0.0005, 0.004), 6)
  y <- round(0.05 + 0.2 * x + rnorm(m, 0, sd_u) + rnorm(m, 0, sqrt(psi)), 6)
  X <- cbind(1, x)
  fit <- rma(yi = y, vi = psi, mods = ~x, method = method, control = list(threshold = 1e-14, maxiter = 1000))
  h <- by_hand(y, psi, X, method)
  stopifnot(abs(h$s2 - fit$tau2) <= 1e-6 * max(1e-4, fit$tau2))
  b <- blup(fit)
  stopifnot(max(abs(b$pred - h$est)) < 1e-6)
  cat(case, method, "tau2 metafor", format(fit$tau2, digits = 15), "optimize", format(h$s2, digits = 15), "\n")
  data.frame(case = case, method = method, area = seq_len(m), y = y, psi = psi, x = x,
             sigma2_u = fit$tau2, sigma2_u_optimize = h$s2, beta0 = unname(coef(fit)[1]),
             beta1 = unname(coef(fit)[2]), model_est = b$pred, mse = h$mse)
}
out <- rbind(one("interior", 7, 0.08, "ML"), one("boundary", 11, 0.04, "ML"),
             one("interior", 7, 0.08, "REML"), one("boundary", 11, 0.04, "REML"),
             one("small", 3, 0.05, "ML"), one("small", 3, 0.05, "REML"))
write.csv(out, "sae_golden_ml.csv", row.names = FALSE)
