"""Direct identifiers leave here: dropped at read time, replaced by a pseudonymous respondent_id.

The respondent_id is a keyed hash (keyed BLAKE2b) of the wave and the fieldwork questionnaire number, so
fieldwork records and the contact sheet link without the key ever being in the repository. The key is
read from QZ_LINK_SECRET, or from the file named by QZ_LINK_SECRET_FILE, or from
~/.config/quanzhou-literacy/link_secret, which is created (readable by its owner only) on first use.
"""

from __future__ import annotations

import hashlib
import os
import secrets
from pathlib import Path

import numpy as np
import pandas as pd

from pipeline.errors import InputError
from pipeline.instruments.model import Instrument

DEFAULT_SECRET_FILE = Path.home() / ".config" / "quanzhou-literacy" / "link_secret"


def link_secret() -> bytes:
    env = os.environ.get("QZ_LINK_SECRET")
    if env:
        return env.encode("utf-8")
    path = Path(os.environ.get("QZ_LINK_SECRET_FILE", DEFAULT_SECRET_FILE))
    if path.exists():
        key = path.read_bytes().strip()
        if len(key) < 16:
            raise InputError(f"{path}: the linkage key is shorter than 16 bytes; put a long random string in it.")
        return key
    path.parent.mkdir(parents=True, exist_ok=True)
    key = secrets.token_hex(32).encode("ascii")
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as fh:
        fh.write(key + b"\n")
    return key


def pseudonymise(wave: int, questionnaire_ids, key: bytes | None = None) -> np.ndarray:
    """R + 16 hex digits of a keyed BLAKE2b hash (a MAC by design, faster than HMAC-SHA256 per row)."""
    key = link_secret() if key is None else key
    keyed = hashlib.blake2b(key=hashlib.sha256(key).digest(), digest_size=8)  # BLAKE2b keys are ≤ 64 bytes
    keyed.update(f"{wave}:".encode())

    def mac(q: str) -> str:
        h = keyed.copy()  # the keyed, wave-prefixed state is computed once, not per record
        h.update(q.encode())
        return "R" + h.hexdigest()

    return np.array([mac(str(q)) for q in np.asarray(questionnaire_ids, dtype=object)], dtype=object)


def drop_identifiers(data: pd.DataFrame, inst: Instrument) -> pd.DataFrame:
    """Remove every direct identifier the instrument names (and nothing else)."""
    cols = [i.column for i in inst.identifiers if i.column in data.columns]
    return data.drop(columns=cols)
