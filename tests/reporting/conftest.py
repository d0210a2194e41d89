"""A realistic wave as the estimate stage leaves it, built in a temporary project root.

13 counties and every domain type, ok / caution / suppressed cells, two variance methods, benchmark
titles, a weighting-diagnostics table, an ingest report and replicate-weight metadata. One suppressed
cell carries the distinctive value PLANTED; tests assert that none of its printed forms reaches any
output. Every other number is nudged so its printed forms cannot collide with PLANTED's.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from pipeline import vocabulary as V
from pipeline.instruments import dimension_estimands
from pipeline.paths import WavePaths
from pipeline.publishing import labels as L
from pipeline.survey_design.record import write_record
from pipeline.tableio import write_json, write_table, write_text
from tests.design_records import record

WAVE = 2024
PLANTED = 0.123456
PLANTED_FORMS = ("12.3", "0.123")
SUPPRESSED_COUNTY = "泉州开发区"
CAUTION_COUNTY = "德化县"
CAUTION_GROUP = "领导干部和公务员"
TARGET = 0.16

COUNTY_CODES = {u.name_zh: u.code for u in V.counties().units}
COUNTY_P = [0.19, 0.24, 0.11, 0.10, 0.12, 0.08, 0.11, 0.13, 0.17, 0.18, 0.14, PLANTED, 0.09]
BENCH_TITLES = {i: f"第{i}条基准的标题文字较长需要换行显示" for i in range(1, 27)}
BENCH_TITLES[1] = "知道世界是可被认知的，能以科学的态度认识世界"
BENCH_TITLES[17] = "掌握常见疾病的预防知识，能科学合理地用药"
BENCH_TITLES[26] = "了解环境污染的危害 <及其应对> & 措施"  # markup characters: the HTML must escape them


def collides(x: float) -> bool:
    """Whether any printed form of x could contain a printed form of PLANTED."""
    forms = [repr(float(x))] + [f"{x:.{k}f}" for k in range(0, 7)] + [f"{100 * x:.{k}f}" for k in range(0, 5)]
    return any(p in f for f in forms for p in PLANTED_FORMS)


def clean(x: float, step: float = 0.0031) -> float:
    while collides(x):
        x += step
    return x


NEFF = "effective sample size < 30 (NCHS 2017 criterion 1)"
DF8 = "df < 8: flagged for statistical review (NCHS 2017 criterion 4)"
RELW = "relative Korn-Graubard CI width > 130% (NCHS 2017 criterion 3)"


def _cell(rng, estimand, statistic, dtype, domain, n, p, reliability="ok", reason=None, scale=1.0):
    deff = float(rng.uniform(1.4, 2.4))
    n_eff = n / deff
    if statistic == "proportion" or estimand.startswith("bench_"):
        se = float(np.sqrt(p * (1 - p) / n_eff))
        lo, hi = max(p - 1.98 * se, 0.0), min(p + 1.98 * se, 1.0)
    else:
        se = float(scale * rng.uniform(0.012, 0.03))
        lo, hi = p - 1.98 * se, p + 1.98 * se
    df = float(max(n // 40, 3))
    row = dict(wave=WAVE, estimand_id=estimand, statistic=statistic, domain_type=dtype, domain=domain, n=int(n),
               n_eff=n_eff, est=p, se=se, lci=lo, uci=hi, ci_method="logit" if statistic == "proportion" else "t",
               df=df, cv=se / p if p else np.nan, deff=deff, variance_method="replicate",
               reliability=reliability, reason=reason)
    for k in ("n_eff", "est", "se", "lci", "uci", "df", "cv", "deff"):
        if k == "est" and p == PLANTED:
            continue
        if pd.notna(row[k]):
            row[k] = clean(float(row[k]))
    return row


def _domains() -> list[tuple[str, str, int, float, str, str | None]]:
    """(domain_type, domain, n, share literate, reliability, reason) for every published domain."""
    out = [("overall", "全市", 9_950, 0.142, "ok", None)]
    for (name, p), n in zip(zip(V.counties().names, COUNTY_P, strict=True), range(13), strict=True):
        rel, why, size = "ok", None, 700 + 20 * n
        if name == SUPPRESSED_COUNTY:
            rel, why, size = "suppressed", NEFF, 41
        elif name == CAUTION_COUNTY:
            rel, why = "caution", DF8
        out.append(("county", name, size, p, rel, why))
    out += [("sex", "男", 5_100, 0.158, "ok", None), ("sex", "女", 4_850, 0.125, "ok", None)]
    for band, p in zip(L.CATEGORY_ORDER["age_band"], (0.25, 0.19, 0.13, 0.085, 0.045), strict=True):
        out.append(("age_band", band, 1_990, p, "ok", None))
    for edu, p in zip(L.CATEGORY_ORDER["education"], (0.029, 0.078, 0.177, 0.252, 0.44), strict=True):
        out.append(("education", edu, 1_990, p, "ok", None))
    out += [("urban", "城镇", 6_400, 0.172, "ok", None), ("urban", "乡村", 3_550, 0.092, "ok", None)]
    for grp, p in zip(L.CATEGORY_ORDER["group"], (0.031, 0.064, 0.046, 0.31), strict=True):
        rel, why = ("caution", RELW) if grp == CAUTION_GROUP else ("ok", None)
        out.append(("group", grp, 160 if grp == CAUTION_GROUP else 1_500, p, rel, why))
    out += [("county_group", "鲤城区/农民", 22, 0.05, "suppressed", NEFF),
            ("county_group", "晋江市/产业工人", 310, 0.07, "ok", None),
            ("county_urban", "南安市/乡村", 420, 0.095, "ok", None)]
    return out


def build_estimates(seed: int = 20240) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    rows = []
    for dtype, dom, n, p, rel, why in _domains():
        rows.append(_cell(rng, "literate", "proportion", dtype, dom, n, p, rel, why))
        adv = p * 0.16
        shares = {"class_advanced": adv, "class_literate": p - adv, "class_basic": 0.3, "class_low": 0.7 - p}
        for cid, share in shares.items():
            rows.append(_cell(rng, cid, "proportion", dtype, dom, n, clean(share), rel, why))
        total = 48 + 80 * p
        rows.append(_cell(rng, "score_total", "mean", dtype, dom, n, clean(total), rel, why, scale=10))
        for (est_id, _, _, marks), frac in zip(dimension_estimands(), (0.52, 0.61, 0.66, 0.49), strict=True):
            rows.append(_cell(rng, est_id, "mean", dtype, dom, n, clean(marks * (frac + p / 3)), rel, why,
                              scale=marks / 10))
        if dtype in ("overall", "county"):
            for b in range(1, 27):
                share = clean(float(np.clip(0.35 + 0.5 * np.sin(b * 1.7) ** 2 + p / 2, 0.05, 0.97)))
                rows.append(_cell(rng, f"bench_{b:02d}", "mean", dtype, dom, n, share, rel, why))
    rep = pd.DataFrame(rows)
    # Taylor-linearisation rows exist too; the report must use the primary (replicate) ones only.
    taylor = rep.copy()
    taylor["variance_method"] = "taylor"
    taylor["se"] = [clean(v * 1.07) for v in taylor["se"]]
    taylor["lci"] = [clean(max(e - 2.2 * s, 0.0)) for e, s in zip(taylor["est"], taylor["se"], strict=True)]
    taylor["uci"] = [clean(e + 2.2 * s) for e, s in zip(taylor["est"], taylor["se"], strict=True)]
    return pd.concat([rep, taylor], ignore_index=True)


def build_targets(estimates: pd.DataFrame) -> pd.DataFrame:
    lit = estimates[(estimates["estimand_id"] == "literate") & (estimates["variance_method"] == "replicate")
                    & estimates["domain_type"].isin(["overall", "county", "group"])]
    rows = []
    for r in lit.itertuples(index=False):
        t = (r.est - TARGET) / r.se
        p_value = clean(float(stats.t.sf(t, r.df)))
        # the verdict follows the interval even for a suppressed cell; the policy publishes the verdict only
        verdict = "met" if r.lci > TARGET else "not met" if r.uci < TARGET else "undetermined"
        publish = "verdict" if r.reliability == "suppressed" else "estimate"
        rows.append(dict(wave=WAVE, domain_type=r.domain_type, domain=r.domain, n=r.n, n_eff=r.n_eff, est=r.est,
                         se=r.se, lci=r.lci, uci=r.uci, df=r.df, target=TARGET,
                         gap=clean(r.est - TARGET) if r.est != PLANTED else r.est - TARGET,
                         p_value=p_value, verdict=verdict, publish=publish, reliability=r.reliability,
                         reason=r.reason))
    return pd.DataFrame(rows)


def build_diagnostics() -> pd.DataFrame:
    """The long table the weight stage writes: per-county rows with the city under level 全市."""
    rows = []
    levels = [*COUNTY_CODES.values(), "全市"]
    for i, code in enumerate(levels):
        city = code == "全市"
        for metric, base in (("rr1", 0.52), ("rr3", 0.57), ("coop1", 0.71)):
            v = {"rr1": 0.541, "rr3": 0.589, "coop1": 0.734}[metric] if city else clean(base + 0.011 * i)
            rows.append(("nonresponse", metric, "county", code, v, np.nan))
        rows.append(("nonresponse", "eligibility_rate", "county", code, 0.93, np.nan))
    steps = {"base": (1.18, 8_432.0, 31.5, 402.7, 2_891.4), "nonresponse": (1.27, 7_834.9, 28.9, 431.6, 3_377.2),
             "calibration": (1.46, 6_815.2, 19.4, 455.8, 5_540.6), "final": (1.39, 7_158.3, 22.1, 449.1, 3_986.5)}
    for step, (deff, ess, lo, med, hi) in steps.items():
        for i, code in enumerate(levels):
            # county rows get different values so a report that ignores the level reads the wrong one
            f = 1.0 if code == "全市" else 0.5 + 0.01 * i
            for metric, v in (("kish_deff", deff), ("ess", ess * f), ("weight_min", lo * f),
                              ("weight_median", med * f), ("weight_max", hi * f), ("n", 700.0)):
                rows.append((step, metric, "county", code, clean(v if code == "全市" else v * f, 0.7), np.nan))
    for i, code in enumerate(levels):
        rows.append(("base", "base_weight_frame_ratio", "county", code, 0.9987 if code == "全市" else 0.95 + 0.001 * i,
                     np.nan))
        rows.append(("trimming", "trimmed", "county", code, 17.0 if code == "全市" else float(i % 3), np.nan))
    rows += [("calibration", "iterations", "", "", 9.0, np.nan), ("final", "iterations", "", "", 6.0, np.nan),
             ("final", "max_margin_error", "", "", 4.2e-07, np.nan),
             ("final", "max_margin_error", "replicates", "", 3.3e-05, np.nan),
             ("trimming", "rounds", "", "", 2.0, np.nan)]
    for step in ("calibration", "final"):
        for sex, v, c in (("男", 4_561_007.0, 4_561_011.0), ("女", 4_221_274.0, 4_221_274.0)):
            rows.append((step, "margin", "county_sex_age_urban", f"350502|{sex}|18-29|城镇", v, c))
        for edu, v in zip(L.CATEGORY_ORDER["education"],
                          (1_702_114.0, 3_380_920.0, 1_900_338.0, 902_665.0, 896_248.0), strict=True):
            rows.append((step, "margin", "education", edu, v, v))
    df = pd.DataFrame(rows, columns=["step", "metric", "variable", "level", "value", "control"])
    df["variable"] = df["variable"].replace("", np.nan)
    df["level"] = df["level"].replace("", np.nan)
    return df


INGEST = {
    "rows_read": 10_006, "accepted": 9_950, "quarantined": 56,
    "quarantined_by_reason": {"age_out_of_range": 31, "duplicate_respondent": 18, "unknown_county": 7},
    "warnings_by_check": {"straightlining": 44, "short_interview": 19},
    "source_file": "data/raw/2024/survey.sav",
    "sha256": hashlib.sha256(b"survey bytes").hexdigest(),
}

WEIGHTS_META = {
    "steps": ["base", "replicates", "nonresponse", "calibration", "trimming"],  # what the diagnostics show
    "slots": {"base": "base", "replicates": "replicates", "nonresponse": "nonresponse", "calibration": "calibration",
              "trimming": "trimming"},
    "replicates": {"method": "JKn", "scale": 1.0, "rscales": [0.95] * 20, "mse": False, "n_replicates": 20,
                   "lonely_strata": []},
    "calibration": {"method": "raking", "margins": [["county_code", "sex", "age_band", "urban"], ["education"]],
                    "control_tables": ["county_sex_age_urban", "education"], "iterations": 6,
                    "max_margin_error": 4.2e-07},
}


def build_project(root: Path, *, demo: bool = True, run_records: bool = True, frameworks: bool = True) -> WavePaths:
    paths = WavePaths(WAVE, root=root)
    est = build_estimates()
    write_table(est, paths.processed("estimates.csv"), "estimates")
    write_table(build_targets(est), paths.processed("targets.csv"), "targets")
    write_text("schema_version: 1\nvariance:\n  methods: [replicate, taylor]\ntarget: {estimand: literate, value: 0.16}\n",
               paths.estimands)
    write_text("schema_version: 1\ndesign: {stratum: stratum, psu: psu, lonely_psu: adjust}\nvariance:\n  primary: replicate\n"
               "  replicates: {method: JKn, seed: 20240917, mse: false}\n", paths.design)
    counties = "\n".join(f"  - {{code: \"{c}\", name_zh: {n}}}" for n, c in COUNTY_CODES.items())
    write_text(f"schema_version: 1\ncounties:\n{counties}\n", paths.instrument)
    write_text("cutoffs: {advanced: 85, literate: 70, basic: 55}\n", paths.scoring)
    paths.raw.mkdir(parents=True, exist_ok=True)
    (paths.raw / "survey.sav").write_bytes(b"survey bytes")
    write_text("household_id,disposition\nH1,complete\n", paths.raw / "contacts.csv")
    if demo:
        write_json({"literate": 0.14}, paths.raw / "truth.json")
    if frameworks:
        bench = "\n".join(f"  - {{id: {i}, title_zh: \"{t}\", group: spirit}}" for i, t in BENCH_TITLES.items())
        dims = "\n".join(f"  - {{id: {d}, name_zh: {n}, points: {m:g}}}" for _, d, n, m in dimension_estimands())
        write_text(f"schema_version: 1\ndimensions:\n{dims}\nbenchmarks:\n{bench}\n",
                   root / "survey_instruments" / "frameworks.yaml")
    if run_records:
        write_json(INGEST, paths.processed("ingest_report.json"))
        write_table(build_diagnostics(), paths.processed("weighting_diagnostics.csv"), "weighting_diagnostics")
        w = pd.DataFrame({"respondent_id": ["R1", "R2"], "stratum": ["350502", "350503"], "psu": ["P1", "P2"],
                          "w_base": [1.0, 2.0], "w_nr": [1.0, 2.0], "w_cal": [1.0, 2.0], "w_final": [1.0, 2.0],
                          "replicate_block": [0, 0]})
        for i in range(1, 21):
            w[f"w_rep_{i:03d}"] = [1.0, 2.0]
        write_table(w, paths.processed("weights.parquet"), "weights")
    write_record(record([f"w_rep_{i:03d}" for i in range(1, 21)], [0.95] * 20, lonely_psu="adjust",
                        extra=WEIGHTS_META), paths.processed("design.json"))
    return paths


@dataclass(frozen=True)
class BuiltReport:
    paths: WavePaths
    result: object
    warnings: tuple[str, ...]

    @property
    def dir(self) -> Path:
        return self.paths.report_dir


@pytest.fixture(scope="session")
def built(tmp_path_factory) -> BuiltReport:
    from pipeline.reporting import run_report

    paths = build_project(tmp_path_factory.mktemp("project"))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        result = run_report(paths, progress=False)
    return BuiltReport(paths, result, tuple(str(w.message) for w in caught))


@pytest.fixture(scope="session")
def pristine(tmp_path_factory) -> Path:
    """A project root built once; tests that modify files get a copy (see `project`)."""
    root = tmp_path_factory.mktemp("pristine")
    build_project(root)
    return root


@pytest.fixture()
def project(pristine, tmp_path) -> WavePaths:
    shutil.copytree(pristine, tmp_path / "root")
    return WavePaths(WAVE, root=tmp_path / "root")


@pytest.fixture(scope="session")
def inputs(built):
    from pipeline.reporting.inputs import load_inputs

    return load_inputs(built.paths)


def dump(obj) -> str:
    return json.dumps(obj, ensure_ascii=False)
