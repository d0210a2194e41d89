"""Multiple answers delivered in one column ("1,3,5", "A,B,E", 135): the instrument declares the layout
(`one_column: list | digits | letters`), ingest splits the column into the option columns, and the result is
the same as the delivery with one 0/1 column per option. The draft recognises such columns."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import yaml

from pipeline.errors import SpecError
from pipeline.ingest import run_ingest
from pipeline.ingest.answers import NOT_AN_ANSWER, _chosen, with_one_column_answers
from pipeline.instruments import load_instrument
from pipeline.instruments.draft import run_draft
from pipeline.schemas import response_columns
from tests.delivery.helpers import copy_wave, read_sav, resave

LAYOUTS = {"Q35": "list", "Q47": "letters", "Q55": "digits"}
MISSING = (97.0, 98.0, 99.0)


def _one_cell(values: np.ndarray, codes: list[int], layout: str):
    if np.isnan(values).all():
        return np.nan if layout == "digits" else ""
    miss = [v for v in values if v in MISSING]
    if miss:
        return float(miss[-1]) if layout == "digits" else f"{miss[-1]:.0f}"
    if not np.isin(values[~np.isnan(values)], (0.0, 1.0)).all():
        return -5.0 if layout == "digits" else "x"  # a fault planted in an option column stays a fault
    chosen = [c for c, v in zip(codes, values, strict=True) if v == 1]
    if layout == "list":
        return ",".join(map(str, chosen))
    if layout == "letters":
        return "".join(chr(ord("A") + codes.index(c)) for c in chosen) if len(chosen) % 2 else \
            ",".join(chr(ord("a") + codes.index(c)) for c in chosen)  # both spellings occur in deliveries
    return float("".join(map(str, chosen))) if chosen else 0.0  # "nothing chosen" as 0


def _one_column_delivery(demo_raw, root):
    paths = copy_wave(demo_raw, root)
    inst = load_instrument(paths.instrument)
    data, meta = read_sav(paths.survey)
    labels = dict(zip(meta.column_names, meta.column_labels, strict=True))
    for it in inst.items:
        if it.column not in LAYOUTS:
            continue
        layout = LAYOUTS[it.column]
        block = data[list(it.raw_columns)].to_numpy(float)
        cells = [_one_cell(row, list(it.option_codes), layout) for row in block]
        at = list(data.columns).index(it.raw_columns[0])
        data = data.drop(columns=list(it.raw_columns))
        data.insert(at, it.column, pd.Series(cells, dtype=float if layout == "digits" else object))
        labels[it.column] = it.text_zh
    meta.column_names = list(data.columns)
    meta.column_labels = [labels.get(c) for c in data.columns]
    meta.variable_to_label = {k: v for k, v in meta.variable_to_label.items() if k in data.columns}
    resave(paths, data, meta)
    text = paths.instrument.read_text(encoding="utf-8")
    for col, layout in LAYOUTS.items():
        anchor = f"    column: {col}\n    type: multiple\n"
        assert anchor in text
        text = text.replace(anchor, anchor + f"    one_column: {layout}\n")
    paths.instrument.write_text(text, encoding="utf-8")
    return paths


def test_one_column_answers_give_the_same_responses(demo_raw, tmp_path):
    standard = copy_wave(demo_raw, tmp_path / "a")
    run_ingest(standard, progress=False)
    paths = _one_column_delivery(demo_raw, tmp_path / "b")
    assert {it.column: it.one_column for it in load_instrument(paths.instrument).items if it.one_column} == LAYOUTS
    result = run_ingest(paths, progress=False)
    assert result.rows_read == result.accepted + result.quarantined
    for name in ("responses.parquet", "respondents.parquet"):
        a, b = pd.read_parquet(standard.processed(name)), pd.read_parquet(paths.processed(name))
        pd.testing.assert_frame_equal(a, b, check_categorical=False)
    qa = pd.read_csv(standard.processed("quarantine.csv"), encoding="utf-8-sig")
    qb = pd.read_csv(paths.processed("quarantine.csv"), encoding="utf-8-sig")
    assert list(zip(qa["source_row"], qa["reason_code"])) == list(zip(qb["source_row"], qb["reason_code"]))
    chosen = pd.read_parquet(paths.processed("responses.parquet"))[response_columns("M07")[0]].to_numpy()
    assert ((chosen & (chosen - 1)) != 0).any()  # more than one bit: several options of M07 read from one cell


def test_check_reads_the_declared_layout(demo_raw, tmp_path):
    from pipeline.check import check_delivery

    paths = _one_column_delivery(demo_raw, tmp_path)
    problems = check_delivery(paths)
    assert not [p for p in problems if p.severity == "stop"], [p.message for p in problems if p.severity == "stop"]
    assert not [p for p in problems if p.topic == "columns" and ("Q35" in p.message or "Q47" in p.message)]


class _It:
    def __init__(self, layout, codes=(1, 2, 3, 4, 5)):
        self.one_column, self.option_codes = layout, tuple(codes)


@pytest.mark.parametrize("layout, cell, out", [
    ("list", "1,3", (1, 0, 1, 0, 0)), ("list", "1；3、5", (1, 0, 1, 0, 1)), ("list", " 2 4 ", (0, 1, 0, 1, 0)),
    ("list", "3", (0, 0, 1, 0, 0)), ("list", "1,7", None), ("list", "A,C", None), ("list", "1.5", None),
    ("digits", "135", (1, 0, 1, 0, 1)), ("digits", "13.0", (1, 0, 1, 0, 0)), ("digits", "16", None),
    ("letters", "A,C", (1, 0, 1, 0, 0)), ("letters", "ace", (1, 0, 1, 0, 1)), ("letters", "B;D", (0, 1, 0, 1, 0)),
    ("letters", "F", None), ("letters", "1,3", None),
])
def test_one_cell(layout, cell, out):
    got = _chosen(cell, _It(layout), set(MISSING))
    assert got == (None if out is None else tuple(float(x) for x in out))


def test_missing_codes_and_blanks_in_one_column():
    it = _It("list")
    assert _chosen("97", it, set(MISSING)) == (97.0,) * 5
    assert all(np.isnan(_chosen("  ", it, set(MISSING))))


def test_unreadable_cells_fall_to_the_codebook_check(demo_raw):
    inst = load_instrument(demo_raw.instrument)
    item = next(it for it in inst.items if it.column == "Q35")
    inst = type(inst)(**{**inst.__dict__, "items": tuple(
        type(item)(**{**item.__dict__, "one_column": "list"}) if it is item else it for it in inst.items)})
    out = with_one_column_answers(pd.DataFrame({"Q35": ["1,3", "9", None, "98"]}), inst)
    assert out["Q35#1"].tolist()[:2] == [1.0, NOT_AN_ANSWER] and np.isnan(out["Q35#1"][2]) and out["Q35#5"][3] == 98


def test_one_column_is_for_multiple_items_only(demo_raw, tmp_path):
    paths = copy_wave(demo_raw, tmp_path)
    text = paths.instrument.read_text(encoding="utf-8")
    anchor = "    column: Q35\n    type: multiple\n"
    paths.instrument.write_text(text.replace(anchor, anchor + "    one_column: commas\n"), encoding="utf-8")
    with pytest.raises(SpecError, match="one_column"):
        load_instrument(paths.instrument)


def test_draft_recognises_one_column_answers(demo_raw, tmp_path):
    paths = _one_column_delivery(demo_raw, tmp_path)
    result = run_draft(paths, paths.survey, force=True, reference=2024)
    assert sum("多选答案写在一列中" in n for n in result.notes) == 3
    items = {it["column"]: it for it in yaml.safe_load(paths.instrument.read_text(encoding="utf-8"))["items"]}
    for col, layout in LAYOUTS.items():
        assert items[col]["type"] == "multiple" and items[col]["one_column"] == layout, items.get(col)
        # options are inferred from the answers seen (a sample of the file): an option nobody chose is
        # missing, and the draft's note asks for the questionnaire's options
        assert sorted(items[col]["options"])[:4] == [1, 2, 3, 4] and max(items[col]["options"]) <= 5
