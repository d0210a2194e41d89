"""The whole pipeline at national scale: generate a delivery of about a million respondents once, then
time every stage (ingest, score, weight, estimate, report) with its peak memory, beside its floor:

- ingest: pyreadstat's bare read of the same survey.sav;
- score: reading responses.parquet's item columns and one numpy pass over them (answered items per
  respondent);
- weight: numpy raking of the full-sample weight to the same two margins (bincount IPF) plus one
  np.bincount of the base weights per (class, PSU);
- estimate: the PSU-total variance floor (Σw·y and Σw per domain × PSU, times the replicate factors).

Each step runs in a child process, so its peak memory (max RSS) is its own; the machine's load average
is recorded before and after every step, and the CPU time (user + system) beside the wall time: on a
shared machine a busy neighbour stretches the wall time, not the CPU time.

Environment: QZ_PIPELINE_ROWS (default 1,000,000 interviews) and QZ_PIPELINE_DESIGN, the replicate
design written into the copy of design.yaml: `spec` (default: the spec's JKn, one replicate per PSU),
`bootstrap:200` (Rao–Wu, 200 replicates) or `groups:8` (delete-a-group jackknife, 8 groups per
stratum). The generated national design has ~1,500 PSUs in ~370 strata of 13 counties: one replicate
per PSU would be an n × 1,500 matrix, 12 GiB per copy at a million rows, but the weighting keeps it as
replicate blocks (a county each; survey_design/replicate_blocks.py), about 1.1 GiB. A bootstrap
replicate changes every stratum, so its blocks are the whole matrix (n × 200, 1.5 GiB).
After the stages one at a time, the whole pipeline runs once more as make runs it (score and weight side
by side; QZ_PIPELINE_AS_MAKE=0 leaves that out). QZ_PIPELINE_STAGES (comma-separated, default all:
ingest,score,weight,estimate,report) times the first stages only (each stage needs the ones before it); QZ_PIPELINE_DIR keeps the generated delivery in that
folder and reuses it on the next run instead of generating it again (same rows and seed, same file).
"""

from __future__ import annotations

import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

CHILD = r"""
import json, os, resource, sys, time
t = time.perf_counter()
exec(sys.argv[1])
u = resource.getrusage(resource.RUSAGE_SELF)
c = resource.getrusage(resource.RUSAGE_CHILDREN)  # a stage's own helper processes (ingest's second reader)
print(json.dumps({"seconds": time.perf_counter() - t, "cpu_seconds": u.ru_utime + u.ru_stime + c.ru_utime + c.ru_stime,
                  "peak_mib": max(u.ru_maxrss, c.ru_maxrss) / 1024, "child_peak_mib": c.ru_maxrss / 1024}))
"""

STAGE = ("from pipeline.paths import WavePaths; import pathlib; "
         "from pipeline.{pkg} import run_{name}; r = run_{name}(WavePaths(2024, pathlib.Path({root!r})), progress=False); "
         "print(r.summary(), file=sys.stderr)")

FLOOR_SCORE = r"""
import numpy as np, pyarrow.parquet as pq
names = [c for c in pq.read_schema({path!r}).names if c.startswith(("chosen_", "reason_"))]
tab = pq.read_table({path!r}, columns=names)
totals = np.zeros(tab.num_rows, dtype=np.int64)
for c in names:
    v = tab.column(c).to_numpy()
    totals += (v == 0) if c.startswith("reason_") else (v > 0)
print(totals.shape, file=sys.stderr)
"""

FLOOR_WEIGHT = r"""
import numpy as np, pandas as pd
r = pd.read_parquet({resp!r}, columns=["county_code", "sex", "age_band", "urban", "education", "psu"])
w = np.ones(len(r))
m1 = pd.factorize(r["county_code"].astype(str) + r["sex"].astype(str) + r["age_band"].astype(str) + r["urban"].astype(str))[0]
m2 = pd.factorize(r["county_code"].astype(str) + r["education"].astype(str))[0]
t1 = np.bincount(m1) * 3.0; t2 = np.bincount(m2) * 3.0
for _ in range(20):
    w *= (t1 / np.bincount(m1, weights=w))[m1]
    w *= (t2 / np.bincount(m2, weights=w))[m2]
by_psu = np.bincount(pd.factorize(r["psu"].astype(str))[0], weights=w)
print(by_psu.shape, file=sys.stderr)
"""

