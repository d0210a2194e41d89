"""Figures of the assessment: trend lines with confidence bands (at the waves' ci.level) and the target line, county small multiples,
the county ranking with rank intervals, and the indicator × year status chart.

A line never crosses a break in series: each series is drawn on its own and a dashed vertical rule
marks where the scoring rule changed. The published baseline is drawn as a lone marker, never joined.
Suppressed cells are left out of lines and bands.
"""

from __future__ import annotations

import math
import re

import matplotlib
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Patch
from scipy import stats

from pipeline.assessment.indicators.status import MET, NOT_MET, NOT_REPORTED
from pipeline.assessment.projection import AT_RISK, OFF_TRACK, ON_TRACK, STATUS_ZH, UNDETERMINED
from pipeline.assessment.spec import AssessmentSpec
from pipeline.publishing.figures import BAR, BAR_LIGHT, MUTED, REFERENCE, TARGET
from pipeline.publishing.fonts import rc_params
from pipeline.publishing.labels import CATEGORY_ORDER, ci_pct
from pipeline.vocabulary import OVERALL_LABEL

PROJ = "#d68910"
STATUS_COLOURS = {MET: "#1e7b45", NOT_MET: "#b03a2e", NOT_REPORTED: "#bdbdbd"}
# the four mid-term statuses, one colour each (green, amber, red, grey)
MIDTERM_COLOURS = {ON_TRACK: "#1e7b45", AT_RISK: "#c98a00", OFF_TRACK: "#b03a2e", UNDETERMINED: "#8a8a8a"}


def _pct(ax) -> None:
    ax.yaxis.set_major_formatter(matplotlib.ticker.FuncFormatter(lambda v, _: f"{100 * v:.0f}%"))


def _runs(rows: pd.DataFrame) -> list[pd.DataFrame]:
    """Stretches of consecutive published waves within one series: a line stops at a break in series
    and at a suppressed wave, so it never bridges a value that is not shown."""
    out = []
    for _, s in rows.sort_values("wave").groupby("series"):
        ok = (s["reliability"] != "suppressed").to_numpy()
        run_id = np.cumsum(~ok)
        out += [g for _, g in s[ok].groupby(run_id[ok])]
    return out


def _series_lines(ax, rows: pd.DataFrame, level: float, label: bool = True, lw: float = 2.0) -> None:
    for k, s in enumerate(_runs(rows)):
        ax.fill_between(s["wave"], s["lci"], s["uci"], color=BAR_LIGHT, lw=0, zorder=1)
        if len(s) == 1:  # a band needs two waves; a lone wave shows its interval as a whisker
            ax.vlines(s["wave"], s["lci"], s["uci"], color=BAR_LIGHT, lw=6, zorder=1)
        ax.plot(s["wave"], s["est"], "-o", color=BAR, lw=lw, ms=4 if lw < 2 else 5, zorder=3,
                label=f"调查估计（{ci_pct(level)}置信区间）" if label and k == 0 else None)
    starts = sorted(rows.groupby("series")["wave"].min())[1:]
    for w in starts:
        ax.axvline(w - 0.5, color=REFERENCE, ls="--", lw=1)
        ax.text(w - 0.45, ax.get_ylim()[1], "口径变化", va="top", fontsize=8, color=REFERENCE)


def _projection(ax, proj: pd.Series | None, label: bool = True) -> None:
    if proj is None or not np.isfinite(proj.get("projection", np.nan)):
        return
    last_wave = int(re.split("[–、]", str(proj["waves"]))[-1])
    year = int(proj["projection_year"])
    ax.plot([last_wave, year], [proj["last_est"], proj["projection"]], ls=":", color=PROJ, lw=1.6, zorder=2)
    ax.errorbar([year], [proj["projection"]], yerr=[[proj["projection"] - proj["lower"]],
                [proj["upper"] - proj["projection"]]], fmt="s", color=PROJ, ms=5, capsize=3, zorder=4,
                label=f"{year}年趋势外推（{proj['interval']:.0%}区间）" if label else None)


