"""Read what fieldwork delivers (.sav/.zsav, .dta, .csv, .xlsx) into a DataFrame of raw values.

SPSS user-missing values (97 不知道, 98 拒答, 99 跳过) are kept as values, because "don't know" is an
answer and refusals and skips are different kinds of missing. A file that is missing, empty, truncated,
corrupt or not what its extension says ends here with one clear message.
"""

from __future__ import annotations

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
            _, head = reader(str(path), metadataonly=True, **kwargs)
            keep = [c for c in head.column_names if c not in skip]
            data, meta = reader(str(path), apply_value_formats=False, usecols=keep, **kwargs)
            labels = dict(zip(meta.column_names, meta.column_labels))
            value_labels = {col: meta.value_labels[name] for col, name in meta.variable_to_label.items()
                            if name in meta.value_labels}
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


MOJIBAKE = "\ufffd|[\u00c0-\u00ff]{2,}"


def check_decoded_text(path: Path, data: pd.DataFrame, encoding: str | None, labels: dict, value_labels: dict) -> None:
    """Mojibake check: text decoded with the wrong code page shows replacement or Latin-1 noise.

    Messages name the column, never the value: the garbled text may be a respondent's name.
    """
    texts = [str(v) for v in labels.values() if v] + [str(v) for vl in value_labels.values() for v in vl.values()]
    if texts and pd.Series(texts).str.contains(MOJIBAKE, regex=True).mean() > 0.2:
        raise InputError(
            f"{path}: the variable and value labels are garbled (decoded as {encoding or 'unknown'}). The file's "
            "encoding is probably GBK/GB18030: set `encoding: gb18030` in the wave's instrument.yaml.")
    for col in data.columns:
        s = data[col]
        if not (pd.api.types.is_object_dtype(s) or pd.api.types.is_string_dtype(s)):
            continue
        sample = s.dropna().astype(str).head(200)
        bad = sample[sample.str.contains(MOJIBAKE, regex=True)]
        if len(bad):
            raise InputError(
                f"{path}: column {col!r} holds garbled text (decoded as {encoding or 'unknown'}). The file's encoding "
                "is probably GBK/GB18030: set `encoding: gb18030` in the wave's instrument.yaml.")
