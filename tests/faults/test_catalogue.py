"""The fault catalogue: bad deliveries, bad specs and bad machines, each with the outcome it must have.

  message     the command exits 2 with one clear message (no traceback) that contains `expect`
  quarantine  the stage succeeds and the record is in quarantine.csv with reason `expect`, and the
              detail shows no value that may identify a person (`secret`)
  unchanged   the command refuses (one message) and the files named in the case keep their bytes
  result      the stage succeeds and its output satisfies the case's check

Every case runs on a copy of one finished demo wave, through the command line (pipeline.cli.main), so
that an exception that escapes as a traceback fails the case. Make-level cases (partial deliveries,
reruns on content, kills at every write boundary) are in test_raw_untouched, test_content_reruns and
test_crash_consistency.
"""

from __future__ import annotations

import hashlib
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pyreadstat
import pytest

from pipeline.cli import main
from pipeline.paths import WavePaths

MOBILE = "13912345678"
ADDRESS = "鲤城区开元路88号3栋502室"


@dataclass(frozen=True)
class Case:
    name: str
    stage: str  # the command run after `edit`
    edit: Callable[[WavePaths], None]
    outcome: str  # message | quarantine | unchanged | result
    expect: str = ""
    secret: str = ""
    check: Callable[[WavePaths], bool] | None = None
    keep: tuple[str, ...] = ()  # paths (relative to the wave's raw or processed folder) that must not change
    env: tuple[tuple[str, str], ...] = ()


def _survey(paths: WavePaths, change: Callable[[pd.DataFrame], None]) -> None:
    df, meta = pyreadstat.read_sav(str(paths.survey), user_missing=True)
    change(df)
    pyreadstat.write_sav(df, str(paths.survey), column_labels=meta.column_labels,
                         variable_value_labels=meta.variable_value_labels, missing_ranges=meta.missing_ranges)
    sums = paths.checksums.read_text(encoding="utf-8").splitlines()
    digest = hashlib.sha256(paths.survey.read_bytes()).hexdigest()
    paths.checksums.write_text("\n".join(f"{digest}  survey.sav" if s.endswith("  survey.sav") else s
                                         for s in sums) + "\n", encoding="utf-8")


def _set(col: str, row: int, value) -> Callable[[WavePaths], None]:
    def edit(paths: WavePaths) -> None:
        def change(df):
            if isinstance(value, str):
                df[col] = df[col].astype(object)
            df.loc[row, col] = value
        _survey(paths, change)
    return edit


def _spec(file: str, old: str, new: str) -> Callable[[WavePaths], None]:
    def edit(paths: WavePaths) -> None:
        path = paths.spec / file
        text = path.read_text(encoding="utf-8")
        assert old in text, f"{old!r} not in {path}"
        path.write_text(text.replace(old, new, 1), encoding="utf-8")
    return edit


def _controls(file: str, change: Callable[[pd.DataFrame], pd.DataFrame], encoding: str = "utf-8-sig"):
    def edit(paths: WavePaths) -> None:
        path = paths.controls / file
        df = pd.read_csv(path, encoding="utf-8-sig", dtype=str)
        df["population"] = df["population"].astype(float)
        df = change(df)
        df.to_csv(path, index=False, encoding=encoding, lineterminator="\n")
    return edit


def _plus3(df):
    df.loc[0, "population"] += 3
    return df


def _refusals_as_minus8(paths: WavePaths) -> None:
    def change(df):
        rows = np.arange(len(df)) % 5 == 0  # a fifth of the records: a recoding of the whole delivery
        for col in ("Q05", "Q06"):
            df.loc[rows, col] = -8
    _survey(paths, change)


def _duplicate_household(paths: WavePaths) -> None:
    lines = paths.contacts_raw.read_text(encoding="utf-8-sig").splitlines()
    lines.append(lines[5])
    paths.contacts_raw.write_text("\ufeff" + "\n".join(lines) + "\n", encoding="utf-8")


