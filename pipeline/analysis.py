"""Helpers for the researchers' notebooks: where the processed wave is, the analysis frame and its design,
figures with the bundled CJK font, and the few computations more than one notebook needs.

Notebooks read only data/processed/<wave>/ and write nothing under data/. The project folder is the
checkout unless QZ_PROJECT_ROOT points elsewhere (the notebook tests run them on a freshly built demo
wave in a temporary folder); QZ_WAVE chooses the wave (default 2024).
"""

from __future__ import annotations

import json
import os
from itertools import combinations
from pathlib import Path

import numpy as np
import pandas as pd
from scipy import stats

from pipeline.errors import InputError
from pipeline.estimation.design import Design
from pipeline.estimation.run import analysis_frame, build_design, read_weights
from pipeline.paths import ROOT, WavePaths, project_paths
from pipeline.schemas import SUPPRESSED  # noqa: F401  (notebooks filter withheld cells with it)
from pipeline.survey_design.record import RECORD, DesignRecord, read_record
from pipeline.survey_design.replicate_blocks import replicate_columns

DEFAULT_WAVE = 2024
WEIGHT_STEPS = (("base", "基础权数"), ("nonresponse", "无回答调整"), ("calibration", "校准"), ("trimming", "截尾后最终权数"))
FIGURE_LOG = "QZ_FIGURE_LOG"  # when set, every figure shown records the font files its text uses here


def project_root() -> Path:
    root = os.environ.get("QZ_PROJECT_ROOT")
    return Path(root).resolve() if root else ROOT


def wave() -> int:
    return int(os.environ.get("QZ_WAVE", DEFAULT_WAVE))


def paths(w: int | None = None) -> WavePaths:
    p = WavePaths(wave() if w is None else int(w), project_root())
    if not p.out.is_dir():
        raise InputError(f"no processed data in {p.out}; build the wave first (make survey-{p.wave}).")
    return p


def read(name: str, w: int | None = None) -> pd.DataFrame:
    """A processed table of the wave (parquet or CSV, as the stage wrote it)."""
    f = paths(w).processed(name)
    if not f.is_file():
        raise InputError(f"{f} does not exist; run the stage that writes it (make survey-{paths(w).wave}).")
    if f.suffix == ".parquet":
        return pd.read_parquet(f)
    return pd.read_csv(f, encoding="utf-8-sig")


def design_record(w: int | None = None) -> DesignRecord:
    """The wave's design record (design.json): weights, replicates, strata, PSUs, calibration cells."""
    return read_record(paths(w).processed(RECORD))


def weight_steps(w: int | None = None) -> list[tuple[str, str]]:
    """(weights.parquet column, Chinese label) of the weight after each weighting step, from the record."""
    steps = design_record(w).weights_by_step
    return [(steps[s], label) for s, label in WEIGHT_STEPS if s in steps]


def weights_metadata(w: int | None = None) -> dict:
    """What the weighting did (the design record as a plain dict)."""
    return dict(design_record(w).data)


def frame(w: int | None = None) -> pd.DataFrame:
    """One row per respondent: design, domain, score and weight columns (as the estimate stage joins them)."""
    record = design_record(w)
    weights, blocks = read_weights(paths(w), record)  # every replicate weight as a column of its own
    weights = replicate_columns(weights, blocks, list(record.replicate_columns))
    return analysis_frame(read("respondents.parquet", w), read("scores.parquet", w), weights)


def design(df: pd.DataFrame | None = None, w: int | None = None, replicates: bool = True) -> Design:
    """The wave's Design as the estimate stage builds it (strata, PSUs, lonely-PSU policy and calibration
    margins from the design record). replicates=False leaves out the replicate weights, so estimates
    use linearisation: quicker, and what a notebook needs for exploration."""
    df = frame(w) if df is None else df
    record = design_record(w)
    if not replicates:
        df = df.drop(columns=list(record.replicate_columns))
        record = DesignRecord({**record.data, "weights": {**record.data["weights"], "replicates": []}})
    return build_design(df, record)


# ---------------------------------------------------------------------------------------------- figures
def setup_figures() -> str:
    """Matplotlib with the report's settings and the bundled CJK font; returns the font family."""
    import matplotlib as mpl

    from pipeline.publishing.fonts import rc_params

    params = rc_params()
    mpl.rcParams.update(params)
    return params["font.family"][0]


def fonts_of(fig) -> set[Path]:
    """The font files matplotlib resolves the figure's visible text to."""
    from matplotlib.text import Text

    from pipeline.publishing.fonts import font_in_use

    return {font_in_use(t.get_fontproperties()) for t in fig.findobj(Text) if t.get_text().strip()
            and t.get_visible()}


def show(fig, name: str = "") -> None:
    """Display a figure (inline in Jupyter); when QZ_FIGURE_LOG is set, record the fonts it used."""
    import matplotlib.pyplot as plt

    log = os.environ.get(FIGURE_LOG)
    if log:
        fig.canvas.draw()
        with open(log, "a", encoding="utf-8") as fh:
            fh.write(json.dumps({"figure": name, "fonts": sorted(str(p) for p in fonts_of(fig))}) + "\n")
    plt.show()


def forest(ax, table: pd.DataFrame, label: str, est: str = "est", lci: str = "lci", uci: str = "uci",
           ref: float | None = None, log: bool = False) -> None:
    """Point estimates with interval bars, one row per line of `table` (top row first)."""
    y = np.arange(len(table))[::-1]
    e = table[est].to_numpy(float)
    ax.errorbar(e, y, xerr=[e - table[lci].to_numpy(float), table[uci].to_numpy(float) - e], fmt="o", ms=4,
                capsize=2, color="#1f4e79", ecolor="#7f9fbf")
    ax.set_yticks(y)
    ax.set_yticklabels(table[label].astype(str))
    if ref is not None:
        ax.axvline(ref, color="#c00000", lw=1, ls="--")
    if log:
        ax.set_xscale("log")


