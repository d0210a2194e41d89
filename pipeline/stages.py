"""What each stage reads and writes, in one place: the make targets, the content stamps that let make
rerun a stage when the content of what it reads changes (whatever the files' modification times), the
sweep of a killed run's temporary files, and the marking of a report that no longer matches its inputs.

The Makefile knows the order of the stages; this module knows their files. Each stage's target depends
on `data/processed/<wave>/.<stage>.inputs`, a list of the sha256 of every file the stage reads, which
`python -m pipeline inputs` rewrites only when that list changes.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

from pipeline.manifest import STALE_DIR, sha256_file
from pipeline.paths import WavePaths
from pipeline.progress import log

# stage → (processed files it reads, files it writes; the first is its make target)
PROCESSED_IN = {
    "ingest": (),
    "score": ("respondents.parquet", "responses.parquet"),
    "weight": ("respondents.parquet", "contacts.parquet"),
    "estimate": ("ingest_report.json", "respondents.parquet", "scores.parquet", "weights.parquet",
                 "replicate_weights.parquet", "design.json"),
    "export": ("respondents.parquet", "scores.parquet", "weights.parquet", "replicate_weights.parquet", "design.json",
               "estimates.csv"),
}
OUTPUTS = {
    "ingest": ("ingest_report.json", "respondents.parquet", "responses.parquet", "contacts.parquet",
               "quarantine.csv"),
    "score": ("scores.parquet", "item_scores.parquet", "item_stats.csv"),
    "weight": ("weights.parquet", "replicate_weights.parquet", "design.json", "weighting_diagnostics.csv"),
    "estimate": ("estimates.csv", "targets.csv", "sae.csv", "gates.json", "populations.csv"),
    "export": ("export/export.json",),
}
SPEC_IN = {
    "ingest": ("instrument.yaml", "design.yaml"),
    "score": ("instrument.yaml", "scoring.yaml"),
    "weight": ("design.yaml",),
    "estimate": ("estimands.yaml",),  # the design comes from design.json, the weighting stage's record
    "export": ("instrument.yaml", "estimands.yaml"),
}
STAGES = ("ingest", "score", "weight", "estimate", "export", "report")
STALE_NOTE = "过期说明.txt"
HASH_CACHE = ".hashes.json"


def target(stage: str, paths: WavePaths) -> Path:
    if stage == "report":
        return paths.report_dir / "manifest.json"
    return paths.processed(OUTPUTS[stage][0])


def stamp_path(stage: str, paths: WavePaths) -> Path:
    return paths.out / f".{stage}.inputs"


def source_file(paths: WavePaths) -> str:
    """The delivery's survey file as the instrument names it (without loading and checking the whole spec)."""
    from pipeline.instruments import read_yaml

    try:
        return str((read_yaml(paths.instrument) or {}).get("source_file") or "survey.sav")
    except Exception:  # a broken instrument is ingest's to report, with its full message
        return "survey.sav"


def _tree(folder: Path) -> list[Path]:
    if not folder.is_dir():
        return []
    return sorted(p for p in folder.rglob("*") if p.is_file() and not any(
        part.startswith(".") for part in p.relative_to(folder).parts))


def inputs(stage: str, paths: WavePaths) -> list[Path]:
    """Every file the stage reads (absent ones included: a deleted input is a changed input)."""
    shared = [paths.frameworks, paths.counties]  # the instrument's county units live in counties.yaml
    if stage == "ingest":
        raw = [paths.raw / source_file(paths), paths.contacts_raw, paths.frame, paths.checksums]
        return raw + [paths.spec / n for n in SPEC_IN[stage]]
    if stage == "report":  # the manifest hashes the whole delivery, the whole spec and every output
        processed = [p for p in _tree(paths.out) if p.relative_to(paths.out).parts[0] not in ("report", STALE_DIR)]
        plan = paths.project.plan_targets
        return _tree(paths.raw) + shared + [plan] + _tree(paths.spec) + processed
    files = [paths.processed(n) for n in PROCESSED_IN[stage]] + [paths.spec / n for n in SPEC_IN[stage]]
    if stage == "score":
        files += shared
    if stage == "weight":
        files += _tree(paths.controls) + _response_table(paths)
    return files