def fig_city_trend(trend: pd.DataFrame, spec: AssessmentSpec, projections: pd.DataFrame | None,
                   through: int, level: float = 0.95) -> Figure:
    city = trend[trend["domain_type"] == "overall"]
    fig, ax = plt.subplots(figsize=(8.6, 5.6), layout="constrained")
    _series_lines(ax, city, level)
    b = spec.baseline
    ax.plot([b.year], [b.est], marker="D", mfc="white", mec=BAR, ms=7, ls="none", zorder=4,
            label=f"{b.year}年基线 {b.est:.1%}（测评口径未公布，不与调查连线）")
    nat = sorted((p for p in spec.published if p.area == "national" and p.year >= b.year), key=lambda p: p.year)
    if nat:
        ax.plot([p.year for p in nat], [p.est for p in nat], "^--", color=MUTED, lw=1, ms=5, zorder=2,
                label="全国（已发布）")
    for p in spec.published:
        if p.area == "fujian":
            ax.plot([p.year], [p.est], "v", color=REFERENCE, ms=6, ls="none", label=f"福建省{p.year}年（已发布）")
    top = max(float(city["uci"].max()), spec.target)
    if projections is not None:
        row = projections[projections["domain_type"] == "overall"]
        _projection(ax, row.iloc[0] if len(row) else None)
        if len(row) and np.isfinite(row["upper"].iloc[0]):
            top = max(top, float(row["upper"].iloc[0]))
    ax.axhline(spec.target, color=TARGET, lw=1.2, ls="--", label=f"{spec.final_year}年目标 {spec.target:.0%}")
    ax.set_xlim(b.year - 0.5, spec.final_year + 0.5)
    ax.set_xticks(range(b.year, spec.final_year + 1))
    lows = [float(city["lci"].min()), b.est, *(p.est for p in nat)]
    if projections is not None and len(row) and np.isfinite(row["lower"].iloc[0]):
        lows.append(float(row["lower"].iloc[0]))
    ax.set_ylim(max(0.0, min(lows) - 0.02), top + 0.02)
    _pct(ax)
    ax.set_ylabel("具备科学素质的公民比例")
    ax.set_title(f"{OVERALL_LABEL}具备科学素质的公民比例（调查至{through}年）")
    ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.09), ncol=3, frameon=False, fontsize=8)
    return fig


def fig_small_multiples(trend: pd.DataFrame, domain_type: str, spec: AssessmentSpec,
                        projections: pd.DataFrame | None, title: str, level: float = 0.95) -> Figure:
    rows = trend[trend["domain_type"] == domain_type]
    order = [d for d in CATEGORY_ORDER.get(domain_type, ()) if d in set(rows["domain"])]
    order += sorted(set(rows["domain"]) - set(order))
    ncol = 4 if len(order) > 4 else len(order)
    nrow = math.ceil(len(order) / ncol)
    fig, axes = plt.subplots(nrow, ncol, figsize=(2.6 * ncol + 0.6, 2.2 * nrow + 0.8), sharex=True, sharey=True,
                             squeeze=False, layout="constrained")
    first, last = int(rows["wave"].min()), spec.final_year
    ok = rows[rows["reliability"] != "suppressed"]
    ymax = max(float(ok["uci"].max()) if len(ok) else spec.target, spec.target)
    if projections is not None and len(projections):
        p = projections[projections["domain_type"] == domain_type]
        if p["upper"].notna().any():
            ymax = max(ymax, float(p["upper"].max()))
    for ax, dom in zip(axes.flat, order, strict=False):
        _series_lines(ax, rows[rows["domain"] == dom], level, label=False, lw=1.4)
        if projections is not None:
            p = projections[(projections["domain_type"] == domain_type) & (projections["domain"] == dom)]
            _projection(ax, p.iloc[0] if len(p) else None, label=False)
            if len(p):
                colour = MIDTERM_COLOURS.get(p.iloc[0]["status"], MUTED)
                ax.text(0.03, 0.95, p.iloc[0]["status_zh"], transform=ax.transAxes, va="top", fontsize=8,
                        color="white", fontweight="bold",
                        bbox={"boxstyle": "round,pad=0.25", "facecolor": colour, "edgecolor": "none"})
        ax.axhline(spec.target, color=TARGET, lw=0.9, ls="--")
        if (rows.loc[rows["domain"] == dom, "reliability"] == "suppressed").any():
            ax.text(0.97, 0.05, "部分年份数据不足", transform=ax.transAxes, ha="right", fontsize=7, color=MUTED)
        ax.set_title(dom, fontsize=10)
    for ax in list(axes.flat)[len(order):]:
        ax.set_visible(False)
    for ax in axes.flat:
        ax.set_xlim(first - 0.4, last + 0.4)
        ax.set_xticks(range(first, last + 1))
        ax.set_xticklabels([str(y)[2:] for y in range(first, last + 1)])
        ax.set_ylim(0, ymax + 0.02)
        _pct(ax)
    handles = [Line2D([], [], color=BAR, marker="o", label="调查估计"), Patch(color=BAR_LIGHT, label=f"{ci_pct(level)}置信区间"),
               Line2D([], [], color=TARGET, ls="--", label=f"目标 {spec.target:.0%}")]
    if projections is not None:
        handles.append(Line2D([], [], color=PROJ, marker="s", ls=":", label=f"{spec.final_year}年趋势外推"))
        shown = set(projections.loc[projections["domain_type"] == domain_type, "status"])
        handles += [Patch(color=c, label=STATUS_ZH[k]) for k, c in MIDTERM_COLOURS.items() if k in shown]
    fig.legend(handles=handles, loc="outside lower center", ncol=min(len(handles), 4), frameon=False, fontsize=8)
    fig.suptitle(title, fontsize=12)
    return fig


