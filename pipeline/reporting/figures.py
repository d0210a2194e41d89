"""The report's figures: one function per figure, each reading only the estimate stage's outputs.

Conventions shared by every chart: a suppressed cell gets no bar and no number, only the note
"数据不足，不予发布"; a caution cell is drawn hatched and the legend says "谨慎解读"; whiskers are 95%
confidence intervals. Figures are written as PNG (200 dpi) and SVG with text as paths.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import matplotlib
import matplotlib.pyplot as plt
import pandas as pd
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Patch

from pipeline.publishing import labels as L
from pipeline.publishing.figures import BAR, BAR_LIGHT, MODEL, MUTED, REFERENCE, TARGET, TRACK
from pipeline.publishing.fonts import rc_params
from pipeline.reporting.inputs import ReportInputs
from pipeline.vocabulary import OVERALL_LABEL

N_WEAKEST = 10


@dataclass(frozen=True)
class FigureSpec:
    stem: str
    title: str
    draw: Callable[[ReportInputs], Figure]


def _target(inputs: ReportInputs) -> float | None:
    """The plan target as targets.csv states it (one value per wave)."""
    vals = inputs.targets["target"].dropna().unique()
    return float(vals[0]) if len(vals) else None


def _hbar_panel(ax, rows: pd.DataFrame, labels: list[str], statistic: str, xmax: float,
                target: float | None = None, reference: float | None = None,
                value_label: Callable[[pd.Series], str] | None = None,
                model: Callable[[str], pd.Series | None] | None = None) -> None:
    """Horizontal bars with 95% CI whiskers, top row first; a suppressed row carries only a note, or, with
    `model`, its model estimate as an open diamond with the model's 95% interval."""
    scale = 100.0 if statistic == "proportion" else 1.0
    n = len(rows)
    ys = list(range(n))[::-1]
    for y, (_, r) in zip(ys, rows.iterrows(), strict=True):
        if r["reliability"] == L.SUPPRESSED or pd.isna(r["est"]):
            m = model(r["domain"]) if model else None
            if m is None:
                ax.text(xmax * 0.01, y, L.SUPPRESSED_NOTE, va="center", ha="left", color=MUTED, fontsize=8.5)
                continue
            lo, hi, mid = m["model_lci"] * scale, m["model_uci"] * scale, m["model_est"] * scale
            ax.plot([lo, hi], [y, y], color=MODEL, lw=1.1, zorder=3)
            ax.plot([mid], [y], marker="D", markersize=6.5, markerfacecolor="white", markeredgecolor=MODEL,
                    markeredgewidth=1.4, zorder=4)
            ax.text(hi + xmax * 0.012, y, f"{L.fmt_pct(m['model_est'])}（{L.MODEL_LABEL}）", va="center", ha="left",
                    fontsize=8.5, color=MODEL, zorder=5,
                    bbox={"boxstyle": "square,pad=0.15", "facecolor": "white", "edgecolor": "none", "alpha": 0.85})
            continue
        caution = r["reliability"] == L.CAUTION
        ax.barh(y, r["est"] * scale, height=0.62, color=BAR_LIGHT if caution else BAR,
                edgecolor=BAR, hatch="////" if caution else None, linewidth=0.8, zorder=2)
        if pd.notna(r["lci"]) and pd.notna(r["uci"]):
            ax.plot([r["lci"] * scale, r["uci"] * scale], [y, y], color="#1b1b1b", lw=1.1, zorder=3)
            for x in (r["lci"] * scale, r["uci"] * scale):
                ax.plot([x, x], [y - 0.14, y + 0.14], color="#1b1b1b", lw=1.1, zorder=3)
        right = max(float(r["uci"]) if pd.notna(r["uci"]) else float(r["est"]), float(r["est"])) * scale
        text = value_label(r) if value_label else L.fmt_value(r["est"], statistic, r["reliability"])
        # A white box keeps the number legible where it crosses the target or city line.
        ax.text(right + xmax * 0.012, y, text, va="center", ha="left", fontsize=8.5, color="#1b1b1b",
                zorder=5, bbox={"boxstyle": "square,pad=0.15", "facecolor": "white", "edgecolor": "none",
                                "alpha": 0.85})
    ax.set_yticks(ys, labels)
    ax.set_ylim(-0.6, n - 0.4)
    ax.set_xlim(0, xmax)
    ax.tick_params(axis="y", length=0)
    ax.grid(axis="x", color="#e3e3e3", lw=0.6, zorder=0)
    ax.set_axisbelow(True)
    if target is not None:
        ax.axvline(target * scale, color=TARGET, ls="--", lw=1.2, zorder=4)
    if reference is not None:
        ax.axvline(reference * scale, color=REFERENCE, ls=":", lw=1.2, zorder=4)
    # Round tick steps (1, 2, 5, 10 …) so percent labels never need rounding.
    ax.xaxis.set_major_locator(matplotlib.ticker.MaxNLocator(nbins=8, steps=[1, 2, 5, 10]))
    if statistic == "proportion":
        ax.xaxis.set_major_formatter(matplotlib.ticker.FuncFormatter(lambda v, _: f"{v:g}%"))


