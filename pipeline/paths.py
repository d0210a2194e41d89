"""Wave → standard paths. The one place that knows where each stage's files live."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SPEC_ROOT = ROOT / "survey_instruments"
FRAMEWORKS = SPEC_ROOT / "frameworks.yaml"
PLAN_TARGETS = SPEC_ROOT / "plan" / "targets.yaml"


@dataclass(frozen=True)
class WavePaths:
    """Every standard path of one wave. `root` lets tests point a wave at a temporary folder."""

    wave: int
    root: Path = ROOT

    @property
    def spec(self) -> Path:
        return self.root / "survey_instruments" / str(self.wave)

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

    # processed
    def processed(self, name: str) -> Path:
        return self.out / name

    @property
    def report_dir(self) -> Path:
        return self.out / "report"


def wave_paths(wave: int | str, root: Path | None = None) -> WavePaths:
    return WavePaths(int(wave), root or ROOT)
