"""Progress for long steps, written to stderr so it never mixes with data on stdout."""

from __future__ import annotations

import sys
import time
from collections.abc import Iterable, Iterator
from typing import TypeVar

T = TypeVar("T")


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def progress(items: Iterable[T], total: int | None = None, label: str = "", enabled: bool = True) -> Iterator[T]:
    """Yield from `items`, drawing a one-line bar on stderr (a plain final line when not a terminal)."""
    if total is None:
        try:
            total = len(items)  # type: ignore[arg-type]
        except TypeError:
            total = None
    tty = sys.stderr.isatty()
    start = time.perf_counter()
    done = 0
    last_draw = 0.0
    for item in items:
        yield item
        done += 1
        now = time.perf_counter()
        if enabled and tty and (now - last_draw > 0.1 or done == total):
            last_draw = now
            if total:
                width = 30
                fill = int(width * done / total)
                bar = "#" * fill + "-" * (width - fill)
                sys.stderr.write(f"\r   {label} [{bar}] {done}/{total} {now - start:5.1f}s")
            else:
                sys.stderr.write(f"\r   {label} {done} {now - start:5.1f}s")
            sys.stderr.flush()
    if enabled:
        end = f"   {label} {done}{'/' + str(total) if total else ''} done in {time.perf_counter() - start:.1f}s"
        sys.stderr.write(("\r" if tty else "") + end + "\n")
        sys.stderr.flush()


class Timer:
    """Wall time of a stage, for its summary line."""

    def __init__(self) -> None:
        self.start = time.perf_counter()

    @property
    def seconds(self) -> float:
        return time.perf_counter() - self.start


class Laps:
    """Each step of a long stage, logged with its wall time as it finishes: the user sees what the stage is
    doing, and where its time goes."""

    def __init__(self, enabled: bool = True) -> None:
        self.enabled = enabled
        self.last = time.perf_counter()

    def __call__(self, step: str) -> None:
        now = time.perf_counter()
        if self.enabled:
            log(f"   {step} ({now - self.last:.1f} s)")
        self.last = now
