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
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import pandas as pd

from pipeline import faults
from pipeline.schemas import SCHEMAS, TableSchema, duplicate_key_error, key_order, validate

CSV_ENCODING = "utf-8-sig"


TMP_SUFFIX = ".tmp"


JOURNAL = ".{stage}.commit.json"
OLD_SUFFIX = ".old"


class _Commit:
    """The outputs of one stage run, written to temporary names and waiting to be renamed together.

    The renames are journalled, so that a kill between two of them can be undone. Before anything visible
    changes, a journal beside the make target lists every (temporary, final, kept old version) of the
    step and is synced to disk; each final file that exists is kept as a hard link `.<name>.<random>.old`,
    the target is moved to its kept name (the old set no longer counts as complete), the files are
    renamed, the target last, and then the journal and the kept versions are removed. A stage that
    commits in steps (the report) adds each step to the same journal, which lives until the step that
    renames the target. `recover()`, the first thing a stage does, puts back the old complete set from a
    journal a killed run left; if the target's rename was done, the new set is complete and is kept.
    """

    def __init__(self, stage: str, target: Path | None) -> None:
        self.stage = stage
        self.target = Path(target) if target is not None else None
        self.pending: list[tuple[Path, Path]] = []
        self.lock = threading.Lock()

    def add(self, tmp: Path, path: Path) -> None:
        with self.lock:
            self.pending.append((tmp, path))

    def journal_path(self) -> Path | None:
        if self.target is not None:
            return self.target.parent / JOURNAL.format(stage=self.stage)
        return self.pending[0][1].parent / JOURNAL.format(stage=self.stage) if self.pending else None

    def finish(self) -> None:
        _COMMITS[self.stage] = n = _COMMITS.get(self.stage, 0) + 1  # a stage may commit in steps
        faults.boundary(self.stage, f"commit{n}:begin")
        last = [(t, p) for t, p in self.pending if self.target is not None and p == self.target]
        order = [(t, p) for t, p in self.pending if (t, p) not in last] + last
        journal = self.journal_path()
        if journal is not None:
            root = journal.parent
            state = _read_journal(journal) or {"target": None, "renames": []}
            if self.target is not None and state["target"] is None:
                state["target"] = {"final": _rel(self.target, root), "old": _rel(self.target.with_name(
                    f".{self.target.name}.target{OLD_SUFFIX}"), root) if self.target.exists() else None}
            seen = {e["final"] for e in state["renames"]}
            for tmp, path in order:
                keep = path.exists() and path != self.target and _rel(path, root) not in seen
                state["renames"].append({"tmp": _rel(tmp, root), "final": _rel(path, root), "old": _rel(
                    path.with_name(f".{path.name}.{tmp.name.split('.')[-2]}{OLD_SUFFIX}"), root) if keep else None})
            _write_journal(journal, state)
            faults.boundary(self.stage, f"commit{n}:journal")
            for e in state["renames"]:  # the old versions kept by hard link: nothing visible changes yet
                if e["old"] and not (root / e["old"]).exists():
                    _keep(root / e["final"], root / e["old"])
            t = state["target"]
            if t is not None and (root / t["final"]).exists():
                if t["old"] and not (root / t["old"]).exists():
                    os.replace(root / t["final"], root / t["old"])
                else:
                    (root / t["final"]).unlink()
        faults.boundary(self.stage, f"commit{n}:target-removed")
        for tmp, path in order:
            os.replace(tmp, path)
            faults.boundary(self.stage, f"rename:{_label(path)}")
        if journal is not None and (self.target is None or last):
            _settle(journal)
            faults.boundary(self.stage, f"commit{n}:settled")

    def abort(self) -> None:
        journal = self.journal_path()
        if journal is not None and journal.exists():  # this run's earlier steps, or a half-done one: undone
            recover_journal(journal)
        for tmp, _ in self.pending:
            tmp.unlink(missing_ok=True)


def _rel(path: Path, root: Path) -> str:
    return Path(os.path.relpath(path, root)).as_posix()


def _keep(final: Path, old: Path) -> None:
    try:
        os.link(final, old)
    except OSError:  # a file system without hard links: a copy, with the file's times
        import shutil

        shutil.copy2(final, old)


def _read_journal(journal: Path) -> dict | None:
    try:
        return json.loads(journal.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None


def _write_journal(journal: Path, state: dict) -> None:
    tmp = journal.with_name(f"{journal.name}.{os.getpid()}{TMP_SUFFIX}")
    with open(tmp, "w", encoding="utf-8") as fh:
        json.dump(state, fh, ensure_ascii=False, indent=1)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, journal)


def _settle(journal: Path) -> None:
    """The new set is complete: forget the journal, then the kept old versions."""
    state = _read_journal(journal) or {"target": None, "renames": []}
    journal.unlink()
    olds = [e["old"] for e in state["renames"]] + [(state["target"] or {}).get("old")]
    for old in olds:
        if old:
            (journal.parent / old).unlink(missing_ok=True)


