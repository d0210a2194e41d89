"""Reruns follow content after a redelivery (tests/faults/test_content_reruns.py for edited inputs): a
deleted frame reruns ingest and what its areas change, and a corrected survey file restored with an
older date reruns everything, after marking the old report out of date when its checksums do not match."""

from __future__ import annotations

import hashlib
import os
import shutil

import pyreadstat

from pipeline.manifest import sha256_file
from pipeline.stages import STALE_DIR, STALE_NOTE
from tests.faults.kit import OLD_DATE, make, make_ok, snapshot

ALL = {"ingest", "score", "weight", "estimate", "report"}


def test_deleted_frame_reruns_ingest(project):
    raw = project / "data" / "raw" / "2024"
    kept = project / "frame.csv.kept"
    shutil.move(raw / "frame.csv", kept)
    ran = make_ok(project)
    assert {"ingest", "report"} <= ran  # and the stages whose inputs the unchecked areas changed
    shutil.move(kept, raw / "frame.csv")
    assert make_ok(project) == ran


def test_corrected_survey_with_older_date_reruns_everything(project):
    raw = project / "data" / "raw" / "2024"
    out = project / "data" / "processed" / "2024"
    survey = raw / "survey.sav"
    original, sums = survey.read_bytes(), (raw / "SHA256SUMS").read_bytes()
    before = snapshot(out / "report")
    df, meta = pyreadstat.read_sav(str(survey), user_missing=True)
    df.loc[10, "A1"] = 1 if df.loc[10, "A1"] != 1 else 2  # one respondent's sex corrected
    corrected = project / "survey.corrected.sav"
    pyreadstat.write_sav(df, str(corrected), column_labels=meta.column_labels,
                         variable_value_labels=meta.variable_value_labels,
                         missing_ranges=meta.missing_ranges)
    shutil.copy2(corrected, survey)
    os.utime(survey, OLD_DATE)

    # without new checksums the redelivery is broken: ingest stops, and the old report is marked first
    run = make(project, "survey-2024")
    assert run.returncode != 0 and "Traceback" not in run.stderr
    assert "SHA256SUMS" in run.stderr
    assert not (out / "report").exists()
    assert (out / STALE_DIR / STALE_NOTE).exists() and snapshot(out / STALE_DIR).keys() >= before.keys()

    text = sums.decode().replace(hashlib.sha256(original).hexdigest(), sha256_file(survey))
    (raw / "SHA256SUMS").write_text(text, encoding="utf-8")
    os.utime(raw / "SHA256SUMS", OLD_DATE)
    assert make_ok(project) == ALL
    assert not (out / STALE_DIR).exists()

    survey.write_bytes(original)  # the original back, older than everything
    (raw / "SHA256SUMS").write_bytes(sums)
    os.utime(survey, OLD_DATE)
    os.utime(raw / "SHA256SUMS", OLD_DATE)
    assert make_ok(project) == ALL
    assert snapshot(out / "report") == before  # and the same bytes as before the correction
