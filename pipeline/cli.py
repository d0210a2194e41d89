"""Command line: `python -m pipeline <command> --wave W`. Parsing only; each stage owns its logic."""

from __future__ import annotations

import argparse
import errno
import importlib
import sys
from pathlib import Path

from pipeline import stages
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


WRITE_ERRORS = {errno.ENOSPC: "the disk is full", errno.EDQUOT: "the disk quota is used up",
                errno.EACCES: "permission denied", errno.EPERM: "permission denied",
                errno.EROFS: "the file system is read-only"}


def _write_error(err: OSError) -> str:
    where = err.filename or "an output folder"
    return (f"cannot write {where}: {WRITE_ERRORS[err.errno]}. Nothing of this run was kept (the previous "
            "outputs, if any, are unchanged); free space or fix the folder's permissions and run it again.")


def _add_wave(p: argparse.ArgumentParser) -> None:
    p.add_argument("--wave", required=True, type=int, help="survey wave (year), e.g. 2024")
    p.add_argument("--root", type=Path, default=None,
                   help="project root holding survey_instruments/ and data/ (default: this checkout)")
    p.add_argument("--quiet", action="store_true", help="no progress bars")


def build_parser(command: str | None = None) -> argparse.ArgumentParser:
    """The whole command line, or, for one of the commands defined here (what make runs: the stages,
    `simulate`, `inputs`), only that much of it: the other commands' modules import the estimation and
    export packages, a second or two of start-up that every make step would otherwise pay."""
    parser = argparse.ArgumentParser(
        prog="python -m pipeline",
        description="Quanzhou civic science-literacy survey pipeline. Run `make survey-2024` for the whole wave.",
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name, (_, _, help_text) in STAGES.items():
        # argparse expands %-formats in help, so a literal % ("the 16% verdict") is written %%
        p = sub.add_parser(name, help=help_text.replace("%", "%%"), description=help_text)
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
    p.add_argument("--root", type=Path, default=None,
                   help="project root holding survey_instruments/ (default: this checkout)")
    p.add_argument("--variant", default="full",
                   choices=("full", "no_contacts", "design_weight", "final_weight", "no_times"),
                   help="delivery mode to imitate: no contact sheet, a design weight instead of the stage "
                        "probabilities, the company's final weight only, or no interview times (default full)")

    p = sub.add_parser("inputs", help="record the sha256 of every file a stage reads (make's content stamp)",
                       description="Rewrite data/processed/<wave>/.<stage>.inputs when the content of a file the "
                                   "stage reads has changed, whatever its modification time, so that make reruns "
                                   "the stage; a change also marks the wave's report as out of date at once.")
    p.add_argument("--stage", required=True, choices=stages.STAGES)
    _add_wave(p)

    if command in (*STAGES, "simulate", "inputs"):
        return parser
    for extra in ("pipeline.assessment.cli", "pipeline.check.run", "pipeline.instruments.cli",
                  "pipeline.export.cli"):
        try:
            module = importlib.import_module(extra)
        except ModuleNotFoundError:
            continue
        module.add_commands(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    parser = build_parser(argv[0] if argv else None)
    args = parser.parse_args(argv)
    # The commands write figures to files and never open a window. Only the command line chooses the
    # backend: a notebook importing the same modules keeps its own (inline) one.
    if args.command != "inputs":
        import matplotlib

        matplotlib.use("Agg")
    timer = Timer()
    try:
        if args.command in STAGES:
            module_name, func_name, _ = STAGES[args.command]
            func = getattr(importlib.import_module(module_name), func_name)
            paths = wave_paths(args.wave, args.root.resolve() if args.root else None)
            log(f">> {args.command} wave {args.wave}")
            result = func(paths, progress=not args.quiet)
        elif args.command == "simulate":
            from pipeline.simulate import run_simulate

            result = run_simulate(args.wave, args.out, seed=args.seed, per_stratum=args.per_stratum,
                                  scale=args.scale, force=args.force, total=args.total,
                                  psu_per_stratum=args.psu_per_stratum, root=args.root, variant=args.variant)
        elif args.command == "inputs":
            from pipeline.stages import update_stamp

            update_stamp(args.stage, wave_paths(args.wave, args.root.resolve() if args.root else None))
            return 0
        else:
            result = args.func(args)
    except PipelineError as err:
        log(f"ERROR ({args.command}): {err}")
        return 2
    except FileNotFoundError as err:  # an input a previous stage writes: the message names it and the stage
        log(f"ERROR ({args.command}): {err.args[0] if len(err.args) == 1 else err}")
        return 2
    except OSError as err:
        if err.errno not in WRITE_ERRORS:
            raise
        log(f"ERROR ({args.command}): {_write_error(err)}")
        return 2
    summary = result.summary() if hasattr(result, "summary") else ""
    log(f"<< {args.command}: {summary} [{timer.seconds:.1f}s]")
    return 0


if __name__ == "__main__":
    sys.exit(main())
