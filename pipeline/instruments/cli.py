"""Subcommand `instrument` (draft a wave's spec from a delivery; the answer-key sheet), added to
`python -m pipeline` by pipeline/cli.py. Parsing only."""

from __future__ import annotations

import argparse
from pathlib import Path

from pipeline.errors import InputError
from pipeline.paths import wave_paths


def _draft(args: argparse.Namespace):
    from pipeline.instruments.draft import run_draft

    return run_draft(wave_paths(args.wave, args.root), args.delivery, force=args.force, reference=args.reference)


def _keys(args: argparse.Namespace):
    from pipeline.instruments.keys import read_keys, write_template

    paths = wave_paths(args.wave, args.root)
    if bool(args.template) == bool(args.source):
        raise InputError("instrument keys: give exactly one of --template FILE (write the sheet) or --from FILE "
                         "(read it back into instrument.yaml).")
    if args.template:
        out = write_template(paths, args.template)

        class _Done:
            def summary(self) -> str:
                return (f"答案表已写出：{out}。填写正确答案、分值、维度和基准后运行 python -m pipeline instrument keys "
                        f"--wave {args.wave} --from {out}")
        return _Done()
    return read_keys(paths, args.source)


def add_commands(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("instrument", help="draft a wave's specification from a delivery; answer keys from a sheet",
                       description="Onboard a new questionnaire: `draft` writes survey_instruments/<wave>/ from the "
                                   "delivery's own labels, `keys` writes and reads the answer-key sheet.")
    inner = p.add_subparsers(dest="instrument_command", required=True, metavar="ACTION")
    d = inner.add_parser("draft", help="write survey_instruments/<wave>/ drafted from the delivery's metadata",
                         description="Draft instrument.yaml from the delivery's variable and value labels (TODO where "
                                     "the file cannot say), and copy scoring, design and estimands from the nearest "
                                     "existing wave. Never overwrites without --force.")
    d.add_argument("--wave", required=True, type=int, help="the new wave (year)")
    d.add_argument("--delivery", required=True, type=Path, help="the delivery file (.sav/.zsav/.dta/.csv/.xlsx)")
    d.add_argument("--reference", type=int, default=None,
                   help="wave whose scoring, design, estimands and codebooks to start from (default: the nearest)")
    d.add_argument("--force", action="store_true", help="overwrite an existing specification folder")
    d.add_argument("--root", type=Path, default=None, help="project root (default: this checkout)")
    d.set_defaults(func=_draft)
    k = inner.add_parser("keys", help="write the answer-key sheet (--template) or read it back (--from)",
                         description="One row per item: 题号, 题干, 题型, 选项, 正确答案, 多选计分, 分值, 维度, 基准. "
                                     "--from checks every row and writes the keys into instrument.yaml.")
    k.add_argument("--wave", required=True, type=int, help="survey wave (year)")
    k.add_argument("--template", type=Path, default=None, help="write the sheet to this .xlsx file")
    k.add_argument("--from", dest="source", type=Path, default=None, help="read the filled sheet from this .xlsx file")
    k.add_argument("--root", type=Path, default=None, help="project root (default: this checkout)")
    k.set_defaults(func=_keys)