FLOOR_ESTIMATE = r"""
import numpy as np, pandas as pd
wt = pd.read_parquet({weights!r}, columns=["psu", "w_final"])
sc = pd.read_parquet({scores!r}, columns=["literate"])
cty = pd.read_parquet({resp!r}, columns=["county_code"])["county_code"]
p = pd.factorize(wt["psu"].astype(str))[0]; P = p.max() + 1
d = pd.factorize(cty.astype(str))[0]; D = d.max() + 1
y = sc["literate"].astype(float).fillna(0).to_numpy(); w = wt["w_final"].to_numpy()
s1 = np.bincount(d * P + p, weights=w * y, minlength=D * P).reshape(D, P)
s0 = np.bincount(d * P + p, weights=w, minlength=D * P).reshape(D, P)
A = np.ones((P, P)); A[np.arange(P), np.arange(P)] = 0
theta = (s1 @ A) / (s0 @ A)
print(theta.var(axis=1).shape, file=sys.stderr)
"""


def _load() -> list[float]:
    return [round(x, 2) for x in os.getloadavg()]


def _child(code: str) -> dict:
    return _children([code])[0]


def _children(codes: list[str]) -> list[dict]:
    """Run the steps side by side (one process each) and wait for all of them."""
    before = _load()
    procs = [subprocess.Popen([sys.executable, "-c", CHILD, code], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                              text=True, cwd=ROOT) for code in codes]
    return [_result(p, *p.communicate(), before) for p in procs]


def _result(proc, stdout: str, stderr: str, before: list[float]) -> dict:
    out = subprocess.CompletedProcess(proc.args, proc.returncode, stdout, stderr)
    if out.returncode != 0:
        return {"error": out.stderr.strip().splitlines()[-1] if out.stderr.strip() else f"exit {out.returncode}",
                "load_before": before, "load_after": _load()}
    result = json.loads(out.stdout.strip().splitlines()[-1])
    lines = [x.strip() for x in out.stderr.splitlines() if x.strip()]
    if lines:
        result["summary"] = lines[-1]
    result.update(load_before=before, load_after=_load())
    return result


def _spec(root: Path, choice: str) -> str:
    shutil.copytree(ROOT / "survey_instruments", root / "survey_instruments")
    design = root / "survey_instruments" / "2024" / "design.yaml"
    text = design.read_text(encoding="utf-8")
    kind, _, count = choice.partition(":")
    if kind == "groups":
        marker = "    replicates: 200 "
        text = text.replace(marker, f"    groups: {int(count)}\n{marker}", 1)
        label = f"JKn, {int(count)} groups per stratum"
    elif kind == "bootstrap":
        text = text.replace("    method: JKn ", "    method: bootstrap ", 1)
        text = text.replace("    replicates: 200 ", f"    replicates: {int(count)} ", 1)
        label = f"Rao-Wu bootstrap, {int(count)} replicates"
    else:
        label = "JKn, one replicate per PSU (the spec)"
    design.write_text(text, encoding="utf-8")
    return label


def _as_make(root: Path, pkgs: dict[str, str]) -> dict:
    """The pipeline again, in the order `make survey-<wave>` runs it (the Makefile's --jobs=2): ingest, then
    score and weight side by side (both need only ingest's tables), then estimate, then report. The wall
    time of each phase; CPU and peak memory per stage. The content stamps make computes between stages
    and the export (which the report's manifest waits for) are not part of it."""
    out: dict = {}
    start = time.perf_counter()
    for phase in (["ingest"], ["score", "weight"], ["estimate"], ["report"]):
        t = time.perf_counter()
        results = _children([STAGE.format(pkg=pkgs[n], name=n, root=str(root)) for n in phase])
        out[" + ".join(phase)] = {"wall_s": time.perf_counter() - t, **dict(zip(phase, results, strict=True))}
        if any("error" in r for r in results):
            out["error"] = next(r["error"] for r in results if "error" in r)
            return out
    out["total_s"] = time.perf_counter() - start
    out["peak_mib_max"] = max(r[n]["peak_mib"] for r in out.values() if isinstance(r, dict) for n in r
                              if isinstance(r[n], dict) and "peak_mib" in r[n])
    out["peak_mib_side_by_side"] = sum(out["score + weight"][n]["peak_mib"] for n in ("score", "weight"))
    return out


