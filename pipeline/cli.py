"""Command line: `python -m pipeline <command> --wave W`. Parsing only; each stage owns its logic."""

from __future__ import annotations

import argparse
import importlib
import sys
from pathlib import Path

from pipeline.errors import PipelineError
from pipeline.paths import wave_paths
from pipeline.progress import Timer, log

# command → (module, function, help). The stage's function takes WavePaths (and keyword options)
# and returns a result object whose summary() is the stage's closing line.
STAGES = {
    "ingest": ("pipeline.ingest", "run_ingest", "read the raw delivery, drop identities, check, quarantine"),
    "score": ("pipeline.scoring", "run_score", "score every respondent, classes and item statistics"),
    "weight": ("pipeline.weighting", "run_weight", "base weights, non-response, calibration, trimming, replicates"),
    "estimate": ("pipeline.estimation", "run_estimate", "design-based estimates per domain and the 16% verdict"),
    "report": ("pipeline.reporting", "run_report", "figures, workbook, HTML report and manifest"),
}


def _add_wave(p: argparse.ArgumentParser) -> None:
    p.add_argument("--wave", required=True, type=int, help="survey wave (year), e.g. 2024")
    p.add_argument("--root", type=Path, default=None,
                   help="project root holding survey_instruments/ and data/ (default: this checkout)")
    p.add_argument("--quiet", action="store_true", help="no progress bars")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m pipeline",
        description="Quanzhou civic science-literacy survey pipeline. Run `make survey-2024` for the whole wave.",
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name, (_, _, help_text) in STAGES.items():
        p = sub.add_parser(name, help=help_text, description=help_text)
        _add_wave(p)

    p = sub.add_parser("simulate", help="generate a synthetic demo wave as fieldwork would deliver it",
                       description="Generate a synthetic Quanzhou wave: survey.sav, contacts.csv, frame.csv, "
                                   "controls/, truth.json, SHA256SUMS. Refuses to overwrite real data.")
    p.add_argument("--wave", required=True, type=int)
    p.add_argument("--out", required=True, type=Path, help="folder to write, e.g. data/raw/2024")
    p.add_argument("--seed", type=int, default=None, help="random seed (default: the wave's own seed)")
    p.add_argument("--per-stratum", type=int, default=None,
                   help="target completed interviews per county unit (default 800)")
    p.add_argument("--scale", type=float, default=1.0,
                   help="population scale factor (benchmarks use >1 for national-size files)")
    p.add_argument("--total", type=int, default=None,
                   help="national-scale file: this many interviews allocated by population (benchmarks)")
    p.add_argument("--psu-per-stratum", type=int, default=None, help="townships drawn per county unit (default 6)")
    p.add_argument("--force", action="store_true", help="overwrite an existing demo delivery")

    for extra in ("pipeline.assessment.cli", "pipeline.export.cli"):
        try:
            module = importlib.import_module(extra)
        except ModuleNotFoundError:
            continue
        module.add_commands(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    timer = Timer()
    try:
        if args.command in STAGES:
            module_name, func_name, _ = STAGES[args.command]
            func = getattr(importlib.import_module(module_name), func_name)
            paths = wave_paths(args.wave, args.root)
            log(f">> {args.command} wave {args.wave}")
            result = func(paths, progress=not args.quiet)
        elif args.command == "simulate":
            from pipeline.simulate import run_simulate

            result = run_simulate(args.wave, args.out, seed=args.seed, per_stratum=args.per_stratum,
                                  scale=args.scale, force=args.force, total=args.total,
                                  psu_per_stratum=args.psu_per_stratum)
        else:
            result = args.func(args)
    except PipelineError as err:
        log(f"ERROR ({args.command}): {err}")
        return 2
    summary = result.summary() if hasattr(result, "summary") else ""
    log(f"<< {args.command}: {summary} [{timer.seconds:.1f}s]")
    return 0


if __name__ == "__main__":
    sys.exit(main())
