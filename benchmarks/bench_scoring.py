"""Scoring benchmark: 1,000,000 respondents × the 68 items of the 2024 instrument.

(a) wide: answers simulated straight into the respondents × items integer matrices (option masks and
    status), then their answer codes, respondent scores (dimensions, total, class, rule, 26 benchmark shares)
    and the full item analysis (descriptives, alpha, KR-20, item–rest correlations, key check, MH DIF by
    sex and by urban/rural), all in memory;
(b) file: the same answers written as the responses.parquet that ingest delivers (one row per
    respondent, per item its option mask and missing reason: pipeline/schemas.py) with a
    respondents.parquet, then the whole stage `run_score`: read, score, item statistics and the three
    validated, sorted, atomic outputs.

Each part runs in its own process so that its peak resident memory (ru_maxrss, which counts NumPy and
Arrow buffers alike) is its own. BLAS is held to one thread (unless OPENBLAS_NUM_THREADS is set): the
stage makes a single k × k covariance product, and on a shared machine a contended BLAS thread pool
costs more than it gives. The load average at the start and the CPU seconds of each part are reported beside wall-clock
seconds, since on a shared machine the wall clock also measures the other jobs.

run() returns seconds per step, peak memory in MiB and sizes. Run alone with
`python -m benchmarks.bench_scoring` (add `--n 200000` for a quicker look).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

SEED = 20241105
N_BIG = 1_000_000
ROOT = Path(__file__).resolve().parent.parent


def _peak_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _iset():
    from pipeline.instruments import load_instrument
    from pipeline.scoring.items import compile_items

    return compile_items(load_instrument(ROOT / "survey_instruments" / "2024" / "instrument.yaml").items)


def phase_wide(n: int) -> dict:
    import numpy as np

    from pipeline.instruments import load_frameworks, load_scoring
    from pipeline.scoring.item_stats import item_stats
    from pipeline.scoring.items import answer_codes
    from pipeline.scoring.scores import score
    from pipeline.simulate.answers import simulate
    from pipeline.simulate.synthetic import scoring_respondents

    iset = _iset()
    t = time.perf_counter()
    resp = scoring_respondents(n, SEED + 1)
    sim = simulate(iset, n, SEED, unscored_share=0.02, respondent_ids=resp["respondent_id"].to_numpy(object))
    gen = time.perf_counter() - t
    rule = load_scoring(ROOT / "survey_instruments" / "2024" / "scoring.yaml")
    steps = {}
    cpu0 = time.process_time()
    t0 = t = time.perf_counter()
    codes = answer_codes(iset, sim.chosen, sim.status)
    steps["answer_codes"] = time.perf_counter() - t
    t = time.perf_counter()
    s = score(iset, codes, sim.respondent_ids, rule, load_frameworks())
    steps["scores"] = time.perf_counter() - t
    t = time.perf_counter()
    ok = s.scored
    w = (resp["n_adults"].to_numpy(float) / resp[["p_psu", "p_ssu", "p_hh"]].to_numpy(float).prod(axis=1))
    groups = {g: resp[g].to_numpy(dtype=object)[ok] for g in ("sex", "urban")}
    table, rel = item_stats(iset, codes[ok], s.raw_total[ok], w[ok], groups)
    steps["item_stats"] = time.perf_counter() - t
    total = time.perf_counter() - t0
    return {
        "respondents": n, "items": iset.k, "generate_s": round(gen, 2),
        "seconds": round(total, 2), "cpu_s": round(time.process_time() - cpu0, 2), "steps_s": {k: round(v, 2) for k, v in steps.items()},
        "peak_rss_mib": round(_peak_mib()), "share_literate_unweighted": round(float(s.literate[ok].mean()), 4),
        "alpha_total": round(rel["total"]["alpha"], 4), "n_scored": int(ok.sum()),
        "check_total_points_max": float(np.nanmax(s.total)),
    }


def phase_prepare(n: int, root: Path) -> dict:
    from pipeline.schemas import responses_frame
    from pipeline.simulate.answers import simulate
    from pipeline.simulate.synthetic import scoring_respondents
    from pipeline.tableio import write_table

    iset = _iset()
    t = time.perf_counter()
    spec = root / "survey_instruments" / "2024"
    spec.mkdir(parents=True, exist_ok=True)
    for name in ("instrument.yaml", "scoring.yaml"):
        shutil.copy(ROOT / "survey_instruments" / "2024" / name, spec / name)
    shutil.copy(ROOT / "survey_instruments" / "frameworks.yaml", root / "survey_instruments" / "frameworks.yaml")
    out = root / "data" / "processed" / "2024"
    out.mkdir(parents=True, exist_ok=True)
    resp = scoring_respondents(n, SEED + 1)
    sim = simulate(iset, n, SEED, unscored_share=0.02, respondent_ids=resp["respondent_id"].to_numpy(object))
    table = responses_frame(sim.respondent_ids, iset.ids, sim.chosen, sim.status)
    write_table(table, out / "responses.parquet", "responses")  # as ingest writes it
    write_table(resp, out / "respondents.parquet", "respondents")
    return {"rows": len(table), "columns": table.shape[1], "responses_mib": round((out / "responses.parquet").stat().st_size / 2**20, 1),
            "generate_and_write_s": round(time.perf_counter() - t, 2), "peak_rss_mib": round(_peak_mib())}


def phase_stage(root: Path) -> dict:
    from pipeline.paths import WavePaths
    from pipeline.scoring import run_score

    t, cpu0 = time.perf_counter(), time.process_time()
    result = run_score(WavePaths(2024, root=root), progress=False)
    seconds, cpu = time.perf_counter() - t, time.process_time() - cpu0
    out = root / "data" / "processed" / "2024"
    sizes = {p.name: round(p.stat().st_size / 2**20, 1) for p in sorted(out.iterdir()) if p.suffix in (".parquet", ".csv")}
    return {"seconds": round(seconds, 2), "cpu_s": round(cpu, 2), "peak_rss_mib": round(_peak_mib()), "summary": result.summary(),
            "files_mib": sizes}


def _child(args: list[str]) -> dict:
    env = dict(os.environ)
    env.setdefault("OPENBLAS_NUM_THREADS", "1")
    before = os.getloadavg()
    proc = subprocess.run([sys.executable, "-m", "benchmarks.bench_scoring", *args], cwd=ROOT, env=env,
                          capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        raise RuntimeError(f"benchmark phase {args} failed:\n{proc.stderr[-3000:]}")
    # the 1-, 5- and 15-minute load averages before and after the part: other jobs on the machine
    # show in them, and in a wall clock well above cpu_s
    return {**json.loads(proc.stdout.strip().splitlines()[-1]),
            "load_average_before": [round(x, 2) for x in before],
            "load_average_after": [round(x, 2) for x in os.getloadavg()]}


def run(n: int = N_BIG) -> dict:
    load = os.getloadavg()[0]
    wide = _child(["--phase", "wide", "--n", str(n)])
    tmp = Path(tempfile.mkdtemp(prefix="bench_scoring_"))
    try:
        prepared = _child(["--phase", "prepare", "--n", str(n), "--root", str(tmp)])
        stage = _child(["--phase", "stage", "--root", str(tmp)])
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return {"area": "scoring", "respondents": n, "items": wide["items"], "cpu_count": os.cpu_count(),
            "load_average_at_start": round(load, 2), "wide_in_memory": wide, "file_inputs": prepared,
            "run_score_end_to_end": stage}


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--n", type=int, default=N_BIG)
    p.add_argument("--phase", choices=["wide", "prepare", "stage"], default=None)
    p.add_argument("--root", type=Path, default=None)
    a = p.parse_args(argv)
    if a.phase == "wide":
        res = phase_wide(a.n)
    elif a.phase == "prepare":
        res = phase_prepare(a.n, a.root)
    elif a.phase == "stage":
        res = phase_stage(a.root)
    else:
        res = run(a.n)
        print(json.dumps(res, indent=2, ensure_ascii=False))
        return
    print(json.dumps(res, ensure_ascii=False))


if __name__ == "__main__":
    main()
