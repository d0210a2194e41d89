"""Demo submissions of the plan's activity indicators for 2021–2025, as lead units would send them.

Each lead unit sends one workbook a year made from the template. Most figures clear their targets with
some margin and grow over the years; a few fall short, and a few files carry the faults real submissions
have (a wrong year, a mistyped id, text in a number cell, a negative number, a fraction for a percentage,
a second file with a different figure, a unit that sends nothing), so that validation has work to do.
The faults are listed in FAULTS and written to faults.json beside the files.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from pipeline.errors import PipelineError
from pipeline.plan.form import workbook_bytes
from pipeline.plan.targets import Plan

SEED = 20220507  # the plan's issue date
YEARS = (2021, 2022, 2023, 2024, 2025)
MARKER = "DEMO_SUBMISSIONS.txt"

# Figures that are not "target × a comfortable margin": shortfalls and the paths of the share targets.
FIXED = {
    "farmers_high_quality_trained": {2021: 11300},
    "farmers_commissioner_stations": {2022: 8},
    "workers_high_skilled_trained": {2023: 1420},
    "officials_trained": {2021: 17000, 2022: 18500, 2023: 19000, 2024: 21000, 2025: 23000},
    "officials_science_activity_participants": {2021: 36000, 2022: 41000, 2023: 44000, 2024: 43000, 2025: 45000},
    "elderly_scientific_exercise_share": {2021: 52.0, 2022: 54.0, 2023: 55.5, 2024: 58.0, 2025: 61.0},
    "farmers_agritech_staff_trained_share": {2021: 70.0, 2022: 80.0, 2023: 88.0, 2024: 95.0, 2025: 98.0},
    "workers_migrant_skilled_trained_share": {2021: 60.0, 2022: 68.0, 2023: 75.0, 2024: 85.0, 2025: 96.0},
    "infrastructure_mobile_museum_county_coverage": {2021: 69.2, 2022: 76.9, 2023: 84.6, 2024: 92.3, 2025: 100.0},
}

# (year, unit, what goes wrong). Applied in demo_files(); documented in faults.json.
FAULTS = (
    (2021, "市总工会", "year cell B1 holds 2020, outside the plan period"),
    (2022, "市农业农村局", "indicator id mistyped: farmers_practical_trainning"),
    (2023, "市教育局", "youth_science_teachers_trained entered as text 约1200人次"),
    (2023, "市科协", "repeats youth_competition_participants with the same value as 市教育局"),
    (2024, "市农业农村局", "farmers_demonstration_bases entered as -28"),
    (2024, "市总工会", "a second file 市总工会_更正.xlsx gives a different workers_trained"),
    (2024, "市卫健委", "no file sent"),
    (2025, "市农业农村局", "farmers_agritech_staff_trained_share entered as a fraction 0.98"),
)


@dataclass(frozen=True)
class IndicatorSimResult:
    out: Path
    files: int
    faults: int

    def summary(self) -> str:
        return f"DEMO indicator submissions: {self.files} files for {YEARS[0]}–{YEARS[-1]}, {self.faults} planted faults → {self.out}"


def demo_values(plan: Plan, seed: int = SEED) -> dict[int, dict[str, float]]:
    """year → indicator id → the figure a unit would report (percent for percentages)."""
    rng = np.random.default_rng(seed)
    out: dict[int, dict[str, float]] = {y: {} for y in YEARS}
    for t in plan.activity:
        margin = rng.uniform(1.04, 1.35)
        growth = rng.uniform(0.01, 0.06)
        for i, y in enumerate(YEARS):
            if t.id in FIXED:
                v = FIXED[t.id].get(y)
                if v is None:
                    v = round(t.value * margin * (1 + growth) ** i)
            else:
                v = round(t.value * margin * (1 + growth) ** i * rng.uniform(0.97, 1.03))
            out[y][t.id] = float(v)
    return out


def _reporter(t) -> str:
    return t.lead_units_zh[0]


def demo_files(plan: Plan, seed: int = SEED) -> dict[str, bytes]:
    """relative path → workbook bytes for every demo submission."""
    values = demo_values(plan, seed)
    files: dict[str, bytes] = {}
    units = sorted({_reporter(t) for t in plan.activity})
    for y in YEARS:
        for unit in units:
            if (y, unit) == (2024, "市卫健委"):
                continue
            mine = {t.id: values[y][t.id] for t in plan.activity if _reporter(t) == unit}
            shown: dict[str, object] = {k: (int(v) if float(v).is_integer() else v) for k, v in mine.items()}
            year_cell: object = y
            ids: dict[str, str] = {}
            if (y, unit) == (2021, "市总工会"):
                year_cell = 2020
            if (y, unit) == (2022, "市农业农村局"):
                ids["farmers_practical_training"] = "farmers_practical_trainning"
            if (y, unit) == (2023, "市教育局"):
                shown["youth_science_teachers_trained"] = "约1200人次"
            if (y, unit) == (2024, "市农业农村局"):
                shown["farmers_demonstration_bases"] = -28
            if (y, unit) == (2025, "市农业农村局"):
                shown["farmers_agritech_staff_trained_share"] = 0.98
            if (y, unit) == (2023, "市科协"):
                shown["youth_competition_participants"] = int(values[y]["youth_competition_participants"])
            files[f"{y}/{unit}.xlsx"] = workbook_bytes(plan, year_cell, unit, shown, ids=ids, rows_for=y)
            if (y, unit) == (2024, "市总工会"):
                shown["workers_trained"] = int(shown["workers_trained"]) + 1500
                files[f"{y}/{unit}_更正.xlsx"] = workbook_bytes(plan, y, unit, shown, rows_for=y)
    return files


def run_indicator_simulate(plan: Plan, out: Path, force: bool = False, seed: int = SEED) -> IndicatorSimResult:
    """Write the demo submissions; refuses to touch a folder that holds anything but earlier demo files."""
    out = Path(out)
    if out.exists() and any(out.iterdir()):
        if not (out / MARKER).exists():
            raise PipelineError(f"{out} already holds submissions that are not demo files ({MARKER} is absent); "
                                "the demo generator never overwrites them. Choose another --out.")
        if not force:
            raise PipelineError(f"{out} already holds demo submissions; pass --force to regenerate them.")
    files = demo_files(plan, seed)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=".indicators-", dir=out.parent))
    try:
        for rel, data in files.items():
            (tmp / rel).parent.mkdir(parents=True, exist_ok=True)
            (tmp / rel).write_bytes(data)
        (tmp / MARKER).write_text("演示数据：由 `python -m pipeline indicators simulate` 生成的模拟填报文件，并非各单位的真实报送。\n"
                                  "Synthetic demo submissions. Replace this folder with the real submissions.\n",
                                  encoding="utf-8")
        (tmp / "faults.json").write_text(json.dumps([{"year": y, "unit": u, "fault": f} for y, u, f in FAULTS],
                                                    ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
        if out.exists():
            shutil.rmtree(out)
        os.replace(tmp, out)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return IndicatorSimResult(out, len(files), len(FAULTS))
