"""The 2021–2025 wave specifications: each loads, rotates a few items, and keeps the trend's rule."""

from __future__ import annotations

import pytest

from pipeline.instruments import load_instrument, load_scoring, read_yaml
from pipeline.paths import SPEC_ROOT
from pipeline.simulate import wave_seed

WAVES = (2021, 2022, 2023, 2024, 2025)


@pytest.fixture(scope="module")
def forms():
    return {w: load_instrument(SPEC_ROOT / str(w) / "instrument.yaml") for w in WAVES}


def test_every_wave_has_its_files_and_seed():
    seeds = set()
    for w in WAVES:
        folder = SPEC_ROOT / str(w)
        for name in ("instrument.yaml", "scoring.yaml", "design.yaml", "estimands.yaml", "CHANGES.md"):
            assert (folder / name).exists(), f"{folder / name}"
        for name in ("instrument.yaml", "design.yaml", "estimands.yaml"):
            assert read_yaml(folder / name)["wave"] == w
        seeds.add(wave_seed(w))
    assert len(seeds) == len(WAVES)  # each demo wave draws its own sample


def test_one_rule_so_one_trend_line():
    rules = {(s.rule, s.params) for s in (load_scoring(SPEC_ROOT / str(w) / "scoring.yaml") for w in WAVES)}
    assert rules == {("threshold_total", (("cutoff", 70),))}


def test_rotations_are_small_and_ids_keep_their_question(forms):
    text = {}
    for w, inst in forms.items():
        assert sum(it.points for it in inst.items) == pytest.approx(100)
        cols = [it.column for it in inst.items]
        assert cols == [f"Q{i:02d}" for i in range(1, len(cols) + 1)]  # contiguous raw columns
        for it in inst.items:
            assert text.setdefault(it.id, (it.text_zh, it.key)) == (it.text_zh, it.key), f"{it.id} reused in {w}"
    for a, b in zip(WAVES[:-1], WAVES[1:], strict=True):
        changed = {it.id for it in forms[a].items} ^ {it.id for it in forms[b].items}
        assert 2 <= len(changed) // 2 <= 4, (a, b, changed)  # 2–4 items swapped between consecutive waves
        assert (SPEC_ROOT / str(b) / "CHANGES.md").read_text(encoding="utf-8").strip()
