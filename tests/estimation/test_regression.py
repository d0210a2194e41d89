"""Design-based regression against R's survey::svyglm (golden values: golden/regression/make_golden.R)."""

from __future__ import annotations

from functools import cache
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from pipeline.errors import InputError, PipelineError
from pipeline.estimation import Design
from pipeline.estimation.domains import partition_by
from pipeline.estimation.regression import fit_by, fit_glm, irls, linear, logistic, model_matrices, wald_test

DATA = Path(__file__).resolve().parent.parent / "data"
GOLD = DATA / "golden" / "regression"
RTOL = 1e-6

LIN = "api00 ~ ell + meals + mobility"
LOGI = 'I(Q("sch.wide") == "Yes") ~ ell + meals'
HI = "I(api00 > 650) ~ ell + meals"
DEMO = "literate ~ education + age_band + sex + urban"
TEXT = {"stratum": str, "psu": str, "county_code": str}


def _api(name: str) -> pd.DataFrame:
    return pd.read_csv(DATA / "api" / f"{name}.csv")


@cache
def design(name: str) -> Design:
    if name == "strat":
        return Design(_api("apistrat"), stratum="stype", weight="pw")
    if name == "strat_fpc":
        return Design(_api("apistrat"), stratum="stype", weight="pw", fpc="fpc")
    if name == "clus1_fpc":
        return Design(_api("apiclus1"), psu="dnum", weight="pw", fpc="fpc")
    if name == "clus2":
        return Design(_api("apiclus2"), psu="dnum", weight="pw")
    if name == "jkn":
        df = _api("apistrat")
        info = pd.read_csv(GOLD / "api_jkn_info.csv")
        factors = pd.read_csv(GOLD / "api_jkn_factors.csv").to_numpy(float)
        return Design(df, stratum="stype", weight="pw", replicate_weights=factors * df["pw"].to_numpy()[:, None],
                      replicate_method="JKn", scale=float(info["scale"].iloc[0]), rscales=info["rscales"].to_numpy(),
                      mse=bool(info["mse"].iloc[0]))
    if name == "cal_clus1":
        df = _api("apiclus1")
        df["w_cal"] = pd.read_csv(GOLD / "api_cal_weights.csv")["w"].to_numpy()
        return Design(df, psu="dnum", weight="w_cal",
                      calibration={"margins": [["stype"], ["sch.wide"]], "regression_weight": "pw"})
    if name == "demo":
        return Design(pd.read_csv(GOLD / "demo_wave.csv", dtype=TEXT), stratum="stratum", psu="psu",
                      weight="w_final")
    if name in ("demo_jkn", "demo_jkn_taylor"):
        df = pd.read_csv(GOLD / "demo_jkn.csv", dtype=TEXT)
        if name == "demo_jkn_taylor":
            return Design(df, stratum="stratum", psu="psu", weight="w_final")
        reps = [c for c in df.columns if c.startswith("rep_")]
        return Design(df, stratum="stratum", psu="psu", weight="w_final", replicate_weights=reps,
                      replicate_method="JKn", scale=1.0,
                      rscales=pd.read_csv(GOLD / "demo_jkn_rscales.csv")["rscales"].to_numpy(), mse=False)
    raise KeyError(name)


# case → (design, formula, family, subset)
CASES = {
    **{f"{d}_linear": (d, LIN, "linear", None) for d in ("strat", "strat_fpc", "clus1_fpc", "clus2", "jkn")},
    **{f"{d}_logistic": (d, LOGI, "logistic", None) for d in ("strat", "strat_fpc", "clus1_fpc", "clus2", "jkn")},
    "clus2_na_linear": ("clus2", 'api00 ~ Q("acs.k3") + meals', "linear", None),
    "clus2_na_logistic": ("clus2", 'I(Q("sch.wide") == "Yes") ~ Q("acs.k3") + meals', "logistic", None),
    "clus2_factor_logistic": ("clus2", 'I(Q("sch.wide") == "Yes") ~ stype + meals', "logistic", None),
    "strat_sub_linear": ("strat", LIN, "linear", "stype != 'E'"),
    "clus1_sub_logistic": ("clus1_fpc", HI, "logistic", "stype == 'E'"),
    "clus2_sub_linear": ("clus2", LIN, "linear", "stype == 'M'"),
    "jkn_sub_logistic": ("jkn", HI, "logistic", "stype != 'H'"),
    "cal_clus1_linear": ("cal_clus1", LIN, "linear", None),
    "cal_clus1_logistic": ("cal_clus1", HI, "logistic", None),
    "demo_logistic": ("demo", DEMO, "logistic", None),
    "demo_sub_logistic": ("demo", "literate ~ education + age_band + sex", "logistic", "urban == '城镇'"),
    "demo_jkn_logistic": ("demo_jkn", DEMO, "logistic", None),
    "demo_jkn_taylor_logistic": ("demo_jkn_taylor", DEMO, "logistic", None),
}
GOLDEN = pd.read_csv(GOLD / "golden.csv")


