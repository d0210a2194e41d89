"""The report killed at the kinds of boundary of its second commit and after (the page renamed, the
manifest written and renamed, the journal removed): the other half of the fast suite's sample of
tests/faults/test_kill_report.py, in a file of its own so that the two test processes share the kills."""

from __future__ import annotations

from tests.faults.kit import kill_everywhere


def test_kill_report_at_each_kind_of_boundary_of_its_second_commit(demo_done, tmp_path):
    assert kill_everywhere("report", demo_done, tmp_path, every=False, part=1) > 20  # boundaries in all