def recover_journal(journal: Path) -> str | None:
    """One complete set of a stage's outputs again after a run killed among its renames: "new" when the
    target's rename was done (the journal is only tidied away), else "old" (renamed files get their kept
    old version back, files the killed run added are removed, its temporaries deleted, the old target
    put back). Idempotent, so a kill during recovery is recovered by the next call; None without a journal."""
    for stray in journal.parent.glob(f"{journal.name}.*{TMP_SUFFIX}"):  # a journal killed while written
        stray.unlink(missing_ok=True)
    state = _read_journal(journal)
    if state is None:
        return None
    root = journal.parent
    t = state["target"]
    tmp_of = {e["final"]: e["tmp"] for e in state["renames"]}
    if t is not None and t["final"] in tmp_of and not (root / tmp_of[t["final"]]).exists():
        _settle(journal)
        return "new"
    for e in reversed(state["renames"]):
        final, tmp, old = root / e["final"], root / e["tmp"], (root / e["old"]) if e["old"] else None
        if tmp.exists():  # never renamed: the final is untouched
            tmp.unlink()
            if old is not None:
                old.unlink(missing_ok=True)
        elif old is not None:
            if old.exists():
                os.replace(old, final)  # renamed over the old file: the kept version goes back
        elif not any(x["final"] == e["final"] and x["old"] for x in state["renames"]):
            final.unlink(missing_ok=True)  # a file the killed run added
    if t is not None and t["old"] and (root / t["old"]).exists():
        os.replace(root / t["old"], root / t["final"])
    journal.unlink()
    return "old"


def recover(stage: str, folder: Path) -> str | None:
    """The first thing a stage does, before it sweeps temporaries: settle a journal its killed run left."""
    return recover_journal(Path(folder) / JOURNAL.format(stage=stage))


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


# Large row groups and dictionary pages: long tables keyed by a million respondent ids would otherwise
# rewrite (or abandon) the id dictionary in every 1M-row group, tripling write time.
ROW_GROUP_ROWS = 1 << 24


def _parquet_options(schema, dictionary: bool = True) -> dict[str, Any]:
    """The writer settings of every parquet table (one place, so a table written in pieces gets the bytes
    of the same table written at once). Min/max statistics of categorical columns are left out: nothing
    filters on them, and on a 65-million-row long table they cost as much as the rest of the write.
    `dictionary=False` for tables of distinct floats (replicate weights): trying a dictionary costs three
    times the write itself, and zstd saves a fifth of their bytes for 2.7 times the write time (1M
    respondents × 1,533 JKn replicates: 2.6 s and 1.26 GiB uncompressed, 7.0 s and 0.98 GiB with zstd)."""
    import pyarrow as pa

    plain = [f.name for f in schema if not pa.types.is_dictionary(f.type)]
    if not dictionary:
        return {"compression": "none", "use_dictionary": False, "write_statistics": plain}
    return {"compression": "zstd", "dictionary_pagesize_limit": 1 << 28, "write_statistics": plain}


def _arrow_table(df: pd.DataFrame, metadata: dict[str, Any] | None):
    import pyarrow as pa

    table = pa.Table.from_pandas(df, preserve_index=False)
    if metadata:
        meta = dict(table.schema.metadata or {})
        meta[b"pipeline"] = json.dumps(metadata, ensure_ascii=False, sort_keys=True).encode()
        table = table.replace_schema_metadata(meta)
    return table


def write_table(
    df: pd.DataFrame,
    path: str | os.PathLike,
    schema: TableSchema | str | None = None,
    metadata: dict[str, Any] | None = None,
) -> Path:
    """Write a table as .parquet or .csv (by extension), validated against its schema."""
    path = Path(path)
    if path.suffix not in (".parquet", ".csv"):
        raise ValueError(f"write_table: unsupported file type {path.suffix!r} for {path}")
    df = prepare(df, schema)
    with atomic_path(path) as tmp:
        _encode(df, path.suffix, tmp, metadata)
    return path