@cache
def ours(case: str) -> pd.DataFrame:
    d, formula, family, subset = CASES[case]
    return fit_glm(design(d), formula, family, subset=subset)


def test_every_golden_case_is_checked():
    assert set(GOLDEN["case"]) == set(CASES)


@pytest.mark.parametrize("case", sorted(CASES))
def test_against_r(case):
    gold = GOLDEN[GOLDEN["case"] == case].sort_values("k")
    r = ours(case)
    assert len(r) == len(gold)
    if case == "demo_jkn_logistic":
        gold = _with_project_df(gold, r)
    for col in ("est", "se", "t", "lci", "uci"):
        np.testing.assert_allclose(r[col], gold[col], rtol=RTOL, err_msg=f"{case} {col}")
    np.testing.assert_allclose(r["p_value"], gold["p_value"], rtol=1e-5, atol=1e-300, err_msg=f"{case} p")
    assert (r["df"].to_numpy() == gold["df"].to_numpy()).all(), (case, r["df"].iloc[0], gold["df"].iloc[0])


def _with_project_df(gold: pd.DataFrame, r: pd.DataFrame) -> pd.DataFrame:
    """Re-calibrated replicate weights: R's degf is the rank of the unit-level replicate weights − 1, which
    grows with the respondents; the estimators here take the rank of the PSU sums (replicate_df.py), and
    so does the regression. R's interval is rebuilt with that df; est and se are compared as they are."""
    from scipy import stats

    d = design("demo_jkn")
    reps = d.replicates.weights
    assert gold["df"].iloc[0] == np.linalg.matrix_rank(reps, tol=None) - 1 + 1 - len(r)
    one = d.estimate({"one": np.ones(d.n)}, "total", [partition_by(d.df, None)], variance="replicate")
    df = float(one["df"].iloc[0]) + 1 - len(r)
    assert df < gold["df"].iloc[0]
    q = stats.t.ppf(0.975, df)
    return gold.assign(df=df, lci=gold["est"] - q * gold["se"], uci=gold["est"] + q * gold["se"],
                       p_value=2 * stats.t.sf(np.abs(gold["t"]), df))


def test_term_names_follow_the_formula():
    r = ours("demo_logistic")
    gold = GOLDEN[GOLDEN["case"] == "demo_logistic"].sort_values("k")
    # R names a factor column variable+level, patsy variable[T.level]: the levels must be the same ones
    ours_levels = [t.split("[T.")[-1].rstrip("]") for t in r["term"]]
    assert r["term"].iloc[0] == "Intercept" and gold["term"].iloc[0] == "(Intercept)"
    assert all(g.endswith(o) for g, o in zip(gold["term"][1:], ours_levels[1:], strict=True))


def test_replicate_and_linearised_differ_but_agree_roughly():
    rep, tay = ours("demo_jkn_logistic"), ours("demo_jkn_taylor_logistic")
    np.testing.assert_allclose(rep["est"], tay["est"], rtol=1e-12)
    assert not np.allclose(rep["se"], tay["se"], rtol=1e-3)
    assert np.all((rep["se"] / tay["se"] > 0.5) & (rep["se"] / tay["se"] < 2))