def run() -> dict:
    rows = int(os.environ.get("QZ_PIPELINE_ROWS", "1000000"))
    choice = os.environ.get("QZ_PIPELINE_DESIGN", "spec")
    wanted = os.environ.get("QZ_PIPELINE_STAGES", "ingest,score,weight,estimate,report").split(",")
    keep = os.environ.get("QZ_PIPELINE_DIR")
    start = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(keep) / f"big-{rows}" if keep else Path(tmp) / "big"
        raw = root / "data" / "raw" / "2024"
        sav = raw / "survey.sav"
        reuse = keep is not None and (raw / ".demo-delivery.json").exists()
        if root.exists() and not reuse:
            shutil.rmtree(root)  # a half-generated folder of an interrupted run
        if reuse:
            shutil.rmtree(root / "survey_instruments")
            shutil.rmtree(root / "data" / "processed", ignore_errors=True)
            sim = {"reused": str(raw)}
        (root / "data" / "raw").mkdir(parents=True, exist_ok=True)
        label = _spec(root, choice)
        if not reuse:
            sim = _child(f"from pipeline.simulate import run_simulate; import pathlib; run_simulate(2024, {str(raw)!r}, "
                         f"total={rows}, scale=3.0, psu_per_stratum=80, root=pathlib.Path({str(root)!r}))")
        out = root / "data" / "processed" / "2024"
        res: dict = {"simulate": {**sim, "sav_mib": sav.stat().st_size / 2**20}}
        res["floor_bare_read"] = _child(f"import pyreadstat; df, m = pyreadstat.read_sav({str(sav)!r}, "
                                        "user_missing=True); print(df.shape, file=sys.stderr)")
        stages = [("ingest", "ingest"), ("score", "scoring"), ("weight", "weighting"), ("estimate", "estimation"),
                  ("report", "reporting")]
        stages = [s for s in stages if s[0] in wanted]
        for name, pkg in stages:
            res[name] = _child(STAGE.format(pkg=pkg, name=name, root=str(root)))
            if "error" in res[name]:
                break
            if name == "ingest":
                res["floor_score"] = _child(FLOOR_SCORE.format(path=str(out / "responses.parquet")))
                res["floor_weight"] = _child(FLOOR_WEIGHT.format(resp=str(out / "respondents.parquet")))
            if name == "weight":
                res["floor_estimate"] = _child(FLOOR_ESTIMATE.format(
                    weights=str(out / "weights.parquet"), scores=str(out / "scores.parquet"),
                    resp=str(out / "respondents.parquet")))
        report = json.loads((out / "ingest_report.json").read_text()) if (out / "ingest_report.json").exists() else {}
        done = [n for n, _ in stages if "seconds" in res.get(n, {})]
        total = sum(res[n]["seconds"] for n in done)
        if len(done) == 5 and os.environ.get("QZ_PIPELINE_AS_MAKE", "1") == "1":
            res["as_make"] = _as_make(root, dict(stages))
        res["summary"] = {
            "rows_read": report.get("rows_read"), "replicate_design": label,
            "stages_completed": done, "total_ingest_to_report_s": total,
            "peak_mib_max": max((res[n]["peak_mib"] for n in done), default=None),
            "as_make_total_s": res.get("as_make", {}).get("total_s"),
            "goal": "ingest -> report under 120 s and 6 GiB peak",
            "over_floor": {n: res[n]["seconds"] / res[f][("seconds")] for n, f in
                           (("ingest", "floor_bare_read"), ("score", "floor_score"), ("weight", "floor_weight"),
                            ("estimate", "floor_estimate")) if "seconds" in res.get(n, {}) and "seconds" in res.get(f, {})},
        }
        res["machine"] = {"cores": os.cpu_count(), "load_at_end": _load(),
                          "child_rusage_max_mib": resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024}
        res["seconds"] = time.perf_counter() - start
        return res


if __name__ == "__main__":
    print(json.dumps(run(), ensure_ascii=False, indent=2))
