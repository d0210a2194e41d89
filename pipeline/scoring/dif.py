"""Differential item functioning: Mantel–Haenszel across rest-score strata, ETS A/B/C classes.

Per item, respondents are matched on the rest score (total of the other items, in points, rounded to
the nearest whole point). The stage counts its tables from each item's answer cells (dif_of_cells), not
from respondent rows; both give the same counts. Within stratum k the 2×2 table is reference right A_k / wrong B_k, focal
right C_k / wrong D_k, N_k in all. An item counts as right only with full credit.

- α_MH = Σ(A_k D_k / N_k) / Σ(B_k C_k / N_k)  (Mantel & Haenszel 1959); α > 1 favours the reference group.
- MH D-DIF = −2.35 ln α_MH (Holland & Thayer 1988): negative = harder for the focal group.
- SE(ln α_MH): Robins, Breslow & Greenland (1986), the estimator behind R's mantelhaen.test interval
  (Phillips & Holland 1987 give the same variance for the D-DIF scale).
- MH chi-square with continuity correction, as R's mantelhaen.test(correct = TRUE):
  (|Δ| − c)² / Σ Var(A_k), Δ = Σ A_k − Σ E(A_k), c = 0.5 when |Δ| ≥ 0.5 else 0, E(A_k) = n_Rk m_1k / N_k,
  Var(A_k) = n_Rk n_Fk m_1k m_0k / (N_k² (N_k − 1)); strata with N_k < 2 carry no information and
  are left out (R refuses them).

ETS classes (Zwick 2012, ETS RR-12-08, "A review of ETS DIF assessment procedures", §2; the
interval test as set out by Paek & Holland 2015, Psychometrika 80:406–411):
- A: |D| < 1, or the MH chi-square is not significant at the 0.05 level;
- C: |D| ≥ 1.5 and |D| significantly greater than 1, i.e. (|D| − 1) / SE(D) > z_0.95 = 1.645
  (one-sided test of H0: |Δ| ≤ 1 at the 0.05 level);
- B: every other item.
"""

from __future__ import annotations

import numpy as np
from scipy import stats

DELTA_SCALE = -2.35
ALPHA_LEVEL = 0.05


def mh_tables(y: np.ndarray, focal: np.ndarray, strata: np.ndarray) -> np.ndarray:
    """Counts (K × 4): columns A (ref right), B (ref wrong), C (focal right), D (focal wrong).

    y: 0/1 right; focal: 0 = reference, 1 = focal; strata: integer stratum per respondent (≥ 0).
    """
    y = np.asarray(y, dtype=np.int64)
    g = np.asarray(focal, dtype=np.int64)
    s = np.asarray(strata, dtype=np.int64)
    k = int(s.max()) + 1 if s.size else 0
    cell = s * 4 + g * 2 + (1 - y)  # A = ref right (0), B = ref wrong (1), C = focal right (2), D (3)
    return np.bincount(cell, minlength=k * 4).reshape(k, 4).astype(np.float64)


def mantel_haenszel(tables: np.ndarray) -> dict[str, float]:
    """MH common odds ratio, its RBG standard error on the log scale, and the MH chi-square."""
    a, b, c, d = (tables[:, j] for j in range(4))
    n = a + b + c + d
    keep = n >= 2
    a, b, c, d, n = a[keep], b[keep], c[keep], d[keep], n[keep]
    nan = {"alpha_mh": np.nan, "ln_alpha_se": np.nan, "chi2": np.nan, "p_value": np.nan, "n": float(n.sum())}
    if n.size == 0:
        return nan
    r = a * d / n
    s = b * c / n
    sr, ss = r.sum(), s.sum()
    n_ref, n_foc = a + b, c + d
    m1, m0 = a + c, b + d
    var_a = n_ref * n_foc * m1 * m0 / (n**2 * (n - 1))
    delta = (a - n_ref * m1 / n).sum()
    v = var_a.sum()
    if v > 0:
        yates = 0.5 if abs(delta) >= 0.5 else 0.0  # R's rule, so small differences are not zeroed
        chi2 = (abs(delta) - yates) ** 2 / v
        p_value = float(stats.chi2.sf(chi2, 1))
    else:
        chi2, p_value = np.nan, np.nan
    if sr > 0 and ss > 0:
        alpha = sr / ss
        p = (a + d) / n
        q = (b + c) / n
        var_ln = ((p * r).sum() / (2 * sr**2) + (p * s + q * r).sum() / (2 * sr * ss)
                  + (q * s).sum() / (2 * ss**2))
        se = float(np.sqrt(var_ln))
    else:
        alpha, se = np.nan, np.nan
    return {"alpha_mh": float(alpha), "ln_alpha_se": se, "chi2": float(chi2), "p_value": p_value,
            "n": float(n.sum())}


