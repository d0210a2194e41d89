"""The result of an assessment, computed once by run.py and read by report.py (which never imports run)."""

from __future__ import annotations

from dataclasses import dataclass, field

import pandas as pd

from pipeline.assessment.spec import AssessmentSpec
from pipeline.plan.targets import Plan


@dataclass
class Assessment:
    """Everything the report and the tables need, computed once."""

    kind: str
    through: int
    spec: AssessmentSpec
    plan: Plan
    waves: list
    trend: pd.DataFrame
    changes: pd.DataFrame
    projection: pd.DataFrame  # the mid-term projection (in a final evaluation: as the mid-term check saw it)
    projection_through: int
    verdicts: pd.DataFrame | None
    ranking: pd.DataFrame | None
    position: pd.DataFrame
    accepted: pd.DataFrame
    issues: pd.DataFrame
    status: pd.DataFrame
    summary: pd.DataFrame
    demo_waves: list[int] = field(default_factory=list)
    demo_indicators: bool = False
    indicator_files: int = 0
    inputs: dict[str, str] = field(default_factory=dict)
    unranked: pd.DataFrame | None = None  # counties listed apart from the ranking, with the reason
    ci_level: float = 0.95  # the waves' confidence level (the same for all of them: waves.common_level)