def test_odds_ratios_and_attributes():
    r = ours("demo_logistic")
    np.testing.assert_allclose(r["odds_ratio"], np.exp(r["est"]))
    assert (r["or_lci"] < r["odds_ratio"]).all() and (r["odds_ratio"] < r["or_uci"]).all()
    assert r.attrs["family"] == "quasibinomial" and r.attrs["variance_method"] == "taylor"
    assert r.attrs["converged"] and r.attrs["vcov"].shape == (len(r), len(r))
    np.testing.assert_allclose(np.sqrt(np.diag(r.attrs["vcov"])), r["se"])
    # unscored respondents (missing `literate`) carry zero weight; all others are used
    df = design("demo").df
    assert r.attrs["n"] == int(df["literate"].notna().sum())
    assert "odds_ratio" not in ours("strat_linear").columns


def test_domain_is_zero_weight_not_filtered_rows():
    """A subset fit equals a fit whose weights are zero outside the domain, on the same full design;
    filtering rows instead would lose the PSUs without domain members from the variance."""
    d = design("clus1_fpc")
    sub = fit_glm(d, HI, "logistic", subset="stype == 'E'")
    mask = (d.df["stype"] == "E").to_numpy()
    same = fit_glm(d, HI, "logistic", subset=mask)
    pd.testing.assert_frame_equal(sub, same)
    df = d.df.copy()
    df["w0"] = np.where(mask, df["pw"], 0.0)
    zero = fit_glm(Design(df, psu="dnum", weight="w0", fpc="fpc"), HI, "logistic")
    # the same up to where the iterations stop: the weights' scale enters R's stopping rule, and A is
    # taken at the iterate before the last one (a 1e-4 effect on the SE here, in R as here)
    np.testing.assert_allclose(zero["est"], sub["est"], rtol=1e-6)
    np.testing.assert_allclose(zero["se"], sub["se"], rtol=1e-3)
    assert zero["df"].iloc[0] == sub["df"].iloc[0]


def test_filtering_rows_would_change_the_variance():
    """Dropping the rows outside the domain loses the PSUs without domain members (apiclus2: not every
    sampled district has a middle school), which the ultimate-cluster variance must count."""
    d = design("clus2")
    sub = fit_glm(d, LIN, "linear", subset="stype == 'M'")
    mask = (d.df["stype"] == "M").to_numpy()
    assert len(np.unique(d.df.loc[mask, "dnum"])) < len(np.unique(d.df["dnum"]))
    filtered = fit_glm(Design(d.df[mask].reset_index(drop=True), psu="dnum", weight="pw"), LIN, "linear")
    np.testing.assert_allclose(filtered["est"], sub["est"], rtol=1e-10)
    assert not np.allclose(filtered["se"], sub["se"], rtol=1e-3)
    assert filtered["df"].iloc[0] == sub["df"].iloc[0]


def test_fit_by_stacks_domain_fits():
    d = design("strat")
    by = fit_by(d, LIN, "stype", family="linear")
    assert list(by.columns[:2]) == ["stype", "term"]
    for s in ("E", "H", "M"):
        one = fit_glm(d, LIN, "linear", subset=f"stype == '{s}'")
        np.testing.assert_allclose(by.loc[by["stype"] == s, "se"].to_numpy(), one["se"].to_numpy())


def test_irls_columns_match_separate_fits():
    df = _api("apistrat")
    y, X, _, _ = model_matrices(df, HI)
    rng = np.random.default_rng(1)
    W = df["pw"].to_numpy()[:, None] * rng.uniform(0.5, 1.5, (len(df), 3))
    together, conv, _, _ = irls(X, y, W, fit_family())
    assert conv.all()
    for k in range(3):
        alone, _, _, _ = irls(X, y, W[:, [k]], fit_family())
        np.testing.assert_allclose(together[:, k], alone[:, 0], rtol=1e-12)


def fit_family():
    from pipeline.estimation.regression import FAMILIES

    return FAMILIES["logistic"]()