def ets_class(d_dif: float, d_se: float, p_value: float) -> str | None:
    """ETS A/B/C class of one item (see the module note); None when D-DIF cannot be estimated."""
    if not np.isfinite(d_dif):
        return None
    size = abs(d_dif)
    if size < 1.0 or not (np.isfinite(p_value) and p_value < ALPHA_LEVEL):
        return "A"
    z_crit = stats.norm.ppf(1 - ALPHA_LEVEL)
    if size >= 1.5 and np.isfinite(d_se) and d_se > 0 and (size - 1.0) / d_se > z_crit:
        return "C"
    return "B"


def dif_item(y: np.ndarray, focal: np.ndarray, strata: np.ndarray) -> dict[str, float | str | None]:
    """MH statistics, D-DIF and ETS class of one item from respondent-level arrays."""
    return summarise(mantel_haenszel(mh_tables(y, focal, strata)))


def summarise(res: dict[str, float]) -> dict[str, float | str | None]:
    alpha = res["alpha_mh"]
    d = DELTA_SCALE * np.log(alpha) if np.isfinite(alpha) and alpha > 0 else np.nan
    d_se = abs(DELTA_SCALE) * res["ln_alpha_se"]
    return {**res, "d_dif": float(d), "d_se": float(d_se), "class": ets_class(d, d_se, res["p_value"])}


def stratum_tables(rest: np.ndarray, focal: np.ndarray, wrong: np.ndarray,
                   count: np.ndarray | None = None) -> np.ndarray:
    """Counts (K × 4) by rest-score stratum, columns as in mh_tables: rest in points, rounded to the
    nearest whole point, strata from the lowest one found (empty strata carry no information, so where
    they start does not matter); focal 0/1, wrong 0/1; count: respondents per entry (1 each when None)."""
    s = np.rint(np.asarray(rest, dtype=np.float64)).astype(np.int64)
    if s.size == 0:
        return np.zeros((0, 4))
    s -= s.min()
    cell = s * 4 + 2 * np.asarray(focal, dtype=np.int64) + np.asarray(wrong, dtype=np.int64)
    return np.bincount(cell, weights=count, minlength=(int(s.max()) + 1) * 4).reshape(-1, 4).astype(np.float64)


def dif_tables(earned: np.ndarray, full_credit: np.ndarray, focal: dict[str, np.ndarray]) -> dict[str, list[dict]]:
    """MH DIF for every item and every grouping, from respondent-level matrices. focal[name]: 0 reference,
    1 focal, −1 in neither group."""
    k = earned.shape[1]
    total = earned.sum(axis=1)
    wrong = ~np.asarray(full_credit, dtype=bool)
    out = {}
    for name, f in focal.items():
        f = np.asarray(f)
        use = f >= 0
        out[name] = [summarise(mantel_haenszel(stratum_tables((total - earned[:, i])[use], f[use], wrong[use, i])))
                     for i in range(k)]
    return out


def dif_of_cells(cells, names: list[str], full_credit: float) -> dict[str, list[dict]]:
    """MH DIF for every item (its pipeline.scoring.psychometrics.ItemCells) and every grouping, named in
    the order of the cells' grouping axes; an answer slot is right when its credit ≥ full_credit."""
    out: dict[str, list[dict]] = {name: [] for name in names}
    for cell in cells:
        size = cell.rest.size
        wrong = np.tile(np.broadcast_to(cell.credit < full_credit, cell.rest.shape).ravel(), 2)
        rest = np.tile(cell.rest.ravel(), 2)
        focal = np.repeat(np.array([0, 1]), size)
        for p, name in enumerate(names):
            others = tuple(a for a in range(len(names)) if a != p)
            by = cell.counts.sum(axis=others) if others else cell.counts  # (3, T, S): neither, reference, focal
            count = np.concatenate([by[1].ravel(), by[2].ravel()])
            keep = count > 0
            tables = stratum_tables(rest[keep], focal[keep], wrong[keep], count[keep].astype(np.float64))
            out[name].append(summarise(mantel_haenszel(tables)))
    return out


def dif_table(earned: np.ndarray, full_credit: np.ndarray, focal: np.ndarray) -> list[dict]:
    """MH DIF for every item for one grouping (see dif_tables)."""
    use = np.asarray(focal) >= 0
    return dif_tables(earned[use], full_credit[use], {"g": np.asarray(focal)[use]})["g"]
