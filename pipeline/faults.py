"""Fault injection at write boundaries, so tests can kill a stage exactly where a power cut or `kill -9`
would, and check what a rerun makes of it.

`QZ_FAULT_AT=<stage>:<boundary>` makes the process exit at once (os._exit, no cleanup, no `finally`) when
that stage reaches that boundary; `QZ_FAULT_AT=<stage>:<boundary>:enospc` raises "no space left on
device" there instead, as a full disk would (`:erofs`: a read-only file system). `QZ_FAULT_LIST=<file>` appends every boundary a run passes
to <file>, one `<stage>:<boundary>` a line, which is how the tests enumerate them.

Boundaries: `write:<file>` (the file's temporary copy is complete), `commit<n>:begin` (all of the n-th
commit's files are written, nothing changed yet), `commit<n>:target-removed` (the stage's make target is
gone, nothing renamed yet) and `rename:<file>` (the file is in place).
"""

from __future__ import annotations

import errno
import os

FAULT_ENV = "QZ_FAULT_AT"
LIST_ENV = "QZ_FAULT_LIST"
FAULT_EXIT = 75  # what a killed stage returns, so a test can tell an injected kill from a failure


def boundary(stage: str, name: str) -> None:
    """Mark one write boundary of `stage`; exits or fails there when the environment asks for it."""
    listing = os.environ.get(LIST_ENV)
    if listing:
        with open(listing, "a", encoding="utf-8") as fh:
            fh.write(f"{stage}:{name}\n")
    spec = os.environ.get(FAULT_ENV)
    if not spec:
        return
    if spec == f"{stage}:{name}":
        os._exit(FAULT_EXIT)
    for kind in ("enospc", "erofs"):  # a full disk; a folder mounted read-only
        if spec == f"{stage}:{name}:{kind}":
            code = getattr(errno, kind.upper())
            raise OSError(code, os.strerror(code), name.split(":", 1)[-1])