def _xmax(frames: list[pd.DataFrame], statistic: str, floor: float | None = None) -> float:
    scale = 100.0 if statistic == "proportion" else 1.0
    vals = []
    for f in frames:
        shown = f[f["reliability"] != L.SUPPRESSED]
        vals += [v for v in shown["uci"].tolist() + shown["est"].tolist() if pd.notna(v)]
    top = max(vals + ([floor] if floor is not None else []) + [0.01]) * scale
    return top * 1.22


def _legend(fig: Figure, rows_list: list[pd.DataFrame], target: float | None,
            reference: float | None = None, model: bool = False, ci: str = "95%") -> None:
    """One legend under the plot area, outside every axes, so it never hides a bar."""
    handles = [Patch(facecolor=BAR, edgecolor=BAR, label="估计值"),
               Line2D([], [], color="#1b1b1b", lw=1.1, label=f"{ci}置信区间")]
    if model:
        handles.append(Line2D([], [], color=MODEL, lw=1.1, marker="D", markerfacecolor="white",
                              label=f"{L.MODEL_LABEL}（直接估计不予发布）"))
    if any((r["reliability"] == L.CAUTION).any() for r in rows_list):
        handles.append(Patch(facecolor=BAR_LIGHT, edgecolor=BAR, hatch="////", label=L.CAUTION_NOTE))
    if target is not None:
        handles.append(Line2D([], [], color=TARGET, ls="--", lw=1.2, label=f"目标 {100 * target:g}%"))
    if reference is not None:
        handles.append(Line2D([], [], color=REFERENCE, ls=":", lw=1.2,
                              label=f"{OVERALL_LABEL} {L.fmt_pct(reference)}"))
    fig.legend(handles=handles, loc="outside lower center", ncol=min(len(handles), 4), frameon=False)


def _overall_literate(inputs: ReportInputs) -> float | None:
    row = inputs.cell(L.HEADLINE)
    if row is None or row["reliability"] == L.SUPPRESSED:
        return None
    return float(row["est"])


def fig_county(inputs: ReportInputs) -> Figure:
    """Share literate by county, highest first, suppressed counties last, with the target line."""
    rows = inputs.cells(L.HEADLINE, "county")
    shown = rows[rows["reliability"] != L.SUPPRESSED].sort_values("est", ascending=False, kind="mergesort")
    rows = pd.concat([shown, rows[rows["reliability"] == L.SUPPRESSED]], ignore_index=True)
    return _share_bars(inputs, rows, f"{inputs.wave}年各县（市、区）{L.HEADLINE_LABEL}", 0.42 * len(rows) + 1.6,
                       model=inputs.model_row if inputs.sae is not None else None)


def fig_groups(inputs: ReportInputs) -> Figure:
    """Share literate in the plan's key population groups, against the city and the target."""
    rows = inputs.cells(L.HEADLINE, "group")
    return _share_bars(inputs, rows, f"{inputs.wave}年重点人群{L.HEADLINE_LABEL}", 0.55 * max(len(rows), 1) + 1.6)


def _share_bars(inputs: ReportInputs, rows: pd.DataFrame, title: str, height: float, model=None) -> Figure:
    """One panel of headline shares with intervals, the target line and the city line."""
    target = _target(inputs)
    overall = _overall_literate(inputs)
    fig, ax = plt.subplots(layout="constrained", figsize=(8, height))
    xmax = _xmax([rows], "proportion", target)
    drawn = []
    if model is not None:
        drawn = [m for m in (model(d) for d in rows.loc[rows["reliability"] == L.SUPPRESSED, "domain"]) if m is not None]
        if drawn:
            xmax = max(xmax, max(float(m["model_uci"]) for m in drawn) * 100 * 1.35)
    _hbar_panel(ax, rows, rows["domain"].tolist(), "proportion", xmax, target, overall, model=model)
    ax.set_xlabel(f"{L.HEADLINE_LABEL}（%）")
    ax.set_title(title, loc="left")
    _legend(fig, [rows], target, overall, model=bool(drawn), ci=inputs.ci)
    return fig


