"""Run the delivery check and print its findings; non-zero exit when any finding would stop a run."""

from __future__ import annotations

import argparse
from dataclasses import dataclass
from pathlib import Path

from pipeline.check.delivery import SEVERITIES, SEVERITY_ZH, Problem, check_delivery
from pipeline.errors import PipelineError
from pipeline.paths import WavePaths, wave_paths
from pipeline.progress import log


class DeliveryProblems(PipelineError):
    """The delivery has problems that would stop a run (all of them are listed before this is raised)."""


@dataclass(frozen=True)
class CheckResult:
    wave: int
    problems: tuple[Problem, ...]

    def count(self, severity: str) -> int:
        return sum(1 for p in self.problems if p.severity == severity)

    def summary(self) -> str:
        return (f"{self.wave}年交付数据检查完毕：会中止运行的问题 {self.count('stop')} 个，会隔离记录的问题 "
                f"{self.count('quarantine')} 个，提示 {self.count('note')} 条；没有写任何文件。")


def run_check(paths: WavePaths, show: bool = True) -> CheckResult:
    problems = tuple(sorted(check_delivery(paths), key=lambda p: SEVERITIES.index(p.severity)))
    result = CheckResult(paths.wave, problems)
    if show:
        for p in problems:
            log(f"[{SEVERITY_ZH[p.severity]}] {p.message}")
    if result.count("stop"):
        raise DeliveryProblems(f"{result.summary()} 请先解决上面标为“会中止运行”的问题。")
    return result


def add_commands(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("check", help="list every problem of a wave's delivery against its spec (writes nothing)",
                       description="Read data/raw/<wave>/ and survey_instruments/<wave>/, list every problem in one "
                                   "run (columns, codes, missing codes, blanks, encoding, contact sheet, frame, "
                                   "controls) and exit non-zero when any of them would stop a run. Writes nothing.")
    p.add_argument("--wave", required=True, type=int, help="survey wave (year), e.g. 2024")
    p.add_argument("--root", type=Path, default=None, help="project root (default: this checkout)")
    p.set_defaults(func=lambda args: run_check(wave_paths(args.wave, args.root)))
