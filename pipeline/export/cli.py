"""Subcommand `export`, added to `python -m pipeline` by pipeline/cli.py. Parsing only."""

from __future__ import annotations

import argparse
from pathlib import Path

from pipeline.export.writers import FORMATS


def _export(args: argparse.Namespace):
    from pipeline.export.run import run_export
    from pipeline.paths import wave_paths
    from pipeline.progress import log

    log(f">> export wave {args.wave}")
    formats = [f.strip().lower().lstrip(".") for f in args.format.split(",") if f.strip()]
    return run_export(wave_paths(args.wave, args.root), formats, args.out, args.with_questionnaire_id,
                      progress=not args.quiet)


def add_commands(sub) -> None:
    p = sub.add_parser(
        "export", help="labelled analysis file (.sav/.dta/.csv/.parquet), codebook and R/Stata/SPSS design syntax",
        description="Write one analysis file per wave: pseudonymous respondent id, demographics and key-group "
                    "flags with Chinese value labels, scores, class and literate, stratum and PSU, the final and "
                    "every replicate weight, with a codebook and design syntax for R, Stata and SPSS that "
                    "reproduces the published shares and standard errors. Written atomically to "
                    "data/processed/<wave>/export/ unless --out is given.")
    p.add_argument("--wave", required=True, type=int, help="survey wave (year), e.g. 2024")
    p.add_argument("--format", default="sav",
                   help=f"one or more of {', '.join(FORMATS)}, comma-separated (default: sav)")
    p.add_argument("--out", type=Path, default=None, help="folder to write (default: data/processed/<wave>/export)")
    p.add_argument("--with-questionnaire-id", action="store_true",
                   help="also write the questionnaire number ↔ pseudonym crosswalk to data/restricted/<wave>/ "
                        "(only with the linkage key present; for authorised staff only)")
    p.add_argument("--root", type=Path, default=None,
                   help="project root holding survey_instruments/ and data/ (default: this checkout)")
    p.add_argument("--quiet", action="store_true", help="no progress messages")
    p.set_defaults(func=_export)