def fig_subgroups(inputs: ReportInputs) -> Figure:
    """Share literate by sex, age band, education and urban/rural on one shared scale."""
    frames = {t: inputs.cells(L.HEADLINE, t) for t in L.SUBGROUP_TYPES}
    target = _target(inputs)
    xmax = _xmax(list(frames.values()), "proportion", target)
    heights = [max(len(f), 1) + 0.6 for f in frames.values()]
    fig, axes = plt.subplots(len(frames), 1, layout="constrained", figsize=(8, 0.42 * sum(heights) + 1.4),
                             gridspec_kw={"height_ratios": heights}, sharex=True)
    for ax, (dtype, rows) in zip(axes, frames.items(), strict=True):
        _hbar_panel(ax, rows, rows["domain"].tolist(), "proportion", xmax, target)
        ax.set_title(L.DOMAIN_TYPE_LABELS[dtype], loc="left", fontsize=10.5)
    axes[-1].set_xlabel(f"{L.HEADLINE_LABEL}（%）")
    fig.suptitle(f"{inputs.wave}年不同群体{L.HEADLINE_LABEL}", x=0.02, ha="left", fontsize=12)
    _legend(fig, list(frames.values()), target, ci=inputs.ci)
    return fig


def fig_dimensions(inputs: ReportInputs) -> Figure:
    """Mean score of the four parts of the test; the grey track is each part's full marks."""
    rows, names, marks = [], [], []
    for est_id, name, full in inputs.dimensions:
        r = inputs.cell(est_id)
        if r is None:
            continue
        rows.append(r)
        names.append(f"{name}\n（满分{full:g}分）")
        marks.append(full)
    frame = pd.DataFrame(rows).reset_index(drop=True)
    fig, ax = plt.subplots(layout="constrained", figsize=(8, 0.75 * max(len(frame), 1) + 1.6))
    # Room right of the widest track for "mean · share of full marks".
    xmax = max(marks + [1.0]) * 1.32
    ys = list(range(len(frame)))[::-1]
    for y, full in zip(ys, marks, strict=True):
        ax.barh(y, full, height=0.62, color=TRACK, zorder=1)
    if not frame.empty:
        full_of = dict(zip(frame["estimand_id"], marks, strict=True))

        def label(r: pd.Series) -> str:
            return f"{L.fmt_num(r['est'], r['reliability'])}分 · 得分率{L.fmt_pct(r['est'] / full_of[r['estimand_id']])}"

        _hbar_panel(ax, frame, names, "mean", xmax, value_label=label)
    top = max(marks + [1.0])
    step = 10 if top > 20 else 5
    ax.set_xticks([float(v) for v in range(0, int(top) + 1, step)])
    ax.set_xlim(0, xmax)
    ax.set_xlabel("平均得分（分）")
    ax.set_title(f"{inputs.wave}年科学素质测试四个部分的平均得分（{OVERALL_LABEL}）", loc="left")
    handles = [Patch(facecolor=BAR, label="平均得分"), Patch(facecolor=TRACK, label="满分"),
               Line2D([], [], color="#1b1b1b", lw=1.1, label=f"{inputs.ci}置信区间")]
    if (frame.get("reliability", pd.Series(dtype=str)) == L.CAUTION).any():
        handles.append(Patch(facecolor=BAR_LIGHT, edgecolor=BAR, hatch="////", label=L.CAUTION_NOTE))
    fig.legend(handles=handles, loc="outside lower center", ncol=len(handles), frameon=False)
    return fig


def weakest_benchmarks(inputs: ReportInputs, k: int = N_WEAKEST) -> pd.DataFrame:
    """The k benchmarks with the lowest share correct city-wide (publishable cells only)."""
    rows = [inputs.cell(b) for b in inputs.benchmark_ids()]
    frame = pd.DataFrame([r for r in rows if r is not None])
    if frame.empty:
        return frame
    frame = frame[frame["reliability"] != L.SUPPRESSED]
    return frame.sort_values(["est", "estimand_id"], kind="mergesort").head(k).reset_index(drop=True)


def benchmark_caption(inputs: ReportInputs, estimand_id: str, width: int = 18) -> str:
    num = L.benchmark_number(estimand_id)
    title = inputs.benchmark_titles.get(estimand_id)
    text = f"基准{num}：{title}" if title else L.benchmark_fallback(estimand_id)
    if len(text) <= width:
        return text
    if len(text) > 2 * width:  # a third line would crowd the bars; the tables carry the full title
        text = text[: 2 * width - 1] + "…"
    # Two balanced lines, broken after a comma near the middle when there is one.
    mid = (len(text) + 1) // 2
    near = [i + 1 for i in range(max(mid - 5, 1), min(mid + 5, len(text) - 1)) if text[i] in "，、；："]
    cut = min(near, key=lambda i: abs(i - mid)) if near else mid
    return text[:cut] + "\n" + text[cut:]


