"""The only table I/O of the pipeline.

Every write is atomic (temp file in the same folder, then rename), puts columns in schema order and
sorts rows by the schema key, so the same inputs give byte-identical files and a failed run leaves no
half-written output. CSV files carry a UTF-8 BOM so that Excel opens Chinese text correctly.

A stage writes all its outputs inside `stage_commit`: every file goes to a hidden temporary name first,
and only when all of them are complete is the stage's make target removed, the other outputs renamed
into place and the target renamed last. A run killed at any point leaves the old complete set (target
present) or an incomplete one without its target, which make reruns; the next run of the stage sweeps
the temporary files a killed run left behind.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import tempfile
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pandas as pd

from pipeline import faults
from pipeline.schemas import SCHEMAS, TableSchema, duplicate_key_error, key_order, validate

CSV_ENCODING = "utf-8-sig"


TMP_SUFFIX = ".tmp"


class _Commit:
    """The outputs of one stage run, written to temporary names and waiting to be renamed together."""

    def __init__(self, stage: str, target: Path | None) -> None:
        self.stage = stage
        self.target = Path(target) if target is not None else None
        self.pending: list[tuple[Path, Path]] = []
        self.lock = threading.Lock()

    def add(self, tmp: Path, path: Path) -> None:
        with self.lock:
            self.pending.append((tmp, path))

    def finish(self) -> None:
        _COMMITS[self.stage] = n = _COMMITS.get(self.stage, 0) + 1  # a stage may commit in steps
        faults.boundary(self.stage, f"commit{n}:begin")
        if self.target is not None:
            self.target.unlink(missing_ok=True)  # from here on the old set no longer counts as complete
        faults.boundary(self.stage, f"commit{n}:target-removed")
        last = [(t, p) for t, p in self.pending if self.target is not None and p == self.target]
        for tmp, path in [(t, p) for t, p in self.pending if (t, p) not in last] + last:
            os.replace(tmp, path)
            faults.boundary(self.stage, f"rename:{_label(path)}")

    def abort(self) -> None:
        for tmp, _ in self.pending:
            tmp.unlink(missing_ok=True)


_COMMIT: _Commit | None = None  # module-wide, not per thread: a stage writes from worker threads too
_COMMITS: dict[str, int] = {}  # commits made per stage in this process, to name the fault boundaries


def _label(path: Path) -> str:
    """A file's name as the fault hook spells it: relative to the stage's output folder when inside one."""
    return f"{path.parent.name}/{path.name}" if path.parent.name in ("figures", "tables") else path.name


def sweep_temporaries(folder: Path, names: list[str] | None = None) -> int:
    """Remove the temporary files a killed write left in `folder` (only those of `names` when given;
    subfolders too when not): the hidden `.<name>.<random>.tmp` files of atomic writes."""
    if not folder.is_dir():
        return 0
    found = (folder.rglob(f".*{TMP_SUFFIX}") if names is None
             else [p for n in names for p in folder.glob(f".{n}.*{TMP_SUFFIX}")])
    removed = 0
    for p in found:
        if p.is_file():
            p.unlink(missing_ok=True)
            removed += 1
    return removed


@contextlib.contextmanager
def stage_commit(stage: str, target: str | os.PathLike | None) -> Iterator[None]:
    """Hold every atomic write of the block at its temporary name; on success rename them all, `target`
    (the stage's make target) last and removed first; on failure delete them, leaving the old set as it was."""
    global _COMMIT
    if _COMMIT is not None:
        raise RuntimeError(f"stage_commit({stage!r}) inside stage_commit({_COMMIT.stage!r})")
    commit = _Commit(stage, Path(target) if target is not None else None)
    _COMMIT = commit
    try:
        yield
    except BaseException:
        _COMMIT = None
        commit.abort()
        raise
    _COMMIT = None
    try:
        commit.finish()
    except BaseException:
        commit.abort()
        raise


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary path beside `path`; on success rename it over `path` (or, inside a
    `stage_commit`, hand it to the commit), on failure delete it."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=TMP_SUFFIX, dir=path.parent)
    os.close(fd)
    tmp_path = Path(tmp)
    try:
        yield tmp_path
        # mkstemp makes the file private (0600); outputs are shared like any file the user writes
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp_path, 0o666 & ~umask)
        commit = _COMMIT
        if commit is None:
            os.replace(tmp_path, path)
        else:
            faults.boundary(commit.stage, f"write:{_label(path)}")
            commit.add(tmp_path, path)
    except BaseException:
        tmp_path.unlink(missing_ok=True)
        raise


def _schema_for(schema: TableSchema | str | None) -> TableSchema | None:
    if schema is None or isinstance(schema, TableSchema):
        return schema
    return SCHEMAS[schema]


def prepare(df: pd.DataFrame, schema: TableSchema | str | None) -> pd.DataFrame:
    """Validate, order columns and sort rows the way every written table is ordered."""
    schema = _schema_for(schema)
    if schema is None:
        return df.reset_index(drop=True)
    df = validate(df, schema, check_key=False)
    if schema.key:
        in_order, unique = key_order(df, schema.key)  # one pass answers both questions
        if not unique:
            raise duplicate_key_error(df, schema)
        if not in_order:
            df = df.sort_values(list(schema.key), kind="mergesort")
    return df.reset_index(drop=True)


