"""Reruns follow content, not clocks: after editing, deleting or restoring with an older modification
time any raw input, `make` reruns exactly the stages that read it (and those whose inputs it changed),
and nothing when only a date changed. A run whose inputs changed marks the old report out of date
before any stage runs."""

from __future__ import annotations

import os

from tests.faults.kit import OLD_DATE, edit_csv, make_ok


def test_unchanged_inputs_rerun_nothing_whatever_their_dates(project):
    raw = project / "data" / "raw" / "2024"
    assert make_ok(project) == set()
    for f in (raw / "survey.sav", raw / "contacts.csv", raw / "controls" / "county_education.csv"):
        os.utime(f)  # newer date, same bytes
    assert make_ok(project) == set()


def test_edited_control_table_reruns_weighting_and_after(project):
    path = project / "data" / "raw" / "2024" / "controls" / "county_education.csv"
    original = path.read_bytes()

    def move_five(lines):  # five persons from one education band to the next in one county: totals agree
        a, b = lines[1].rsplit(",", 1), lines[2].rsplit(",", 1)
        assert a[0].split(",")[0] == b[0].split(",")[0]
        return [lines[0], f"{a[0]},{int(a[1]) - 5}", f"{b[0]},{int(b[1]) + 5}"] + lines[3:]

    edit_csv(path, move_five)
    assert make_ok(project) == {"weight", "estimate", "report"}
    path.write_bytes(original)  # restored, with an older date than every output
    os.utime(path, OLD_DATE)
    assert make_ok(project) == {"weight", "estimate", "report"}


def test_edited_contact_sheet_reruns_ingest_and_weighting_not_scoring(project):
    path = project / "data" / "raw" / "2024" / "contacts.csv"
    original = path.read_bytes()

    def vacant(lines):  # one non-contact household found to be vacant: not eligible
        i = next(i for i, line in enumerate(lines) if ",2.20," in line)
        return lines[:i] + [lines[i].replace(",2.20,", ",4.10,")] + lines[i + 1:]

    edit_csv(path, vacant)
    assert make_ok(project) == {"ingest", "weight", "estimate", "report"}
    path.write_bytes(original)
    os.utime(path, OLD_DATE)
    assert make_ok(project) == {"ingest", "weight", "estimate", "report"}
