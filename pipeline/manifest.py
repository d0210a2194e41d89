"""Provenance of a wave's run: what went in, what came out, and with which code and settings.

manifest.json lists the sha256 of every raw input, every specification file and every processed
output of the wave (the report included, the manifest itself excluded), the package version, the
seeds and parameters from the wave's specification, and the versions of Python and the numerical
libraries. It holds no timestamps, so the same run gives the same manifest, and it is written last
and atomically: the Makefile treats its existence as "the wave is complete".
"""

from __future__ import annotations

import datetime as _dt
import hashlib
import os
import platform
from collections.abc import Iterable
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Any

import yaml

import pipeline
from pipeline.errors import SpecError
from pipeline.paths import WavePaths

MANIFEST_NAME = "manifest.json"
# Spec files whose full content is recorded as the run's parameters (instrument and scoring keys are
# long and covered by their hashes).
PARAMETER_SPECS = ("design.yaml", "estimands.yaml")
LIBRARIES = ("numpy", "pandas", "scipy", "statsmodels", "pyarrow", "matplotlib", "openpyxl", "pyreadstat")
CHUNK = 32 << 20  # large reads: hashlib lets go of the GIL while it digests a buffer, so threads overlap
HASH_WORKERS = min(2, os.cpu_count() or 1)


def sha256_file(path: str | os.PathLike) -> str:
    digest = hashlib.sha256()
    with open(path, "rb", buffering=0) as fh:
        while chunk := fh.read(CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def _stamp(path: Path) -> tuple[int, ...]:
    st = path.stat()
    return st.st_size, st.st_mtime_ns, st.st_ctime_ns, st.st_ino


def _lower_priority() -> None:
    """Hashing ahead yields the core to the thread drawing the report (Linux prioritises each thread)."""
    import threading

    try:
        os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), 10)
    except (AttributeError, OSError):
        pass


class Digests:
    """sha256 of files hashed on background threads, started early so that the manifest at the end of a
    stage finds most of its digests done. A digest is handed out only while the file's size, mtime,
    ctime and inode are still those it had when hashing began; any other file is hashed when asked for."""

    def __init__(self, files: Iterable[Path] = (), workers: int = HASH_WORKERS, background: bool = False) -> None:
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="sha256",
                                        initializer=_lower_priority if background else None)
        self._jobs: dict[Path, tuple[tuple[int, ...], Future[str]]] = {}
        self.submit(files)

    def submit(self, files: Iterable[Path]) -> None:
        stamps = {}
        for p in files:
            try:
                stamps[p] = _stamp(p)
            except FileNotFoundError:  # gone since it was listed: nothing to hash ahead
                continue
        # the largest first, so that the threads finish together
        for p in sorted(stamps, key=lambda p: stamps[p][0], reverse=True):
            if p not in self._jobs:
                self._jobs[p] = (stamps[p], self._pool.submit(sha256_file, p))

    def get(self, path: Path) -> str:
        stamp, job = self._jobs.get(path, (None, None))
        if job is None or stamp != _stamp(path):
            return sha256_file(path)
        return job.result()

    def close(self) -> None:
        for _, job in self._jobs.values():
            job.cancel()
        self._pool.shutdown(wait=True)

    def __enter__(self) -> Digests:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


STALE_DIR = "report.stale"  # an earlier report set aside as out of date (pipeline.stages)


def _is_transient(path: Path, folder: Path) -> bool:
    """Hidden files (temp files of an atomic write in progress, input stamps) and a report set aside as
    out of date are not part of a run."""
    parts = path.relative_to(folder).parts
    return any(p.startswith(".") for p in parts) or path.name.endswith(".tmp") or parts[0] == STALE_DIR


def _files(folder: Path, exclude: Iterable[Path] = ()) -> list[Path]:
    if not folder.is_dir():
        return []
    skip = {p.resolve() for p in exclude}
    return sorted(
        (p for p in folder.rglob("*") if p.is_file() and not _is_transient(p, folder) and p.resolve() not in skip),
        key=lambda p: p.relative_to(folder).as_posix(),
    )


def hash_tree(folder: Path, root: Path, exclude: Iterable[Path] = (),
              digests: Digests | None = None) -> dict[str, str]:
    """sha256 of every file under `folder`, keyed by its path relative to the project root."""
    files = _files(folder, exclude)
    if digests is None:
        with Digests(files) as own:
            return {_rel(p, root): own.get(p) for p in files}
    digests.submit(files)
    return {_rel(p, root): digests.get(p) for p in files}


def prehash(paths: WavePaths) -> Digests:
    """Start hashing what the report stage leaves as it is (the raw delivery and the earlier stages'
    outputs), to overlap with drawing the report; pass the result to `write_manifest`."""
    outputs = [p for p in _files(paths.out) if not p.is_relative_to(paths.report_dir)]
    # one thread: the drawing keeps the other core
    return Digests(_files(paths.raw) + outputs, workers=1, background=True)