def _response_table(paths: WavePaths) -> list[Path]:
    """The per-class count table a delivery without a contact sheet may bring (design.yaml delivery:)."""
    from pipeline.survey_design import load_delivery

    try:
        name = load_delivery(paths.design).response_table
    except Exception:  # a broken design.yaml is the weight stage's to report, with its full message
        return []
    return [paths.raw / name] if name else []


def _hashes(files: list[Path], paths: WavePaths) -> dict[str, str]:
    """sha256 per file, reusing a digest only while the file's size, mtime, ctime and inode are all as
    they were when it was computed (ctime cannot be set back, so `cp -p` or an unzip is always seen)."""
    cache_path = paths.out / HASH_CACHE
    try:
        cache = json.loads(cache_path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        cache = {}
    out, fresh = {}, {}
    for f in files:
        rel = f.relative_to(paths.root).as_posix() if f.is_relative_to(paths.root) else f.as_posix()
        try:
            st = f.stat()
        except FileNotFoundError:
            out[rel] = "absent"
            continue
        key = [st.st_size, st.st_mtime_ns, st.st_ctime_ns, st.st_ino]
        hit = cache.get(rel)
        digest = hit[1] if hit and hit[0] == key else sha256_file(f)
        out[rel] = digest
        fresh[rel] = [key, digest]
    if fresh and any(cache.get(k) != v for k, v in fresh.items()):
        cache.update(fresh)
        _write_atomic(cache_path, json.dumps(cache, sort_keys=True))
    return out


def _write_atomic(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f"{path.name}.{os.getpid()}.tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)


def update_stamp(stage: str, paths: WavePaths) -> bool:
    """Rewrite the stage's input stamp if what it reads changed; True when it did. A change also marks
    the wave's report as out of date at once, before any stage reruns."""
    digests = _hashes(inputs(stage, paths), paths)
    text = "".join(f"{d}  {rel}\n" for rel, d in sorted(digests.items()))
    path = stamp_path(stage, paths)
    try:
        old = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        old = None
    if old == text:
        return False
    if old is not None:
        before = dict(line.split("  ", 1)[::-1] for line in old.splitlines() if "  " in line)
        changed = sorted(k for k in set(before) | set(digests) if before.get(k) != digests.get(k))
        log(f"   {stage}: input(s) changed since its last run: {', '.join(changed[:6])}"
            f"{' …' if len(changed) > 6 else ''}")
        if stage != "report":
            mark_report_stale(paths, f"{stage} 阶段读取的文件已变化：{'、'.join(changed[:6])}")
    _write_atomic(path, text)
    return True


def mark_report_stale(paths: WavePaths, why: str) -> Path | None:
    """Move the wave's report aside as report.stale/ with a note saying why it no longer matches the
    data, so nobody reads an old report as current while the stages rerun (or fail)."""
    report = paths.report_dir
    if not report.is_dir():
        return None
    stale = paths.out / STALE_DIR
    if stale.exists():
        shutil.rmtree(stale)
    os.replace(report, stale)
    (stale / STALE_NOTE).write_text(
        "此文件夹中的报告已过期：生成报告之后，其所依据的数据或设定发生了变化（" + why + "）。\n"
        "请勿引用其中的结果。重新运行 make survey-" + str(paths.wave) + " 生成新的报告。\n",
        encoding="utf-8")
    log(f"   !! the report of wave {paths.wave} no longer matches its inputs: moved to {stale} (marked out of date)")
    return stale


def clear_stale(paths: WavePaths) -> None:
    """A complete new report supersedes the one set aside."""
    stale = paths.out / STALE_DIR
    if stale.is_dir():
        shutil.rmtree(stale)


def begin(stage: str, paths: WavePaths) -> None:
    """First thing a stage does: settle the rename journal a killed run of this stage left (its old
    complete set back, or the new one kept), mark the report out of date (every later report must be
    rebuilt from this run) and sweep the temporary files a killed run of this stage left behind."""
    from pipeline.tableio import recover, sweep_temporaries

    recover(stage, target(stage, paths).parent)  # a run killed among its renames: one complete set again
    if stage == "report":
        sweep_temporaries(paths.report_dir)
        return
    mark_report_stale(paths, f"{stage} 阶段正在重新运行")
    sweep_temporaries(paths.out, list(OUTPUTS[stage]))