# ---------------------------------------------------------------------------------------------- sample
def margin_controls(w: int | None = None) -> pd.DataFrame:
    """Census control totals of the calibration margins, one row per cell with its variables split out
    (from weighting_diagnostics.csv; cells the weighting stage collapsed keep their joined label)."""
    diag = read("weighting_diagnostics.csv", w)
    cal = weights_metadata(w).get("calibration") or {}
    names = cal.get("control_tables") or []
    margins = cal.get("margins") or []
    rows = diag[(diag["metric"] == "margin") & (diag["step"] == "final")]
    out = []
    for name, by in zip(names, margins, strict=False):
        m = rows[rows["variable"] == name]
        parts = m["level"].astype(str).str.split("|", expand=True)
        parts.columns = list(by)
        out.append(parts.assign(margin=name, control=m["control"].to_numpy(float)).reset_index(drop=True))
    return pd.concat(out, ignore_index=True)


def sample_against_controls(df: pd.DataFrame, variable: str, w: int | None = None) -> pd.DataFrame:
    """Share of each category of `variable` in the census controls, in the sample unweighted, with the
    base weights (`base_weight`) and with the final weights (`final_weight`)."""
    ctrl = margin_controls(w)
    ctrl = ctrl[ctrl["margin"] == next(m for m in ctrl["margin"].unique()
                                       if ctrl.loc[ctrl["margin"] == m, variable].notna().all())]
    census = ctrl.groupby(variable)["control"].sum()
    # a sparse cell the weighting stage merged with its neighbour ("50-59+60-69") has no sample category
    # of its own: it is left out, and its share of the population is kept in attrs["collapsed_share"]
    merged = census.index.str.contains("+", regex=False)
    out = pd.DataFrame({"census": census[~merged] / census.sum()})
    key = df[variable].astype(str)
    out["sample"] = key.value_counts(normalize=True)
    steps = design_record(w).weights_by_step
    for name, col in (("base_weight", steps["base"]), ("final_weight", steps["trimming"])):
        s = df[col].groupby(key).sum()
        out[name] = s / s.sum()
    out = out.fillna(0.0).rename_axis(variable).reset_index()
    out.attrs["collapsed_share"] = float(census[merged].sum() / census.sum())
    return out


def kish_deff(w) -> float:
    """Design effect of unequal weighting, 1 + CV² of the weights (Kish 1965)."""
    w = np.asarray(w, float)
    w = w[w > 0]
    return float(len(w) * (w ** 2).sum() / w.sum() ** 2)


def share_by_weighting_step(df: pd.DataFrame, variable: str = "literate", w: int | None = None) -> pd.DataFrame:
    """The headline share with the weights of each weighting step (linearised SE on the design's strata
    and PSUs, without calibration residuals, so that the steps are comparable)."""
    record = design_record(w)
    rows = []
    for step, label in WEIGHT_STEPS:
        col = record.weights_by_step.get(step)
        if col is None or col not in df.columns:
            continue
        d = Design(df[[record.stratum, record.psu, col, variable]], stratum=record.stratum, psu=record.psu,
                   weight=col, lonely_psu=record.lonely_psu)
        r = d.proportion(variable).iloc[0]
        rows.append({"step": label, "weight": col, "est": r["est"], "se": r["se"], "lci": r["lci"],
                     "uci": r["uci"], "kish_deff": kish_deff(df[col])})
    return pd.DataFrame(rows)


# ---------------------------------------------------------------------------------------------- comparisons
def pairwise_differences(table: pd.DataFrame, label: str = "domain", method: str = "holm",
                         level: float = 0.95) -> pd.DataFrame:
    """All pairwise differences of independent estimates (separate strata, e.g. counties): difference,
    SE = √(se_a² + se_b²), normal-theory p-value, the p-value adjusted for multiplicity (Holm by default,
    any statsmodels multipletests method) and a simultaneous interval (Bonferroni)."""
    from statsmodels.stats.multitest import multipletests

    t = table.reset_index(drop=True)
    pairs = list(combinations(range(len(t)), 2))
    a = np.array([i for i, _ in pairs])
    b = np.array([j for _, j in pairs])
    diff = t["est"].to_numpy(float)[a] - t["est"].to_numpy(float)[b]
    se = np.hypot(t["se"].to_numpy(float)[a], t["se"].to_numpy(float)[b])
    p = 2 * stats.norm.sf(np.abs(diff / se))
    adj = multipletests(p, method=method)[1]
    q = stats.norm.ppf(1 - (1 - level) / (2 * len(pairs)))
    return pd.DataFrame({"a": t[label].to_numpy()[a], "b": t[label].to_numpy()[b], "diff": diff, "se": se,
                         "p": p, "p_adj": adj, "lci_simult": diff - q * se, "uci_simult": diff + q * se,
                         "significant": adj < 1 - level})


def benchmark_titles() -> dict[str, str]:
    """estimand id (bench_01 …) → the benchmark's Chinese title, from survey_instruments/frameworks.yaml."""
    from pipeline.instruments import load_frameworks

    frameworks = load_frameworks(project_paths(project_root()).frameworks)
    return {f"bench_{b.id:02d}": b.title_zh for b in frameworks.benchmarks}


def primary_estimates(w: int | None = None) -> pd.DataFrame:
    """estimates.csv restricted to the primary variance method (replicate when the wave has replicates)."""
    est = read("estimates.csv", w)
    method = "replicate" if (est["variance_method"] == "replicate").any() else "taylor"
    return est[est["variance_method"] == method].reset_index(drop=True)