def _rel(path: Path, root: Path) -> str:
    try:
        return path.resolve().relative_to(root.resolve()).as_posix()
    except ValueError:
        return path.resolve().as_posix()


def _plain(obj: Any) -> Any:
    """YAML values as JSON values (dates as ISO text, sets as sorted lists, keys as text)."""
    if isinstance(obj, dict):
        return {str(k): _plain(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_plain(v) for v in obj]
    if isinstance(obj, (set, frozenset)):
        return sorted(_plain(v) for v in obj)
    if isinstance(obj, (_dt.date, _dt.datetime)):
        return obj.isoformat()
    return obj


def _load_yaml(path: Path) -> Any:
    try:
        # libyaml's parser where PyYAML has it: the manifest reads every spec of the wave at each stage
        loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
        return _plain(yaml.load(path.read_text(encoding="utf-8"), Loader=loader))
    except yaml.YAMLError as err:
        raise SpecError(f"{path} is not valid YAML ({err}); fix the file before reporting.") from None


def find_seeds(obj: Any, prefix: str = "") -> dict[str, Any]:
    """Every key whose name contains 'seed' (a value or a list of values), with its dotted path."""
    out: dict[str, Any] = {}
    if isinstance(obj, dict):
        for k, v in obj.items():
            here = f"{prefix}.{k}" if prefix else str(k)
            if "seed" in str(k).lower() and not isinstance(v, dict):
                out[here] = v
            else:
                out.update(find_seeds(v, here))
    elif isinstance(obj, list):
        for i, v in enumerate(obj):
            out.update(find_seeds(v, f"{prefix}[{i}]"))
    return out


def spec_files(paths: WavePaths) -> list[Path]:
    """The wave's own specification plus the shared frameworks and plan targets."""
    shared = [paths.frameworks, paths.counties, paths.project.plan_targets]
    return [p for p in shared if p.is_file()] + _files(paths.spec)


def environment() -> dict[str, str]:
    from importlib.metadata import PackageNotFoundError, version

    env = {"python": platform.python_version()}
    for lib in LIBRARIES:
        try:
            env[lib] = version(lib)
        except PackageNotFoundError:
            continue
    return env


def build_manifest(paths: WavePaths, manifest_path: Path | None = None,
                   digests: Digests | None = None) -> dict[str, Any]:
    manifest_path = manifest_path or paths.report_dir / MANIFEST_NAME
    specs = spec_files(paths)
    parsed = {p: _load_yaml(p) for p in specs if p.suffix in (".yaml", ".yml")}
    seeds: dict[str, Any] = {}
    for p, content in parsed.items():
        seeds.update({f"{_rel(p, paths.root)}:{k}": v for k, v in find_seeds(content).items()})
    parameters = {_rel(p, paths.root): content for p, content in parsed.items()
                  if p.parent == paths.spec and p.name in PARAMETER_SPECS}
    return {
        "wave": paths.wave,
        "package": {"name": "quanzhou-literacy", "version": pipeline.__version__},
        "environment": environment(),
        "demo_data": paths.truth.exists(),
        "inputs": {
            "raw": hash_tree(paths.raw, paths.root, digests=digests),
            "spec": {_rel(p, paths.root): sha256_file(p) for p in specs},
        },
        "outputs": hash_tree(paths.out, paths.root, exclude=[manifest_path], digests=digests),
        "seeds": seeds,
        "parameters": parameters,
        "publication_gates": _gates(paths),
    }


def _gates(paths: WavePaths) -> dict[str, Any] | None:
    """The estimate stage's gate record: each gate's status, and the gates the wave's spec accepted with
    their reasons."""
    import json

    path = paths.processed("gates.json")
    if not path.is_file():
        return None
    record = json.loads(path.read_text(encoding="utf-8"))
    return {"status": {g["gate"]: g["status"] for g in record.get("gates", [])},
            "accepted": record.get("accepted", [])}


def write_manifest(paths: WavePaths, manifest_path: Path | None = None, digests: Digests | None = None) -> Path:
    """Hash everything and write manifest.json atomically; call it after every other output exists."""
    manifest_path = manifest_path or paths.report_dir / MANIFEST_NAME
    from pipeline.tableio import write_json  # pandas, which `python -m pipeline inputs` never needs

    return write_json(build_manifest(paths, manifest_path, digests), manifest_path)


def verify_manifest(manifest_path: Path, root: Path) -> list[str]:
    """Files whose current sha256 differs from the manifest (or that are gone): empty when intact."""
    import json

    manifest = json.loads(Path(manifest_path).read_text(encoding="utf-8"))
    listed = {**manifest["inputs"]["raw"], **manifest["inputs"]["spec"], **manifest["outputs"]}
    bad = []
    for rel, digest in sorted(listed.items()):
        path = root / rel
        if not path.is_file() or sha256_file(path) != digest:
            bad.append(rel)
    return bad