def fig_benchmarks(inputs: ReportInputs) -> Figure:
    """The weakest benchmarks city-wide: share of the benchmark's points answered correctly."""
    rows = weakest_benchmarks(inputs)
    labels = [benchmark_caption(inputs, b) for b in rows.get("estimand_id", [])]
    fig, ax = plt.subplots(layout="constrained", figsize=(8, 0.62 * max(len(rows), 1) + 1.6))
    if rows.empty:
        ax.text(0.5, 0.5, "无可发布的基准正确率", ha="center", va="center", transform=ax.transAxes)
        ax.set_axis_off()
        return fig
    _hbar_panel(ax, rows, labels, "proportion", _xmax([rows], "proportion"))
    ax.set_xlabel("平均正确率（%）")
    ax.set_title(f"{inputs.wave}年正确率最低的{len(rows)}个基准（{OVERALL_LABEL}）", loc="left")
    _legend(fig, [rows], None, ci=inputs.ci)
    return fig


def fig_classes(inputs: ReportInputs) -> Figure:
    """City-wide distribution over the four classes of the total score."""
    rows = [inputs.cell(c) for c in L.CLASS_ESTIMANDS]
    present = [(c, r) for c, r in zip(L.CLASS_ESTIMANDS, rows, strict=True) if r is not None]
    fig, ax = plt.subplots(layout="constrained", figsize=(8, 4.2))
    top = 0.0
    for x, (_, r) in enumerate(present):
        if r["reliability"] == L.SUPPRESSED or pd.isna(r["est"]):
            ax.text(x, 1.0, L.SUPPRESSED_NOTE, ha="center", va="bottom", color=MUTED, fontsize=8.5,
                    rotation=90)
            continue
        caution = r["reliability"] == L.CAUTION
        ax.bar(x, 100 * r["est"], width=0.6, color=BAR_LIGHT if caution else BAR, edgecolor=BAR,
               hatch="////" if caution else None, zorder=2)
        hi = 100 * (r["uci"] if pd.notna(r["uci"]) else r["est"])
        if pd.notna(r["lci"]) and pd.notna(r["uci"]):
            ax.errorbar(x, 100 * r["est"], yerr=[[100 * (r["est"] - r["lci"])], [100 * (r["uci"] - r["est"])]],
                        fmt="none", ecolor="#1b1b1b", elinewidth=1.1, capsize=4, zorder=3)
        ax.text(x, hi + 1.0, L.fmt_pct(r["est"], r["reliability"]), ha="center", va="bottom", fontsize=9)
        top = max(top, hi)
    ax.set_xticks(range(len(present)),
                  [f"{L.CLASS_LABELS[c]}\n{L.CLASS_RULES[c]}" for c, _ in present])
    ax.set_ylim(0, max(top, 10.0) * 1.18)
    ax.yaxis.set_major_locator(matplotlib.ticker.MaxNLocator(nbins=8, steps=[1, 2, 5, 10]))
    ax.yaxis.set_major_formatter(matplotlib.ticker.FuncFormatter(lambda v, _: f"{v:g}%"))
    ax.set_ylabel("占18–69岁居民的比例（%）")
    ax.grid(axis="y", color="#e3e3e3", lw=0.6, zorder=0)
    ax.set_axisbelow(True)
    ax.set_title(f"{inputs.wave}年科学素质水平分布（{OVERALL_LABEL}）", loc="left")
    _legend(fig, [pd.DataFrame([r for _, r in present])] if present else [], None, ci=inputs.ci)
    return fig


FIGURES: tuple[FigureSpec, ...] = (
    FigureSpec("fig1_county", "各县（市、区）具备科学素质的公民比例", fig_county),
    FigureSpec("fig2_groups", "重点人群具备科学素质的公民比例", fig_groups),
    FigureSpec("fig3_subgroups", "不同性别、年龄、文化程度和城乡居民的比例", fig_subgroups),
    FigureSpec("fig4_classes", "科学素质水平分布", fig_classes),
    FigureSpec("fig5_dimensions", "测试四个部分的平均得分", fig_dimensions),
    FigureSpec("fig6_benchmarks", "正确率最低的基准", fig_benchmarks),
)


def render(spec: FigureSpec, inputs: ReportInputs) -> Figure:
    with matplotlib.rc_context(rc_params()):
        return spec.draw(inputs)