def write_table(
    df: pd.DataFrame,
    path: str | os.PathLike,
    schema: TableSchema | str | None = None,
    metadata: dict[str, Any] | None = None,
) -> Path:
    """Write a table as .parquet or .csv (by extension), validated against its schema."""
    path = Path(path)
    df = prepare(df, schema)
    with atomic_path(path) as tmp:
        if path.suffix == ".parquet":
            import pyarrow as pa
            import pyarrow.parquet as pq

            table = pa.Table.from_pandas(df, preserve_index=False)
            if metadata:
                meta = dict(table.schema.metadata or {})
                meta[b"pipeline"] = json.dumps(metadata, ensure_ascii=False, sort_keys=True).encode()
                table = table.replace_schema_metadata(meta)
            # Large row groups and dictionary pages: long tables keyed by a million respondent ids would
            # otherwise rewrite (or abandon) the id dictionary in every 1M-row group, tripling write time.
            # Min/max statistics of categorical columns are left out: nothing filters on them, and on a
            # 65-million-row responses table they cost as much as the rest of the write.
            plain = [f.name for f in table.schema if not pa.types.is_dictionary(f.type)]
            pq.write_table(table, tmp, compression="zstd", row_group_size=1 << 24,
                           dictionary_pagesize_limit=1 << 28, write_statistics=plain)
        elif path.suffix == ".csv":
            df.to_csv(tmp, index=False, encoding=CSV_ENCODING, lineterminator="\n")
        else:
            raise ValueError(f"write_table: unsupported file type {path.suffix!r} for {path}")
    return path


def read_table(path: str | os.PathLike, schema: TableSchema | str | None = None) -> pd.DataFrame:
    """Read a stage table and validate it against its schema, with an error that names the file."""
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(
            f"{path} does not exist. Run the stage that writes it first (see `make help`)."
        )
    if path.suffix == ".parquet":
        df = pd.read_parquet(path)
    elif path.suffix == ".csv":
        df = pd.read_csv(path, encoding=CSV_ENCODING)
    else:
        raise ValueError(f"read_table: unsupported file type {path.suffix!r} for {path}")
    schema = _schema_for(schema)
    if schema is not None:
        try:
            df = validate(df, schema)
        except ValueError as err:
            raise ValueError(f"{path}: {err}") from None
    return df


def read_metadata(path: str | os.PathLike) -> dict[str, Any]:
    """The pipeline metadata stored with a parquet table by `write_table(..., metadata=...)`."""
    import pyarrow.parquet as pq

    meta = pq.read_schema(path).metadata or {}
    raw = meta.get(b"pipeline")
    return json.loads(raw) if raw else {}


def write_json(obj: Any, path: str | os.PathLike) -> Path:
    """Atomic, deterministic JSON (sorted keys, UTF-8, no ASCII escaping of Chinese)."""
    path = Path(path)
    with atomic_path(path) as tmp:
        tmp.write_text(json.dumps(obj, ensure_ascii=False, indent=2, sort_keys=True, default=_json_default) + "\n",
                       encoding="utf-8")
    return path


def write_text(text: str, path: str | os.PathLike) -> Path:
    path = Path(path)
    with atomic_path(path) as tmp:
        tmp.write_text(text, encoding="utf-8")
    return path


def _json_default(obj: Any) -> Any:
    import numpy as np

    if isinstance(obj, np.integer):
        return int(obj)
    if isinstance(obj, np.floating):
        return float(obj)
    if isinstance(obj, np.bool_):
        return bool(obj)
    if isinstance(obj, Path):
        return str(obj)
    raise TypeError(f"not JSON serialisable: {type(obj).__name__}")


# ---------------------------------------------------------------------------------- byte-identical files
# Office and statistics files carry the time they were written; the same content must give the same bytes.
SAV_STAMP = re.compile(rb"\d\d [A-Z][a-z]{2} \d\d\d\d:\d\d:\d\d")  # "01 Dec 2618:00:00" in the .sav header
DTA_STAMP = re.compile(rb"(<timestamp>.)\d\d [A-Z][a-z]{2} \d{4} \d\d:\d\d")


def fix_file_stamp(path: str | os.PathLike, wave: int) -> None:
    """Overwrite the write time in a .sav or .dta header with a fixed one of the same length (30 Sep of the
    wave, 18:00). A writer that changed its header layout leaves the file as it is: correct, not identical."""
    path = Path(path)
    with open(path, "r+b") as fh:
        head = fh.read(512)
        if path.suffix.lower() in (".sav", ".zsav"):
            found, stamp = SAV_STAMP.search(head), f"30 Sep {wave % 100:02d}18:00:00".encode("ascii")
            start = found.start() if found else None
        else:
            found, stamp = DTA_STAMP.search(head), f"30 Sep {wave:04d} 18:00".encode("ascii")
            start = found.end(1) if found else None
        if start is not None:
            fh.seek(start)
            fh.write(stamp)


def fixed_zip(data: bytes, fixed_iso: str) -> bytes:
    """An Office file (a zip) rewritten with fixed entry times and a fixed save time in docProps/core.xml
    (openpyxl stamps the save time there whatever the properties say)."""
    import io
    import zipfile

    src = zipfile.ZipFile(io.BytesIO(data))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as dst:
        for info in src.infolist():
            fixed = zipfile.ZipInfo(info.filename, date_time=(1980, 1, 1, 0, 0, 0))
            fixed.compress_type = zipfile.ZIP_DEFLATED
            fixed.external_attr = 0o644 << 16
            data = src.read(info.filename)
            if info.filename == "docProps/core.xml":
                data = re.sub(rb"(<dcterms:(?:modified|created)[^>]*>)[^<]*(</dcterms:(?:modified|created)>)",
                              rb"\g<1>" + fixed_iso.encode() + rb"\g<2>", data)
            dst.writestr(fixed, data)
    return out.getvalue()