def test_aliased_term_is_reported_not_hidden():
    df = _api("apistrat")
    df["ell2"] = df["ell"] * 2.0
    r = fit_glm(Design(df, stratum="stype", weight="pw"), "api00 ~ ell + ell2 + meals", "linear")
    assert np.isnan(r.loc[r["term"] == "ell2", "est"]).all()
    assert r.attrs["aliased"] == ["ell2"]
    ref = fit_glm(Design(df, stratum="stype", weight="pw"), "api00 ~ ell + meals", "linear")
    np.testing.assert_allclose(r["est"].dropna(), ref["est"], rtol=1e-9)
    assert r["df"].iloc[0] == ref["df"].iloc[0]


def test_errors_are_explained():
    d = design("strat")
    with pytest.raises(InputError, match="response must lie in"):
        fit_glm(d, LIN, "logistic")
    with pytest.raises(InputError, match="subset has 3 values"):
        fit_glm(d, LIN, "linear", subset=[True, False, True])
    with pytest.raises(InputError, match="formula"):
        fit_glm(d, "api00 ~ nosuchcolumn", "linear")
    with pytest.raises(PipelineError, match="family"):
        fit_glm(d, LIN, "poisson")
    with pytest.raises(PipelineError, match="no replicate weights"):
        fit_glm(d, LIN, "linear", variance="replicate")
    with pytest.raises(InputError, match="no respondent"):
        fit_glm(d, LIN, "linear", subset="stype == 'X'")


def test_lonely_psu_policy_is_the_designs():
    df = _api("apistrat")
    keep = (df["stype"] != "H") | (df.index == df.index[df["stype"] == "H"][0])
    lon = df[keep].reset_index(drop=True)
    with pytest.raises(PipelineError, match="only one PSU"):
        fit_glm(Design(lon, stratum="stype", weight="pw", lonely_psu="fail"), LIN, "linear")
    rem = fit_glm(Design(lon, stratum="stype", weight="pw", lonely_psu="remove"), LIN, "linear")
    assert np.isfinite(rem["se"]).all()


def test_family_functions_delegate():
    d = design("clus2")
    pd.testing.assert_frame_equal(logistic(d, LOGI), fit_glm(d, LOGI, "logistic"))
    pd.testing.assert_frame_equal(linear(d, LIN, subset="stype == 'M'"), fit_glm(d, LIN, "linear", subset="stype == 'M'"))
    assert not hasattr(d, "logistic")  # estimators are functions of a design, not methods of it


@pytest.mark.parametrize("row", pd.read_csv(GOLD / "golden_wald.csv").to_dict("records"),
                         ids=lambda r: f"{r['case']}-{r['term']}")
def test_wald_test_like_regtermtest(row):
    from scipy import stats

    r = ours(row["case"])
    w = wald_test(r, row["term"])
    assert w["df"] == row["df"]
    np.testing.assert_allclose(w["F"], row["F"], rtol=RTOL)
    if row["case"] == "demo_jkn_logistic":  # the project's replicate df (see _with_project_df)
        assert w["ddf"] < row["ddf"]
        np.testing.assert_allclose(w["p_value"], stats.f.sf(row["F"], row["df"], w["ddf"]), rtol=RTOL)
    else:
        assert w["ddf"] == row["ddf"]
        np.testing.assert_allclose(w["p_value"], row["p_value"], rtol=RTOL)


def test_wald_test_by_names_and_errors():
    r = ours("clus2_factor_logistic")
    by_term = wald_test(r, "stype")
    by_names = wald_test(r, ["stype[T.H]", "stype[T.M]"])
    assert by_term["F"] == pytest.approx(by_names["F"], rel=1e-12)
    one = wald_test(r, ["meals"])
    assert one["F"] == pytest.approx(r.loc[r["term"] == "meals", "t"].iloc[0] ** 2, rel=1e-10)
    with pytest.raises(InputError, match="no coefficient"):
        wald_test(r, "nosuch")
    with pytest.raises(InputError, match="not coefficients"):
        wald_test(r, ["nosuch"])


def test_separation_is_refused_with_a_reason():
    df = _api("apistrat")
    df["sep"] = (df["meals"] > 50).astype(float)  # the outcome is a step function of a covariate
    with pytest.raises(PipelineError, match="separation"):
        fit_glm(Design(df, stratum="stype", weight="pw"), "sep ~ meals", "logistic")