def write_tables(tables: list[tuple[pd.DataFrame, str | os.PathLike, TableSchema | str | None, dict[str, Any] | None]]
                 ) -> list[Path]:
    """`write_table` for several (frame, path, schema, metadata) at once: each is validated and encoded on
    a thread of its own into a temporary file beside its path (the parquet encoding releases the GIL), and
    then written in the order given, exactly as one `write_table` after another would (same bytes, same
    commit, same write boundaries). If one fails, none is written and every temporary file is removed."""
    from concurrent.futures import ThreadPoolExecutor

    for _, path, _, _ in tables:
        if Path(path).suffix not in (".parquet", ".csv"):
            raise ValueError(f"write_table: unsupported file type {Path(path).suffix!r} for {path}")

    def encode(job) -> Path:
        df, path, schema, metadata = job
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=TMP_SUFFIX, dir=path.parent)
        os.close(fd)
        try:
            _encode(prepare(df, schema), path.suffix, Path(name), metadata)
        except BaseException:
            Path(name).unlink(missing_ok=True)
            raise
        return Path(name)

    with ThreadPoolExecutor(max_workers=max(1, min(len(tables), os.cpu_count() or 1))) as pool:
        futures = [pool.submit(encode, job) for job in tables]
    encoded = [f.result() if f.exception() is None else None for f in futures]
    try:
        for f in futures:
            f.result()  # the first failure, in the order given
        out = []
        for (_, path, _, _), tmp_file in zip(tables, encoded, strict=True):
            with atomic_path(path) as tmp:
                os.replace(tmp_file, tmp)
            out.append(Path(path))
        return out
    finally:
        for tmp_file in encoded:
            if tmp_file is not None:
                tmp_file.unlink(missing_ok=True)


def _encode(df: pd.DataFrame, suffix: str, tmp: Path, metadata: dict[str, Any] | None) -> None:
    if suffix == ".parquet":
        import pyarrow.parquet as pq

        table = _arrow_table(df, metadata)
        pq.write_table(table, tmp, row_group_size=ROW_GROUP_ROWS, **_parquet_options(table.schema))
    elif suffix == ".csv":
        df.to_csv(tmp, index=False, encoding=CSV_ENCODING, lineterminator="\n")
    else:
        raise ValueError(f"write_table: unsupported file type {suffix!r}")


def write_table_pieces(
    pieces: Iterable[pd.DataFrame],
    path: str | os.PathLike,
    schema: TableSchema | str | None = None,
    metadata: dict[str, Any] | None = None,
    dictionary: bool = True,
) -> Path:
    """Write a .parquet table that arrives in pieces, without ever holding all of it: each piece is
    validated against the schema, must be in key order and continue the order of the piece before it
    (pieces cannot be sorted across one another, so a piece out of order is refused), and is written as
    it comes; the file is committed like any other write, and nothing is left when a piece fails.

    Pieces of ROW_GROUP_ROWS rows (any number for the last) give the bytes `write_table` gives for the
    whole table, because each piece becomes its own row groups."""
    import pyarrow.parquet as pq

    path = Path(path)
    if path.suffix != ".parquet":
        raise ValueError(f"write_table_pieces: only .parquet tables are written in pieces, not {path}")
    schema = _schema_for(schema)
    with atomic_path(path) as tmp:
        writer, first, last = None, None, None
        try:
            for piece in pieces:
                piece = _next_piece(piece, schema, last)
                table = _arrow_table(piece, metadata)
                if first is None:
                    first = table
                if len(piece) == 0:  # an empty row group in the middle would change the file
                    continue
                if writer is None:
                    writer = pq.ParquetWriter(tmp, first.schema, **_parquet_options(first.schema, dictionary))
                writer.write_table(table, row_group_size=ROW_GROUP_ROWS)
                last = piece.iloc[-1:]
            if first is None:
                raise ValueError(f"write_table_pieces: no piece of {path.name} to write")
            if writer is None:  # every piece empty: the empty table, as write_table writes it
                writer = pq.ParquetWriter(tmp, first.schema, **_parquet_options(first.schema, dictionary))
                writer.write_table(first, row_group_size=ROW_GROUP_ROWS)
        finally:
            if writer is not None:
                writer.close()
    return path


def _next_piece(piece: pd.DataFrame, schema: TableSchema | None, last: pd.DataFrame | None) -> pd.DataFrame:
    """A piece validated and checked to continue the key order after `last` (the previous piece's last row)."""
    if schema is None:
        return piece.reset_index(drop=True)
    piece = validate(piece, schema, check_key=False).reset_index(drop=True)
    if schema.key and len(piece):
        in_order, unique = key_order(piece, schema.key)
        if in_order and unique and last is not None:
            in_order, unique = key_order(pd.concat([last, piece.iloc[:1]], ignore_index=True), schema.key)
        if not unique:
            raise duplicate_key_error(piece if last is None else pd.concat([last, piece]), schema)
        if not in_order:
            raise ValueError(f"table {schema.name!r}: a piece is not in key order {list(schema.key)} or does not "
                             "follow the piece before it; pieces must arrive sorted.")
    return piece


def read_table(path: str | os.PathLike, schema: TableSchema | str | None = None,
               columns: list[str] | None = None) -> pd.DataFrame:
    """Read a stage table and validate it against its schema, with an error that names the file.
    `columns` (parquet only): read just those (the schema's own columns among them are checked)."""
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(
            f"{path} does not exist. Run the stage that writes it first (see `make help`)."
        )
    if path.suffix == ".parquet":
        df = pd.read_parquet(path, columns=columns)
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