def fig_ranking(ranking: pd.DataFrame, spec: AssessmentSpec, level: float = 0.95) -> Figure:
    r = ranking.sort_values("rank")
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(9, 0.38 * len(r) + 1.6), sharey=True,
                                   gridspec_kw={"width_ratios": [1.2, 1]}, layout="constrained")
    y = np.arange(len(r))
    ax1.errorbar(r["est"], y, xerr=stats.norm.ppf(0.5 + level / 2) * r["se"], fmt="o", color=BAR, capsize=2)
    ax1.axvline(spec.target, color=TARGET, ls="--", lw=1)
    ax1.xaxis.set_major_formatter(matplotlib.ticker.FuncFormatter(lambda v, _: f"{100 * v:.0f}%"))
    ax1.set_yticks(y)
    ax1.set_yticklabels(r["domain"])
    ax1.invert_yaxis()
    ax1.set_title(f"比例及{ci_pct(level)}置信区间", fontsize=10)
    ax2.hlines(y, r["rank_lo"], r["rank_hi"], color=BAR, lw=4, alpha=0.35)
    ax2.plot(r["median_rank"], y, "o", color=BAR)
    ax2.set_xlim(0.5, len(r) + 0.5)
    ax2.set_xticks(range(1, len(r) + 1))
    ax2.set_title(f"名次中位数及{spec.rank_interval:.0%}名次区间", fontsize=10)
    fig.suptitle(f"{int(r['wave'].iloc[0])}年各县（市、区）排名及其不确定性", fontsize=12)
    return fig


def fig_indicator_status(status: pd.DataFrame) -> Figure:
    names = list(dict.fromkeys(status["name_zh"]))
    years = sorted(status["year"].unique())
    fig, ax = plt.subplots(figsize=(2.2 + 0.9 * len(years) + 4.2, 0.36 * len(names) + 1.4), layout="constrained")
    for i, name in enumerate(names):
        for r in status[status["name_zh"] == name].itertuples(index=False):
            j = years.index(r.year)
            ax.add_patch(plt.Rectangle((j, i), 0.94, 0.86, color=STATUS_COLOURS[r.status]))
            ax.text(j + 0.47, i + 0.43, r.status, ha="center", va="center", fontsize=7.5,
                    color="white" if r.status != NOT_REPORTED else "#333333")
    ax.set_xlim(0, len(years))
    ax.set_ylim(len(names), 0)
    ax.set_xticks([j + 0.47 for j in range(len(years))])
    ax.set_xticklabels([str(y) for y in years])
    ax.set_yticks([i + 0.43 for i in range(len(names))])
    ax.set_yticklabels([n if len(n) <= 24 else n[:23] + "…" for n in names], fontsize=8)
    ax.tick_params(length=0)
    for side in ("left", "bottom"):
        ax.spines[side].set_visible(False)
    ax.legend(handles=[Patch(color=c, label=s) for s, c in STATUS_COLOURS.items()], loc="upper center",
              bbox_to_anchor=(0.5, -0.02 - 0.5 / max(len(names), 1)), ncol=3, frameon=False)
    ax.set_title("规划监测指标完成情况（指标 × 年度）")
    return fig


def render(draw, *args) -> Figure:
    with matplotlib.rc_context(rc_params()):
        return draw(*args)
