"""The parts of a published document: sections of paragraphs and tables, rendered by publishing.html
(and by the Word bulletin), shared by the wave report and the mid-term and final assessments."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Table:
    caption: str
    headers: tuple[str, ...]
    rows: tuple[tuple[str, ...], ...]
    note: str = ""


@dataclass(frozen=True)
class Section:
    title: str
    items: tuple[str | Table, ...] = field(default_factory=tuple)
