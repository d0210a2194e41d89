"""run_assess: the mid-term check or the final evaluation, from the waves' estimates and the indicator
submissions to data/processed/assessment/<kind>/ (tables/, tables.xlsx, figures/, report.html).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from pipeline.assessment import figures as F
from pipeline.assessment import tables as T
from pipeline.assessment.final import POSITION, VERDICTS, county_rows, final_verdicts, position
from pipeline.assessment.indicators import status_table, summary_table, validate_year
from pipeline.assessment.indicators.status import STATUS, SUMMARY
from pipeline.assessment.indicators.submissions import ACCEPTED, ISSUES
from pipeline.assessment.model import Assessment
from pipeline.assessment.projection import PROJECTION, project
from pipeline.assessment.ranking import RANKING, rank_table
from pipeline.assessment.report import build_report
from pipeline.assessment.spec import AssessmentSpec, load_assessment
from pipeline.assessment.trend import CHANGES, TREND, changes_table, trend_table
from pipeline.assessment.waves import available_waves, common_level, load_wave, stack
from pipeline.errors import InputError, PipelineError
from pipeline.manifest import sha256_file
from pipeline.paths import ROOT, project_paths
from pipeline.plan.targets import Plan, load_plan
from pipeline.progress import Timer, log
from pipeline.publishing.figures import save_figure
from pipeline.publishing.workbook import write_workbook
from pipeline.tableio import write_json, write_table, write_text

KINDS = ("midterm", "final")


@dataclass(frozen=True)
class AssessResult:
    kind: str
    through: int
    out: Path
    city: str
    statuses: str
    seconds: float

    def summary(self) -> str:
        kind = {"midterm": "中期评估", "final": "终期评估"}.get(self.kind, self.kind)
        return f"{kind}（调查至{self.through}年）：{self.city}；{self.statuses} → {self.out / 'report.html'}"


def _validate_indicators(root: Path, spec: AssessmentSpec, plan: Plan, through: int):
    folder = root / spec.indicator_folder
    accepted, issues, files = [], [], 0
    for year in range(plan.period[0], min(through, plan.period[1]) + 1):
        v = validate_year(folder / str(year), year, plan, rel_to=root)
        accepted.append(v.accepted)
        issues.append(v.issues)
        files += v.files
    return (pd.concat(accepted, ignore_index=True), pd.concat(issues, ignore_index=True), files,
            (folder / "DEMO_SUBMISSIONS.txt").exists())


def assess(kind: str, through: int, root: Path) -> Assessment:
    where = project_paths(root)
    spec = load_assessment(where.assessment_spec)
    plan = load_plan(where.plan_targets)
    if kind == "final" and through < spec.final_year:
        raise PipelineError(f"the final evaluation needs the {spec.final_year} wave; --through is {through}. "
                            "Use --kind midterm for an earlier check.")
    waves_wanted = available_waves(root, spec.first_wave, through)
    if not waves_wanted:
        raise InputError(f"no wave specification between {spec.first_wave} and {through} under "
                         f"{where.spec_root}; nothing to assess.")
    waves = [load_wave(w, root, spec.estimand, spec.domain_types) for w in waves_wanted]
    level = common_level(waves)
    stacked = stack(waves)
    trend = trend_table(stacked)
    changes = changes_table(stacked, spec.baseline, spec.level)
    verdicts = ranking = None
    unranked = pd.DataFrame(columns=["wave", "domain", "reason"])
    # A final evaluation restates the mid-term check (waves up to the default mid-term year) beside the
    # outcome, so the report can say whether the early warning was borne out.
    proj_through = through if kind == "midterm" else min(spec.default_midterm_through, through)
    projection = project(trend[trend["wave"] <= proj_through], spec.final_year, spec.target,
                         spec.target_comparison, spec.projection_interval, spec.min_waves)
    if kind == "final":
        last = waves[-1]
        if last.wave != spec.final_year:
            raise InputError(f"the final evaluation needs wave {spec.final_year}; the last wave found is {last.wave}.")
        verdicts = final_verdicts(last.targets)
        ranked, unranked = county_rows(trend, last.wave, last.sae)
        ranking = rank_table(ranked, spec.rank_draws, spec.rank_seed, spec.rank_interval)
    last_series = trend[trend["series"] == trend["series"].max()]
    pos = position(last_series[last_series["domain_type"] == "overall"], spec)
    accepted, issues, files, demo_ind = _validate_indicators(root, spec, plan, through)
    status = status_table(plan, accepted, through)
    inputs = {}
    for w in waves:
        for p in (where.wave(w.wave).processed("estimates.csv"), where.wave(w.wave).processed("targets.csv"),
                  where.wave(w.wave).estimands):
            inputs[str(p.relative_to(root))] = sha256_file(p)
    demo_waves = [w.wave for w in waves if where.wave(w.wave).truth.exists()]
    return Assessment(kind, through, spec, plan, waves, trend, changes, projection, proj_through, verdicts, ranking, pos,
                      accepted, issues, status, summary_table(status), demo_waves, demo_ind, files, inputs, unranked,
                      level)


def published_only(df: pd.DataFrame) -> pd.DataFrame:
    """The same rows with the numbers of suppressed cells blanked: published files never carry them."""
    df = df.copy()
    sup = (df["reliability"] == "suppressed").to_numpy()
    for col in ("est", "se", "lci", "uci", "gap", "p_value"):
        if col in df:
            df.loc[sup, col] = np.nan
    return df


def _write_outputs(a: Assessment, out: Path) -> dict[str, Path]:
    tdir, fdir = out / "tables", out / "figures"
    machine = [(published_only(a.trend), "trend", TREND), (a.changes, "changes", CHANGES), (a.position, "position", POSITION),
               (a.status, "indicator_status", STATUS), (a.summary, "indicator_summary", SUMMARY),
               (a.accepted, "indicator_submissions", ACCEPTED), (a.issues, "indicator_issues", ISSUES),
               (a.projection, "projection", PROJECTION)]
    if a.verdicts is not None:
        machine += [(published_only(a.verdicts), "verdicts", VERDICTS), (a.ranking, "ranking", RANKING)]
    for df, stem, schema in machine:
        write_table(df, tdir / f"{stem}.csv", schema)
    published = [T.trend_published(a.trend, a.ci_level), T.changes_published(a.changes, a.spec.level),
                 T.projection_published(a.projection)]
    if a.verdicts is not None:
        published += [T.verdicts_published(a.verdicts, a.ci_level), T.ranking_published(a.ranking, a.spec.rank_interval)]
    published += [T.position_published(a.position, a.ci_level), T.indicator_status_published(a.status),
                  T.indicator_issues_published(a.issues, {t.id: t.name_zh for t in a.plan.targets})]
    write_workbook(published, out / "tables.xlsx")
    figs: dict[str, Path] = {}
    shown = a.projection if a.kind == "midterm" else None  # a final figure shows outcomes, not the old forecast
    # in the order the report shows them; file names carry the number of the caption (图1 … 图n)
    drawn = [("city_trend", F.fig_city_trend, (a.trend, a.spec, shown, a.through, a.ci_level)),
             ("counties", F.fig_small_multiples, (a.trend, "county", a.spec, shown,
                                                  "各县（市、区）具备科学素质的公民比例", a.ci_level))]
    if a.ranking is not None and len(a.ranking):
        drawn.append(("ranking", F.fig_ranking, (a.ranking, a.spec, a.ci_level)))
    drawn += [("groups", F.fig_small_multiples, (a.trend, "group", a.spec, shown, "重点人群具备科学素质的公民比例",
                                                 a.ci_level)),
              ("indicators", F.fig_indicator_status, (a.status,))]
    for i, (name, draw, args) in enumerate(drawn, start=1):
        figs[name] = save_figure(F.render(draw, *args), fdir, f"fig{i}_{name}")["png"]
    return {"tables": published, "figures": figs}


def run_assess(kind: str, through: int | None = None, root: Path | None = None) -> AssessResult:
    timer = Timer()
    root = root or ROOT
    if kind not in KINDS:
        raise PipelineError(f"--kind {kind!r}: use one of {KINDS}.")
    spec_through = load_assessment(project_paths(root).assessment_spec)
    through = through or (spec_through.default_midterm_through if kind == "midterm" else spec_through.final_year)
    log(f">> assess {kind} through {through}")
    a = assess(kind, through, root)
    out = project_paths(root).assessment_out(kind)
    written = _write_outputs(a, out)
    html, headline = build_report(a, written["figures"])
    write_text(html, out / "report.html")
    write_json({"kind": kind, "through": through, "waves": [w.wave for w in a.waves], "inputs": a.inputs,
                "indicator_files": a.indicator_files, "rank_seed": a.spec.rank_seed,
                "rank_draws": a.spec.rank_draws, "demo_waves": a.demo_waves, "demo_indicators": a.demo_indicators},
               out / "run.json")
    return AssessResult(kind, through, out, headline, _status_line(a), timer.seconds)


def _status_line(a: Assessment) -> str:
    if a.kind == "midterm":
        counts = a.projection[a.projection["domain_type"] == "county"]["status_zh"].value_counts()
        return "各县（市、区）：" + "，".join(f"{k}{v}个" for k, v in counts.items())
    counts = a.verdicts[a.verdicts["domain_type"] == "county"]["verdict_zh"].value_counts()
    return "各县（市、区）结论：" + "，".join(f"{k}{v}个" for k, v in counts.items())
