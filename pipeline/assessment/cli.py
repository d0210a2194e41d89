"""Subcommands `assess` and `indicators`, added to `python -m pipeline` by pipeline/cli.py. Parsing only."""

from __future__ import annotations

import argparse
from dataclasses import dataclass
from pathlib import Path

from pipeline.errors import InputError
from pipeline.paths import ROOT, project_paths


def _root(args: argparse.Namespace) -> Path:
    return args.root or ROOT


def _assess(args: argparse.Namespace):
    from pipeline.assessment.run import run_assess

    return run_assess(args.kind, args.through, _root(args))


@dataclass(frozen=True)
class _Done:
    text: str

    def summary(self) -> str:
        return self.text


def _plan(root: Path):
    from pipeline.plan.targets import load_plan

    return load_plan(project_paths(root).plan_targets)


def _template(args: argparse.Namespace):
    from pipeline.assessment.indicators import write_template

    root = _root(args)
    plan = _plan(root)
    if not plan.period[0] <= args.year <= plan.period[1]:
        raise InputError(f"--year {args.year} is outside the plan period {plan.period[0]}–{plan.period[1]}.")
    out = args.out or project_paths(root).indicators_out / "templates" / f"指标填报模板_{args.year}.xlsx"
    write_template(plan, args.year, out)
    return _Done(f"template for {args.year} → {out}")


def _validate(args: argparse.Namespace):
    from pipeline.assessment.indicators import validate_year
    from pipeline.assessment.indicators.submissions import ISSUES
    from pipeline.assessment.spec import load_assessment
    from pipeline.progress import log
    from pipeline.tableio import write_table

    root = _root(args)
    plan = _plan(root)
    spec = load_assessment(project_paths(root).assessment_spec)
    if not plan.period[0] <= args.year <= plan.period[1]:
        raise InputError(f"--year {args.year} is outside the plan period {plan.period[0]}–{plan.period[1]}.")
    v = validate_year(root / spec.indicator_folder / str(args.year), args.year, plan, rel_to=root)
    out = project_paths(root).indicators_out / str(args.year) / "validation.csv"
    write_table(v.issues, out, ISSUES)
    for r in v.issues.itertuples(index=False):
        log(f"   [{r.severity}] {r.message}")
    if len(v.errors):
        raise InputError(f"{len(v.errors)} problem(s) in the {args.year} submissions ({v.files} files, "
                         f"{len(v.accepted)} values accepted); listed above and in {out}.")
    return _Done(f"{args.year}: {v.files} files, {len(v.accepted)} values accepted, "
                 f"{len(v.issues)} warning(s) → {out}")


def _simulate(args: argparse.Namespace):
    from pipeline.simulate.indicators import run_indicator_simulate

    root = _root(args)
    out = args.out if args.out.is_absolute() else root / args.out
    return run_indicator_simulate(_plan(root), out, force=args.force)


def add_commands(sub) -> None:
    p = sub.add_parser("assess", help="mid-term check or final evaluation over several waves and the indicators",
                       description="Trend tables, mid-term projections and statuses or final verdicts, ranking, "
                                   "published comparisons and plan indicators → data/processed/assessment/<kind>/")
    p.add_argument("--kind", required=True, choices=("midterm", "final"))
    p.add_argument("--through", type=int, default=None,
                   help="last wave to include (default: assessment.yaml default_midterm_through, or the final year)")
    p.add_argument("--root", type=Path, default=None, help="project root (default: this checkout)")
    p.set_defaults(func=_assess)

    ind = sub.add_parser("indicators", help="plan activity indicators: template, validation, demo submissions")
    isub = ind.add_subparsers(dest="indicators_command", required=True, metavar="ACTION")
    t = isub.add_parser("template", help="write the Excel template a lead unit fills in for a year")
    t.add_argument("--year", required=True, type=int)
    t.add_argument("--out", type=Path, default=None, help="path of the .xlsx to write")
    t.add_argument("--root", type=Path, default=None)
    t.set_defaults(func=_template)
    v = isub.add_parser("validate", help="check the submissions of a year in data/raw/indicators/<year>/")
    v.add_argument("--year", required=True, type=int)
    v.add_argument("--root", type=Path, default=None)
    v.set_defaults(func=_validate)
    s = isub.add_parser("simulate", help="write demo submissions for 2021–2025 (never over real ones)")
    s.add_argument("--out", type=Path, default=Path("data/raw/indicators"))
    s.add_argument("--force", action="store_true", help="regenerate earlier demo submissions")
    s.add_argument("--root", type=Path, default=None)
    s.set_defaults(func=_simulate)
