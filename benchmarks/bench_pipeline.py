"""Demo generation at 10,000 and 1,000,000 respondents, and ingest of the 1,000,000-respondent .sav
against pyreadstat's bare read of the same file (the goal: ingest ≤ 2 × bare read). Each step runs in
a child process so that its peak memory (max RSS) is its own. The bare read and the ingest run twice,
alternating, and the faster of each pair is compared: a shared machine's noise is one-sided."""

from __future__ import annotations

import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

CHILD = r"""
import json, resource, sys, time
t = time.perf_counter()
exec(sys.argv[1])
print(json.dumps({"seconds": time.perf_counter() - t,
                  "peak_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
"""


def _child(code: str, steps: bool = False) -> dict:
    out = subprocess.run([sys.executable, "-c", CHILD, code], check=True, capture_output=True, text=True, cwd=ROOT)
    result = json.loads(out.stdout.strip().splitlines()[-1])
    if steps:  # the stage's own log of where its time went
        result["steps"] = [line.strip() for line in out.stderr.splitlines() if line.rstrip().endswith(" s)")]
    return result


def run() -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        small = _child(f"from pipeline.simulate import run_simulate; r = run_simulate(2024, {str(tmp / 'small')!r}); "
                       "print(r.summary(), file=sys.stderr)")
        root = tmp / "big"
        (root / "data" / "raw").mkdir(parents=True)
        (root / "survey_instruments").symlink_to(ROOT / "survey_instruments")
        big = _child(f"from pipeline.simulate import run_simulate; run_simulate(2024, {str(root / 'data/raw/2024')!r}, "
                     "total=1_040_000, scale=3.0, psu_per_stratum=80, root=__import__('pathlib').Path("
                     f"{str(root)!r}))")
        sav = root / "data" / "raw" / "2024" / "survey.sav"
        bare_code = (f"import pyreadstat; df, m = pyreadstat.read_sav({str(sav)!r}, user_missing=True); "
                     "print(df.shape, file=sys.stderr)")
        ingest_code = ("from pipeline.ingest import run_ingest; from pipeline.paths import WavePaths; "
                       f"r = run_ingest(WavePaths(2024, __import__('pathlib').Path({str(root)!r}))); "
                       "print(r.summary(), file=sys.stderr)")
        bares, ingests = [], []
        for _ in range(2):
            bares.append(_child(bare_code))
            ingests.append(_child(ingest_code, steps=True))
        bare = min(bares, key=lambda r: r["seconds"])
        ingest = min(ingests, key=lambda r: r["seconds"])
        rows = json.loads((root / "data" / "processed" / "2024" / "ingest_report.json").read_text())["rows_read"]
        return {
            "simulate_10k": small,
            "simulate_1m": {**big, "rows": rows, "sav_mib": sav.stat().st_size / 2**20},
            "bare_read_1m": {**bare, "runs_seconds": [r["seconds"] for r in bares]},
            "ingest_1m": {**ingest, "runs_seconds": [r["seconds"] for r in ingests]},
            "ingest_over_bare_read": ingest["seconds"] / bare["seconds"],
            "goal": "ingest <= 2 x bare pyreadstat read",
            "machine_cores": __import__("os").cpu_count(),
            "child_rusage_max_mib": resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024,
        }


if __name__ == "__main__":
    t = time.perf_counter()
    print(json.dumps(run(), indent=2))
    print(f"{time.perf_counter() - t:.0f}s", file=sys.stderr)
