"""Reruns follow content, not clocks: after editing, deleting or restoring with an older modification
time any raw input, `make` reruns exactly the stages that read it (and those whose inputs it changed),
and nothing when only a date changed. A run whose inputs changed marks the old report out of date
before any stage runs."""

from __future__ import annotations

import hashlib
import os
import shutil

import pyreadstat
import pytest

from pipeline.manifest import sha256_file
from pipeline.stages import STALE_DIR, STALE_NOTE
from tests.faults.kit import copy_project, make, snapshot, stages_run

OLD = (1_500_000_000, 1_500_000_000)  # 2017: older than any output, as `cp -p` or an unzip leaves a file
ALL = {"ingest", "score", "weight", "estimate", "report"}


@pytest.fixture
def project(made, tmp_path):
    """The session's made wave, copied with its dates: what a test changes never reaches another test."""
    return copy_project(made, tmp_path / "project")


def _make(root):
    run = make(root, "survey-2024")
    assert run.returncode == 0, run.stderr[-3000:]
    assert "Traceback" not in run.stderr
    return stages_run(run)


def _edit_csv(path, edit) -> None:
    lines = path.read_text(encoding="utf-8-sig").splitlines()
    path.write_text("\ufeff" + "\n".join(edit(lines)) + "\n", encoding="utf-8")
    os.utime(path, OLD)


def test_unchanged_inputs_rerun_nothing_whatever_their_dates(project):
    raw = project / "data" / "raw" / "2024"
    assert _make(project) == set()
    for f in (raw / "survey.sav", raw / "contacts.csv", raw / "controls" / "county_education.csv"):
        os.utime(f)  # newer date, same bytes
    assert _make(project) == set()


def test_edited_control_table_reruns_weighting_and_after(project):
    path = project / "data" / "raw" / "2024" / "controls" / "county_education.csv"
    original = path.read_bytes()

    def move_five(lines):  # five persons from one education band to the next in one county: totals agree
        a, b = lines[1].rsplit(",", 1), lines[2].rsplit(",", 1)
        assert a[0].split(",")[0] == b[0].split(",")[0]
        return [lines[0], f"{a[0]},{int(a[1]) - 5}", f"{b[0]},{int(b[1]) + 5}"] + lines[3:]

    _edit_csv(path, move_five)
    assert _make(project) == {"weight", "estimate", "report"}
    path.write_bytes(original)  # restored, with an older date than every output
    os.utime(path, OLD)
    assert _make(project) == {"weight", "estimate", "report"}


def test_edited_contact_sheet_reruns_ingest_and_weighting_not_scoring(project):
    path = project / "data" / "raw" / "2024" / "contacts.csv"
    original = path.read_bytes()

    def vacant(lines):  # one non-contact household found to be vacant: not eligible
        i = next(i for i, line in enumerate(lines) if ",2.20," in line)
        return lines[:i] + [lines[i].replace(",2.20,", ",4.10,")] + lines[i + 1:]

    _edit_csv(path, vacant)
    assert _make(project) == {"ingest", "weight", "estimate", "report"}
    path.write_bytes(original)
    os.utime(path, OLD)
    assert _make(project) == {"ingest", "weight", "estimate", "report"}


def test_deleted_frame_reruns_ingest(project):
    raw = project / "data" / "raw" / "2024"
    kept = project / "frame.csv.kept"
    shutil.move(raw / "frame.csv", kept)
    ran = _make(project)
    assert {"ingest", "report"} <= ran  # and the stages whose inputs the unchecked areas changed
    shutil.move(kept, raw / "frame.csv")
    assert _make(project) == ran


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
    os.utime(survey, OLD)

    # without new checksums the redelivery is broken: ingest stops, and the old report is marked first
    run = make(project, "survey-2024")
    assert run.returncode != 0 and "Traceback" not in run.stderr
    assert "SHA256SUMS" in run.stderr
    assert not (out / "report").exists()
    assert (out / STALE_DIR / STALE_NOTE).exists() and snapshot(out / STALE_DIR).keys() >= before.keys()

    text = sums.decode().replace(hashlib.sha256(original).hexdigest(), sha256_file(survey))
    (raw / "SHA256SUMS").write_text(text, encoding="utf-8")
    os.utime(raw / "SHA256SUMS", OLD)
    assert _make(project) == ALL
    assert not (out / STALE_DIR).exists()

    survey.write_bytes(original)  # the original back, older than everything
    (raw / "SHA256SUMS").write_bytes(sums)
    os.utime(survey, OLD)
    os.utime(raw / "SHA256SUMS", OLD)
    assert _make(project) == ALL
    assert snapshot(out / "report") == before  # and the same bytes as before the correction
