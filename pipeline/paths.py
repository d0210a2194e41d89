"""Wave → standard paths. The one place that knows where each stage's files live."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SPEC_ROOT = ROOT / "survey_instruments"
FRAMEWORKS = SPEC_ROOT / "frameworks.yaml"
COUNTIES = SPEC_ROOT / "counties.yaml"
PLAN_TARGETS = SPEC_ROOT / "plan" / "targets.yaml"
ASSESSMENT_SPEC = SPEC_ROOT / "assessment.yaml"


@dataclass(frozen=True)
class ProjectPaths:
    """The paths shared by every wave: the project-wide specification, the plan indicators and the
    assessment outputs. `root` lets tests point the project at a temporary folder."""

    root: Path = ROOT

    @property
    def spec_root(self) -> Path:
        return self.root / "survey_instruments"

    @property
    def frameworks(self) -> Path:
        return self.spec_root / "frameworks.yaml"

    @property
    def counties(self) -> Path:
        return self.spec_root / "counties.yaml"

    @property
    def plan_targets(self) -> Path:
        return self.spec_root / "plan" / "targets.yaml"

    @property
    def assessment_spec(self) -> Path:
        return self.spec_root / "assessment.yaml"

    @property
    def raw_root(self) -> Path:
        return self.root / "data" / "raw"

    @property
    def processed_root(self) -> Path:
        return self.root / "data" / "processed"

    @property
    def indicators_raw(self) -> Path:
        """The plan-indicator submissions, one folder per year."""
        return self.raw_root / "indicators"

    @property
    def indicators_out(self) -> Path:
        return self.processed_root / "indicators"

    def assessment_out(self, kind: str) -> Path:
        return self.processed_root / "assessment" / kind

    def wave(self, wave: int | str) -> WavePaths:
        return WavePaths(int(wave), self.root)


@dataclass(frozen=True)
class WavePaths:
    """Every standard path of one wave. `root` lets tests point a wave at a temporary folder."""

    wave: int
    root: Path = ROOT

    @property
    def project(self) -> ProjectPaths:
        return ProjectPaths(self.root)

    @property
    def spec(self) -> Path:
        return self.root / "survey_instruments" / str(self.wave)

    @property
    def frameworks(self) -> Path:
        return self.project.frameworks

    @property
    def counties(self) -> Path:
        return self.project.counties

    @property
    def raw(self) -> Path:
        return self.root / "data" / "raw" / str(self.wave)

    @property
    def out(self) -> Path:
        return self.root / "data" / "processed" / str(self.wave)

    # specification
    @property
    def instrument(self) -> Path:
        return self.spec / "instrument.yaml"

    @property
    def scoring(self) -> Path:
        return self.spec / "scoring.yaml"

    @property
    def design(self) -> Path:
        return self.spec / "design.yaml"

    @property
    def estimands(self) -> Path:
        return self.spec / "estimands.yaml"

    # raw delivery
    @property
    def survey(self) -> Path:
        return self.raw / "survey.sav"

    @property
    def contacts_raw(self) -> Path:
        return self.raw / "contacts.csv"

    @property
    def frame(self) -> Path:
        return self.raw / "frame.csv"

    @property
    def controls(self) -> Path:
        return self.raw / "controls"

    @property
    def checksums(self) -> Path:
        return self.raw / "SHA256SUMS"

    @property
    def truth(self) -> Path:
        """The demo generator's truth file; its presence marks a synthetic wave."""
        return self.raw / "truth.json"

    @property
    def restricted(self) -> Path:
        """Restricted files (the questionnaire-number crosswalk): outside data/processed/, owner-only."""
        return self.root / "data" / "restricted" / str(self.wave)

    # processed
    def processed(self, name: str) -> Path:
        return self.out / name

    @property
    def report_dir(self) -> Path:
        return self.out / "report"


def wave_paths(wave: int | str, root: Path | None = None) -> WavePaths:
    return WavePaths(int(wave), root or ROOT)


def project_paths(root: Path | None = None) -> ProjectPaths:
    return ProjectPaths(root or ROOT)