def _contact_cell(row: int, col: str, value: str) -> Callable[[WavePaths], None]:
    def edit(paths: WavePaths) -> None:
        c = pd.read_csv(paths.contacts_raw, dtype=str, encoding="utf-8-sig", keep_default_na=False)
        c.loc[row, col] = value
        c.to_csv(paths.contacts_raw, index=False, encoding="utf-8-sig", lineterminator="\n")
    return edit


def _contact_shifted(paths: WavePaths) -> None:
    """One record with an extra field: a mobile number typed between two columns."""
    lines = paths.contacts_raw.read_text(encoding="utf-8-sig").splitlines()
    lines[7] = lines[7].replace(",", f",{MOBILE},", 1)
    paths.contacts_raw.write_text("\ufeff" + "\n".join(lines) + "\n", encoding="utf-8")


def _contact_duplicate_mobile(paths: WavePaths) -> None:
    c = pd.read_csv(paths.contacts_raw, dtype=str, encoding="utf-8-sig", keep_default_na=False)
    c.loc[[3, 9], "household_id"] = MOBILE
    c.to_csv(paths.contacts_raw, index=False, encoding="utf-8-sig", lineterminator="\n")


def _renumbered_contacts(paths: WavePaths) -> None:
    c = pd.read_csv(paths.contacts_raw, dtype=str, encoding="utf-8-sig", keep_default_na=False)
    c["questionnaire_id"] = np.where(c["questionnaire_id"] != "", "X" + c["questionnaire_id"], "")
    c.to_csv(paths.contacts_raw, index=False, encoding="utf-8-sig", lineterminator="\n")


def _untimed(paths: WavePaths) -> None:
    def change(df):
        df.loc[df.index[:7], "KSSJ"] = np.nan
    _survey(paths, change)


def _untimed_reported(paths: WavePaths) -> bool:
    import json

    report = json.loads(paths.processed("ingest_report.json").read_text(encoding="utf-8"))
    return report["interviews_without_duration"] == 7


def _no_processed(paths: WavePaths) -> None:
    shutil.rmtree(paths.out)


