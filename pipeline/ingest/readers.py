"""Read what fieldwork delivers (.sav/.zsav, .dta, .csv, .xlsx) into a DataFrame of raw values.

SPSS user-missing values (97 不知道, 98 拒答, 99 跳过) are kept as values, because "don't know" is an
answer and refusals and skips are different kinds of missing. A file that is missing, empty, truncated,
corrupt or not what its extension says ends here with one clear message.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from pipeline.errors import InputError
from pipeline.manifest import sha256_file

MAGIC = {
    ".sav": (b"$FL2", b"$FL3"),
    ".zsav": (b"$FL3",),
    ".dta": (b"<stata_dta>", b"\x72", b"\x73", b"\x71", b"\x6f", b"\x6e", b"\x72\x01", b"\x73\x01"),
    ".xlsx": (b"PK\x03\x04",),
}
SUPPORTED = (".sav", ".zsav", ".dta", ".csv", ".xlsx")


@dataclass(frozen=True)
class RawFile:
    path: Path
    data: pd.DataFrame
    column_labels: dict[str, str]
    value_labels: dict[str, dict]
    encoding: str | None
    sha256: str


def verify_checksum(path: Path, digest: str, sums_file: Path) -> None:
    """Compare with SHA256SUMS (sha256sum format) when the delivery has one."""
    if not sums_file.exists():
        return
    for line in sums_file.read_text(encoding="utf-8").splitlines():
        parts = line.strip().split(maxsplit=1)
        if len(parts) == 2 and parts[1].lstrip("*") == path.name:
            if parts[0].lower() != digest:
                raise InputError(
                    f"{path}: sha256 {digest[:12]}… does not match {sums_file} ({parts[0][:12]}…). The file changed "
                    "after delivery or was copied incompletely: ask fieldwork to resend it, or update SHA256SUMS "
                    "if the new file is the intended one.")
            return


def _check_shape(path: Path) -> None:
    if not path.exists():
        raise InputError(f"{path}: file not found. Put the fieldwork delivery there, or run `make survey-<wave>` "
                         "without it to generate demo data.")
    if path.suffix.lower() not in SUPPORTED:
        raise InputError(f"{path}: unsupported file type {path.suffix!r}; deliver one of {', '.join(SUPPORTED)}.")
    size = path.stat().st_size
    if size == 0:
        raise InputError(f"{path}: the file is empty (0 bytes). Ask fieldwork to deliver it again.")
    magic = MAGIC.get(path.suffix.lower())
    if magic:
        with open(path, "rb") as fh:
            head = fh.read(16)
        if not any(head.startswith(m) for m in magic):
            raise InputError(
                f"{path}: this is not a {path.suffix} file (it starts with {head[:8]!r}). The extension does not match "
                "the content: rename the file to its real type or export it again from the source program.")


def read_raw(path: str | Path, encoding: str | None = None, skip: Iterable[str] = (), check_text: bool = True) -> RawFile:
    """Read a delivery. Columns named in `skip` (the direct identifiers) never reach the DataFrame, and in
    .sav/.zsav/.dta/.csv files they are not even decoded: the read is faster and names and ID numbers stay
    out of memory."""
    path = Path(path)
    skip = set(skip)
    if encoding:
        import codecs

        try:
            codecs.lookup(encoding)
        except LookupError:
            raise InputError(f"instrument.yaml declares encoding {encoding!r}, which is not the name of a text "
                             f"encoding (for {path.name}: gb18030, utf-8, big5 …). Correct `encoding:` or remove it "
                             "to use the encoding the file itself declares.") from None
    _check_shape(path)
    digest = sha256_file(path)
    suffix = path.suffix.lower()
    labels: dict[str, str] = {}
    value_labels: dict[str, dict] = {}
    used_encoding = encoding
    try:
        if suffix in (".sav", ".zsav", ".dta"):
            import pyreadstat

            reader = pyreadstat.read_dta if suffix == ".dta" else pyreadstat.read_sav
            kwargs = {"user_missing": True} if suffix != ".dta" else {}
            if encoding:
                kwargs["encoding"] = encoding
            _, meta = reader(str(path), metadataonly=True, **kwargs)
            keep = [c for c in meta.column_names if c not in skip]
            data = _read_statistical(suffix, str(path), keep, meta, kwargs)
            labels = {c: lab for c, lab in zip(meta.column_names, meta.column_labels) if c in data.columns}
            value_labels = {col: meta.value_labels[name] for col, name in meta.variable_to_label.items()
                            if name in meta.value_labels and col in data.columns}
            used_encoding = getattr(meta, "file_encoding", None) or encoding
        elif suffix == ".csv":
            data = pd.read_csv(path, encoding=encoding or "utf-8-sig", dtype=None, low_memory=False,
                               usecols=lambda c: c not in skip)
            used_encoding = encoding or "utf-8"
        else:
            data = pd.read_excel(path, engine="openpyxl", usecols=lambda c: c not in skip)
    except InputError:
        raise
    except UnicodeDecodeError as err:
        raise InputError(f"{path}: cannot decode text as {encoding or 'the declared encoding'} ({err.reason} at byte "
                         f"{err.start}). Set `encoding:` in the wave's instrument.yaml (e.g. gb18030 for files written "
                         "by Chinese-language SPSS).") from None
    except Exception as err:  # pyreadstat raises its own types for truncated or corrupt files
        if encoding and any(w in str(err).lower() for w in ("encod", "convert", "iconv", "charset")):
            raise InputError(f"{path}: its text cannot be decoded as {encoding}, the encoding instrument.yaml declares "
                             f"({type(err).__name__}: {err}). The file is probably in another encoding (SPSS files "
                             "record their own): remove `encoding:` from the instrument or give the right one.") from None
        raise InputError(f"{path}: cannot be read ({type(err).__name__}: {err}). The file is truncated or corrupt: "
                         "ask fieldwork to deliver it again, and check its SHA256SUMS.") from None
    if data.shape[0] == 0:
        raise InputError(f"{path}: the file has columns but no records. Ask fieldwork for the full delivery.")
    if check_text:  # `pipeline check` runs the text check itself, to list it beside every other problem
        check_decoded_text(path, data, used_encoding, labels, value_labels)
    return RawFile(path, data, labels, value_labels, used_encoding, digest)


# A delivery of at least this many cells (rows × columns read) is decoded by two processes, each taking
# half of the columns: the read is most of the ingest stage, and its cost is the per-value decoding, not
# the file access (half of the columns read in half the time), so two cores halve it. Smaller files are
# read in one go: starting a process costs more than it saves there.
SPLIT_CELLS = 20_000_000


def _read_columns(suffix: str, path: str, columns: list[str], kwargs: dict) -> pd.DataFrame:
    import pyreadstat

    reader = pyreadstat.read_dta if suffix == ".dta" else pyreadstat.read_sav
    return reader(path, apply_value_formats=False, usecols=columns, **kwargs)[0]


def _read_statistical(suffix: str, path: str, keep: list[str], meta, kwargs: dict) -> pd.DataFrame:
    """The columns `keep` of a .sav/.zsav/.dta file, in the file's order: on two processes when the file
    is large and the machine has a second core (a forked child decodes half of the numeric columns; the
    text columns stay here, where they would otherwise have to be pickled), else in one read. Both give
    the same frame."""
    import multiprocessing
    import os

    rows = meta.number_rows or 0
    if rows * len(keep) < SPLIT_CELLS or (os.cpu_count() or 1) < 2 \
            or "fork" not in multiprocessing.get_all_start_methods():
        return _read_columns(suffix, path, keep, kwargs)
    kinds = getattr(meta, "readstat_variable_types", {}) or {}
    numeric = [c for c in keep if kinds.get(c) == "double"]
    away = set(numeric[: len(keep) // 2])
    there = [c for c in keep if c in away]
    here = [c for c in keep if c not in away]
    from concurrent.futures import ProcessPoolExecutor

    with ProcessPoolExecutor(max_workers=1, mp_context=multiprocessing.get_context("fork")) as pool:
        child = pool.submit(_read_columns, suffix, path, there, kwargs)
        mine = _read_columns(suffix, path, here, kwargs)
        theirs = child.result()
    if len(mine) != len(theirs):  # a file whose row count the two reads disagree on is not one file
        raise ValueError(f"the two halves of the columns have {len(mine)} and {len(theirs)} records")
    return pd.concat([mine, theirs], axis=1)[keep]


# Text decoded with the wrong code page. Chinese text that was UTF-8 (or GBK) and got decoded as Latin-1
# or Windows-1252 turns into Latin letters and C1 controls ("å\x8d\x97å®\x89" for 南安, "Ã¤Â¸Â­" when it
# happened twice); GBK decoded as UTF-8 leaves replacement characters. A string is called garbled only when
# the evidence is positive: a replacement character, or characters that are all Latin-1/Windows-1252 and,
# taken back to bytes, read as Chinese in UTF-8 or GB18030. A real "·" or "°" beside Chinese text, or in a
# note, is never an alarm.
SUSPECT = re.compile("[\u0080-\u00ff\u0152\u0153\u0160\u0161\u0178\u017d\u017e\u0192\u02c6\u02dc"
                     "\u2013\u2014\u2018-\u201e\u2020-\u2022\u2026\u2030\u2039\u203a\u20ac\u2122\ufffd]")
CJK = re.compile("[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]")
_CP1252 = {bytes([b]).decode("cp1252"): b for b in range(0x80, 0xA0) if b not in (0x81, 0x8D, 0x8F, 0x90, 0x9D)}
LABELS_GARBLED = 0.2  # share of garbled labels that condemns the file's labels
CATEGORY_REPEATS = 5  # a garbled data value is quoted only when this many records share it (a category)


@dataclass(frozen=True)
class Garbled:
    text: str  # as decoded
    reading: str | None  # what it reads as with the right code page, when that can be told
    kind: str  # utf8_as_latin1 | gbk_as_latin1 | lost (replacement characters)


def _as_bytes(text: str) -> bytes | None:
    """The bytes a Latin-1/Windows-1252 decoder turned into `text`; None when some character is not one."""
    out = bytearray()
    for ch in text:
        o = ord(ch)
        if o < 0x100:
            out.append(o)
        elif ch in _CP1252:
            out.append(_CP1252[ch])
        else:
            return None
    return bytes(out)


def garbled(text: str, min_cjk: int = 2) -> Garbled | None:
    """`text` as mojibake (with its reading), or None when it is plausible text. A GBK reading needs
    `min_cjk` Chinese characters: one is a coincidence in a Latin name ("Müller" has a GBK reading)."""
    if not SUSPECT.search(text):
        return None
    if "\ufffd" in text:
        return Garbled(text, None, "lost")
    current, reading, kind = text, None, None
    for _ in range(3):  # UTF-8 read as Latin-1 once, twice ("Ã¤Â¸Â­"), at most three times
        raw = _as_bytes(current)
        if raw is None or raw.isascii():
            break
        try:
            current = raw.decode("utf-8")
        except UnicodeDecodeError:
            if kind is None:  # GBK read as Latin-1: two high bytes per character
                try:
                    gbk = raw.decode("gb18030")
                except UnicodeDecodeError:
                    break
                if len(CJK.findall(gbk)) >= min_cjk and not SUSPECT.search(gbk):
                    reading, kind = gbk, "gbk_as_latin1"
            break
        kind = "utf8_as_latin1"
        if CJK.search(current) and not SUSPECT.search(current):
            reading = current
            break
    if reading is None:
        return None
    return Garbled(text, reading, kind)


def _quote(text: str) -> str:
    return repr(text)[1:-1] if not text.isprintable() else text


def _advice(path: Path, encoding: str | None, kind: str) -> str:
    sav = path.suffix.lower() in (".sav", ".zsav", ".dta")
    declared = f"按 {encoding} 解码" if encoding else "按文件声明的编码解码"
    if kind == "utf8_as_latin1":
        if sav or (encoding or "utf-8").replace("_", "-").lower() not in ("utf-8", "utf8", "utf-8-sig"):
            return (f"文本本是 UTF-8，却被{declared}（Latin-1/Windows-1252）。请在该轮 instrument.yaml 中写明 "
                    "`encoding: utf-8`；若仍是乱码，说明文件导出时已被转错，请调查公司以 UTF-8 重新导出。")
        return ("文件中的文字在导出前就已被按 Latin-1/Windows-1252 误读又存为 UTF-8（改设编码无法还原）："
                "请调查公司从原始数据以 UTF-8 重新导出。")
    if kind == "gbk_as_latin1":
        return (f"文本本是 GBK/GB18030，却被{declared}。请在该轮 instrument.yaml 中写明 `encoding: gb18030`，"
                "或请调查公司以 UTF-8 重新导出。")
    return (f"文字中有无法解码的字节（替换字符 U+FFFD，{declared}），文件多半是 GBK/GB18030 编码："
            "请在该轮 instrument.yaml 中写明 `encoding: gb18030`；若文件本身已含替换字符，请调查公司以 UTF-8 重新导出。")


def check_decoded_text(path: Path, data: pd.DataFrame, encoding: str | None, labels: dict, value_labels: dict) -> None:
    """Mojibake check on the variable labels, the value labels and every text column.

    Labels are metadata and are quoted with their right reading. A data value is quoted only when at least
    CATEGORY_REPEATS records share it (a category such as a county name); otherwise it is described, since
    garbled text in a column may be a respondent's name shifted there.
    """
    texts = [("列名", str(col)) for col in data.columns if SUSPECT.search(str(col))]
    texts += [(f"列 {col} 的变量标签", str(v)) for col, v in labels.items() if v]
    texts += [(f"列 {col} 的值标签", str(v)) for col, vl in value_labels.items() for v in vl.values() if v]
    found = [(where, g) for where, t in texts if (g := garbled(t, min_cjk=1)) is not None]
    if texts and len(found) / len(texts) > LABELS_GARBLED:
        where, g = found[0]
        shown = f"“{_quote(g.text)}”" + (f"（应为“{g.reading}”）" if g.reading else "")
        raise InputError(
            f"{path}: {len(found)} / {len(texts)} 个变量标签和值标签是乱码，例如{where} {shown}。"
            + _advice(path, encoding, g.kind))
    for col in data.columns:
        s = data[col]
        if not (pd.api.types.is_object_dtype(s) or pd.api.types.is_string_dtype(s)):
            continue
        values = s.dropna().astype(str).head(20000)
        counts = values.value_counts(sort=False)
        suspects = counts[counts.index.str.contains(SUSPECT, regex=True)]
        bad = [(t, int(n)) for t, n in suspects.head(500).items() if garbled(t) is not None]
        if not bad:
            continue
        text, n = max(bad, key=lambda tn: (tn[1], tn[0]))
        g = garbled(text)
        if n >= CATEGORY_REPEATS:
            example = f"例如“{_quote(text)}”（{n} 条记录" + (f"，应为“{g.reading}”）" if g.reading else "）")
        else:
            example = f"例如一个长 {len(text)} 个字符的乱码值（只出现 {n} 次，可能是个人信息，不显示）"
        name = str(col).removeprefix("\u00ef\u00bb\u00bf")  # a UTF-8 byte-order mark read as Latin-1
        raise InputError(f"{path}: 列 {name} 的文字是乱码（{len(bad)} 个不同的值），{example}。"
                         + _advice(path, encoding, g.kind))
