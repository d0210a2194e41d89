"""The same delivery as .sav, .zsav, .dta, .csv and .xlsx gives the same respondents, responses and
quarantine: the readers differ, the tables they feed do not."""

from __future__ import annotations

import json
import shutil

import pandas as pd
import pyreadstat
import pytest

from pipeline.ingest import run_ingest
from pipeline.paths import WavePaths
from tests.conftest import make_project

ROWS = 500  # plus every spoiled record: every kind of record, small enough for Excel


def _write(sub: pd.DataFrame, meta, path) -> None:
    if path.suffix in (".sav", ".zsav"):
        pyreadstat.write_sav(sub, str(path), column_labels=meta.column_labels,
                             variable_value_labels=meta.variable_value_labels, compress=path.suffix == ".zsav")
    elif path.suffix == ".dta":
        pyreadstat.write_dta(sub, str(path), column_labels=meta.column_labels)
    elif path.suffix == ".csv":
        sub.to_csv(path, index=False, encoding="utf-8")
    else:
        sub.to_excel(path, index=False, engine="openpyxl")


@pytest.fixture(scope="module")
def ingested(demo_raw, tmp_path_factory) -> dict[str, WavePaths]:
    df, meta = pyreadstat.read_sav(str(demo_raw.survey), user_missing=True)
    faults = json.loads((demo_raw.raw / "faults.json").read_text(encoding="utf-8"))
    keep = sorted(set(range(ROWS)) | {f["source_row"] - 1 for f in faults})
    sub = df.iloc[keep].reset_index(drop=True)
    out = {}
    for suffix in (".sav", ".zsav", ".dta", ".csv", ".xlsx"):
        root = make_project(tmp_path_factory.mktemp(suffix.strip(".")))
        raw = root / "data" / "raw" / "2024"
        shutil.copytree(demo_raw.raw, raw)
        (raw / "SHA256SUMS").unlink()
        (raw / "survey.sav").unlink()
        _write(sub, meta, raw / f"survey{suffix}")
        spec = root / "survey_instruments" / "2024" / "instrument.yaml"
        spec.write_text(spec.read_text(encoding="utf-8").replace("source_file: survey.sav",
                                                                 f"source_file: survey{suffix}", 1), encoding="utf-8")
        paths = WavePaths(2024, root)
        run_ingest(paths, progress=False)
        out[suffix] = paths
    return out


@pytest.mark.parametrize("suffix", [".zsav", ".dta", ".csv", ".xlsx"])
def test_every_format_gives_the_tables_of_the_sav(ingested, suffix):
    ref, got = ingested[".sav"], ingested[suffix]
    for table in ("respondents.parquet", "responses.parquet", "contacts.parquet"):
        a, b = pd.read_parquet(ref.processed(table)), pd.read_parquet(got.processed(table))
        pd.testing.assert_frame_equal(a, b, check_exact=False, rtol=1e-12, obj=f"{suffix} {table}")
    qa = pd.read_csv(ref.processed("quarantine.csv"), encoding="utf-8-sig")
    qb = pd.read_csv(got.processed("quarantine.csv"), encoding="utf-8-sig")
    assert list(zip(qa["source_row"], qa["reason_code"])) == list(zip(qb["source_row"], qb["reason_code"]))
    assert qa["source_row"].nunique() >= 15 and set(qa["reason_code"]) >= {"short_interview", "unknown_area",
                                                                          "age_out_of_range", "straightlining"}


@pytest.mark.parametrize("suffix", [".sav", ".zsav", ".dta"])
def test_a_large_file_read_on_two_processes_gives_the_frame_of_one_read(demo_raw, tmp_path, monkeypatch, suffix):
    from pipeline.ingest import readers

    df, meta = pyreadstat.read_sav(str(demo_raw.survey), user_missing=True)
    path = tmp_path / f"survey{suffix}"
    _write(df, meta, path)
    skip = ["XM", "SJHM", "SFZH"]
    one = readers.read_raw(path, skip=skip)  # the demo is below the split size: one read
    monkeypatch.setattr(readers, "SPLIT_CELLS", 0)
    two = readers.read_raw(path, skip=skip)
    pd.testing.assert_frame_equal(one.data, two.data, check_exact=True)
    assert list(two.data.columns) == [c for c in df.columns if c not in skip]
    assert (two.column_labels, two.value_labels, two.encoding) == (one.column_labels, one.value_labels, one.encoding)


def test_a_truncated_file_read_on_two_processes_is_refused_by_name(demo_raw, tmp_path, monkeypatch):
    from pipeline.errors import InputError
    from pipeline.ingest import readers

    data = demo_raw.survey.read_bytes()
    path = tmp_path / "survey.sav"
    path.write_bytes(data[: len(data) * 2 // 3])
    monkeypatch.setattr(readers, "SPLIT_CELLS", 0)
    with pytest.raises(InputError, match=r"survey\.sav: cannot be read .*truncated or corrupt"):
        readers.read_raw(path)