def _truncate(paths: WavePaths) -> None:
    data = paths.survey.read_bytes()
    paths.survey.write_bytes(data[: len(data) // 2])


def _narrower_at_90(paths: WavePaths) -> bool:
    est = pd.read_csv(paths.processed("estimates.csv"), encoding="utf-8-sig")
    row = est[(est["estimand_id"] == "literate") & (est["domain_type"] == "overall")].iloc[0]
    return 0.75 < (row["uci"] - row["lci"]) / REFERENCE_WIDTH[0] < 0.9  # z(0.95)/z(0.975) = 0.84


REFERENCE_WIDTH: list[float] = []


def _report_marked(paths: WavePaths) -> bool:
    return not paths.report_dir.exists() and (paths.out / "report.stale").is_dir()


CASES = [
    # declared rules enforced in ingest
    Case("40 adults in a household", "ingest", _set("A7", 3, 40), "quarantine", "out_of_range"),
    Case("2.5 adults in a household", "ingest", _set("A7", 4, 2.5), "quarantine", "out_of_range"),
    Case("birth year outside the instrument's range", "ingest", _set("A2", 6, 1890), "quarantine",
         "age_out_of_range"),
    Case("refusals coded -8 in a fifth of the records", "ingest", _refusals_as_minus8, "message",
         "max_quarantined_share", keep=("respondents.parquet", "quarantine.csv")),
    # privacy of details
    Case("mobile number shifted into the township code", "ingest", _set("S2", 7, MOBILE), "quarantine",
         "unknown_area", secret=MOBILE),
    Case("address shifted into the village code", "ingest", _set("S3", 8, ADDRESS), "quarantine",
         "unknown_area", secret=ADDRESS),
    Case("mobile number shifted into a coded answer", "ingest", _set("Q05", 9, float(MOBILE)), "quarantine",
         "code_outside_codebook", secret=MOBILE[:6]),
    Case("mobile number shifted into the adults count", "ingest", _set("A7", 10, float(MOBILE)), "quarantine",
         "out_of_range", secret=MOBILE[:6]),
    # delivery files
    Case("duplicate household_id on the contact sheet", "ingest", _duplicate_household, "unchanged", "household_id",
         keep=("respondents.parquet", "responses.parquet", "contacts.parquet", "ingest_report.json")),
    Case("mobile number shifted into a probability column of the contact sheet", "ingest",
         _contact_cell(4, "p_ssu", MOBILE), "unchanged", "第 6 行：p_ssu 列是 一个 11 位的数字", secret=MOBILE,
         keep=("respondents.parquet", "contacts.parquet")),
    Case("probability above 1 on the contact sheet is quoted", "ingest", _contact_cell(4, "p_hh", "1.5"), "message",
         "p_hh 列是 “1.5”"),
    Case("address shifted into the disposition column", "ingest", _contact_cell(2, "disposition", ADDRESS), "message",
         "第 4 行：disposition 列是 一个非数字的值，长 15 个字符", secret=ADDRESS),
    Case("contact-sheet record with an extra field", "ingest", _contact_shifted, "message", "第 8 行有 11 个字段",
         secret=MOBILE),
    Case("duplicate household_id that is a mobile number", "ingest", _contact_duplicate_mobile, "message",
         "第 5、11 行的 household_id 相同", secret=MOBILE),
    Case("questionnaire numbers that match no household on the contact sheet", "ingest", _renumbered_contacts,
         "unchanged", "no respondent can be linked", keep=("respondents.parquet", "contacts.parquet")),
    Case("interview times missing for some records", "ingest", _untimed, "result",
         "their interview duration is not checked", check=_untimed_reported),
    Case("truncated survey file after a good run: old report marked", "ingest", _truncate, "result",
         "truncated", check=_report_marked),
    Case("UTF-8 file declared GB18030", "ingest", _spec("instrument.yaml", "encoding: null", "encoding: gb18030"),
         "message", "cannot be decoded as gb18030"),
    Case("unknown encoding name", "ingest", _spec("instrument.yaml", "encoding: null", "encoding: gb-2312x"),
         "message", "not the name of a text encoding"),
    # control tables
    Case("control totals disagree by 3 persons", "weight", _controls("county_education.csv", _plus3), "message",
         "largest disagreements"),
    Case("control category no respondent has", "weight", _controls(
        "county_education.csv", lambda d: d.replace({"education": {"本科及以上": "研究生"}})), "message", "研究生"),
    Case("control table in 万人", "weight", _controls(
        "county_education.csv", lambda d: d.assign(population=d["population"] / 1e4)), "message", "other units"),
    Case("GBK-encoded control table", "weight", _controls("county_education.csv", lambda d: d, "gbk"), "message",
         "not UTF-8"),
    # specs
    Case("ci.level: 95", "estimate", _spec("estimands.yaml", "level: 0.95", "level: 95"), "message", "ci.level"),
    Case("target.value: 16", "estimate", _spec("estimands.yaml", "value: 0.16", "value: 16"), "message",
         "target.value"),
    Case("literacy cut-off 75 against class levels at 70", "score", _spec("scoring.yaml", "cutoff: 70", "cutoff: 75"),
         "message", "params.cutoff"),
    Case("max_missing_items: -1", "score", _spec("scoring.yaml", "max_missing_items: 6", "max_missing_items: -1"),
         "message", "max_missing_items"),
    Case("wave key disagrees with its folder", "ingest", _spec("instrument.yaml", "wave: 2024", "wave: 2023"),
         "message", "folder of wave 2024"),
    Case("ci.level: 0.90 reaches the intervals", "estimate", _spec("estimands.yaml", "level: 0.95", "level: 0.90"),
         "result", check=_narrower_at_90),
    # machines
    Case("weight before ingest", "weight", _no_processed, "message", "does not exist"),
    Case("estimate before score and weight", "estimate", _no_processed, "message", "does not exist"),
    Case("full disk while weights are written", "weight", lambda p: None, "unchanged", "disk is full",
         keep=("weights.parquet", "weighting_diagnostics.csv"),
         env=(("QZ_FAULT_AT", "weight:write:weights.parquet:enospc"),)),
    Case("full disk while the report is written", "report", lambda p: None, "unchanged", "disk is full",
         keep=("estimates.csv",), env=(("QZ_FAULT_AT", "report:write:tables.xlsx:enospc"),)),
    Case("read-only output folder", "estimate", lambda p: None, "unchanged", "read-only",
         keep=("estimates.csv", "targets.csv"), env=(("QZ_FAULT_AT", "estimate:write:estimates.csv:erofs"),)),
]


@pytest.fixture(scope="module")
def light_wave(demo_done, tmp_path_factory) -> WavePaths:
    """The finished wave of the fault tests (light variance spec: each weight and estimate case runs in
    seconds)."""
    root = tmp_path_factory.mktemp("catalogue") / "base"
    shutil.copytree(demo_done.root, root, symlinks=True)
    paths = WavePaths(2024, root)
    est = pd.read_csv(paths.processed("estimates.csv"), encoding="utf-8-sig")
    row = est[(est["estimand_id"] == "literate") & (est["domain_type"] == "overall")].iloc[0]
    REFERENCE_WIDTH[:] = [row["uci"] - row["lci"]]
    return paths


def _files(paths: WavePaths, names) -> dict[str, bytes]:
    out = {}
    for n in names:
        for base in (paths.raw, paths.out):
            if (base / n).is_file():
                out[n] = (base / n).read_bytes()
    return out


def run_case(case: Case, base: WavePaths, tmp: Path, capsys, monkeypatch) -> tuple[int, str, WavePaths]:
    root = tmp / "project"
    shutil.copytree(base.root, root, symlinks=True)
    paths = WavePaths(2024, root)
    case.edit(paths)
    for k, v in case.env:
        monkeypatch.setenv(k, v)
    capsys.readouterr()
    rc = main([case.stage, "--wave", "2024", "--root", str(root), "--quiet"])
    return rc, capsys.readouterr().err, paths


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_catalogue(case: Case, light_wave, tmp_path, capsys, monkeypatch):
    before = _files(light_wave, case.keep)
    rc, err, paths = run_case(case, light_wave, tmp_path, capsys, monkeypatch)
    assert "Traceback" not in err
    if case.outcome in ("message", "unchanged"):
        assert rc == 2, f"exit {rc}: {err[-800:]}"
        assert "ERROR" in err and case.expect in err, err[-800:]
        assert not case.secret or case.secret not in err, "the message repeats a value that may identify a person"
        assert len([line for line in err.splitlines() if line.startswith("ERROR")]) == 1
        assert _files(paths, case.keep) == before, "a refused run changed files it must leave alone"
    elif case.outcome == "quarantine":
        assert rc == 0, err[-800:]
        q = pd.read_csv(paths.processed("quarantine.csv"), encoding="utf-8-sig")
        hit = q[q["reason_code"] == case.expect]
        assert len(hit), f"no {case.expect} in quarantine.csv: {q['reason_code'].value_counts().to_dict()}"
        if case.secret:
            for text in (q["detail"].astype(str).str.cat(sep="\n"), err):
                assert case.secret not in text, "a value that may identify a person reached the details"
    else:  # result
        if case.expect:
            assert case.expect in err
        assert case.check(paths), err[-800:]


def test_catalogue_counts():
    kinds = pd.Series([c.outcome for c in CASES]).value_counts().to_dict()
    assert sum(kinds.values()) == len(CASES) >= 29
    assert set(kinds) == {"message", "quarantine", "unchanged", "result"}
