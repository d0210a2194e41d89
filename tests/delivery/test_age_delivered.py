"""Age delivered instead of the birth year: the draft maps a 年龄/周岁 column to the standard field `age`, and
ingest applies the eligibility rule (18–69) to the age as delivered, the age at interview. From a birth year
the age is the interview year (the wave's year without times) minus the birth year; a delivery whose age
column is exactly that reaches the same respondents, ages and quarantine as the birth-year delivery."""

from __future__ import annotations

import pandas as pd
import pytest
import yaml

from pipeline.errors import SpecError
from pipeline.ingest import run_ingest
from pipeline.instruments import load_instrument
from pipeline.instruments.draft import looks_like_age, run_draft
from tests.delivery.helpers import copy_wave, read_sav, resave

BIRTH_YEAR = "- {field: birth_year, column: A2, label_zh: 出生年份, range: [1940, 2010]}"
AGE = "- {field: age, column: NL, label_zh: 年龄（周岁）}"


def _age_delivery(demo_raw, root):
    paths = copy_wave(demo_raw, root)
    data, meta = read_sav(paths.survey)
    year = pd.to_datetime(data["KSSJ"], errors="coerce").dt.year.fillna(2024)
    at = list(data.columns).index("A2")
    data.insert(at, "NL", year - data["A2"])
    data = data.drop(columns="A2")
    meta.column_names = [c for c in data.columns]
    labels = dict(zip(read_sav(paths.survey)[1].column_names, read_sav(paths.survey)[1].column_labels, strict=True))
    labels["NL"] = "年龄（周岁）"
    meta.column_labels = [labels.get(c) for c in data.columns]
    resave(paths, data, meta)
    return paths


def _age_spec(paths):
    text = paths.instrument.read_text(encoding="utf-8")
    assert BIRTH_YEAR in text
    paths.instrument.write_text(text.replace(BIRTH_YEAR, AGE), encoding="utf-8")


def test_ingest_enforces_eligibility_on_the_delivered_age(demo_raw, tmp_path):
    by_year = copy_wave(demo_raw, tmp_path / "a")
    run_ingest(by_year, progress=False)
    paths = _age_delivery(demo_raw, tmp_path / "b")
    _age_spec(paths)
    result = run_ingest(paths, progress=False)
    assert result.rows_read == result.accepted + result.quarantined
    a = pd.read_parquet(by_year.processed("respondents.parquet"))[["respondent_id", "age"]]
    b = pd.read_parquet(paths.processed("respondents.parquet"))[["respondent_id", "age"]]
    pd.testing.assert_frame_equal(a.reset_index(drop=True), b.reset_index(drop=True))
    qa = pd.read_csv(by_year.processed("quarantine.csv"), encoding="utf-8-sig")
    qb = pd.read_csv(paths.processed("quarantine.csv"), encoding="utf-8-sig")
    assert set(qa["source_row"]) == set(qb["source_row"])
    young_old = qb[qb["reason_code"] == "age_out_of_range"]
    assert len(young_old) > 0  # the demo plants 16- and 74-year-olds
    assert young_old["detail"].str.contains("column NL gives age").all()
    assert young_old["detail"].str.contains("correct the age").all()


def test_a_fractional_age_is_quarantined(demo_raw, tmp_path):
    paths = _age_delivery(demo_raw, tmp_path)
    data, meta = read_sav(paths.survey)
    data.loc[3, "NL"] = 35.5
    resave(paths, data, meta)
    _age_spec(paths)
    run_ingest(paths, progress=False)
    q = pd.read_csv(paths.processed("quarantine.csv"), encoding="utf-8-sig")
    assert list(q.loc[q["source_row"] == 4, "reason_code"]) == ["out_of_range"]  # rows count from 1


def test_spec_takes_age_or_birth_year_not_both(demo_raw, tmp_path):
    paths = copy_wave(demo_raw, tmp_path)
    text = paths.instrument.read_text(encoding="utf-8")
    paths.instrument.write_text(text.replace(BIRTH_YEAR, BIRTH_YEAR + "\n  " + AGE), encoding="utf-8")
    with pytest.raises(SpecError, match="both birth_year and age"):
        load_instrument(paths.instrument)
    paths.instrument.write_text(text.replace(BIRTH_YEAR, AGE), encoding="utf-8")
    assert "age" in {d.field for d in load_instrument(paths.instrument).demographics}


def test_draft_maps_an_age_column(demo_raw, tmp_path):
    paths = _age_delivery(demo_raw, tmp_path)
    run_draft(paths, paths.survey, force=True, reference=2024)
    demo = {d["field"]: d for d in yaml.safe_load(paths.instrument.read_text(encoding="utf-8"))["demographics"]}
    assert demo["age"]["column"] == "NL" and "codes" not in demo["age"]
    assert "birth_year" not in demo


@pytest.mark.parametrize("values, age", [([18, 25, 33, 47, 69, 52, 61], True), ([1980, 1975, 1990, 2001, 1966], False),
                                         ([1, 2, 3, 4, 5, 2, 1], False), ([18, 25, 33, 47, 69, 98, 97], True)])
def test_looks_like_age(values, age):
    assert looks_like_age(pd.Series(values, dtype=float)) is age
