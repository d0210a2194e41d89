"""Ingest: exactly the spoiled records are quarantined, nothing is lost, no identity leaves, and fatal
input fails with one clear message and no output."""

from __future__ import annotations

import json
import re
import shutil
import struct
from pathlib import Path

import numpy as np
import pandas as pd
import pyreadstat
import pytest

from pipeline.errors import InputError
from pipeline.ingest import run_ingest
from pipeline.instruments import load_instrument
from pipeline.paths import ROOT, WavePaths
from pipeline.schemas import response_columns
from pipeline.tableio import read_metadata
from pipeline.vocabulary import RESPONSE_STATUSES
from tests.conftest import make_project

GB_FIXTURE = ROOT / "tests" / "data" / "ingest" / "gb18030"


def test_quarantines_exactly_the_spoiled_records(demo_raw, demo_ingested):
    faults = json.loads((demo_raw.raw / "faults.json").read_text(encoding="utf-8"))
    q = pd.read_csv(demo_ingested.processed("quarantine.csv"), encoding="utf-8-sig")
    assert set(zip(q["source_row"], q["reason_code"])) == {(f["source_row"], f["reason"]) for f in faults}


def test_every_row_is_accounted_for(demo_ingested):
    report = json.loads(demo_ingested.processed("ingest_report.json").read_text(encoding="utf-8"))
    q = pd.read_csv(demo_ingested.processed("quarantine.csv"), encoding="utf-8-sig")
    resp = pd.read_parquet(demo_ingested.processed("respondents.parquet"))
    assert report["rows_read"] == report["accepted"] + report["quarantined"]
    assert report["accepted"] == len(resp)
    assert report["quarantined"] == q["source_row"].nunique()
    raw, _ = pyreadstat.read_sav(str(demo_ingested.raw / "survey.sav"), metadataonly=False, usecols=["WJBH"])
    assert report["rows_read"] == len(raw)
    # every accepted complete links to its household on the contact sheet, and only those
    contacts = pd.read_parquet(demo_ingested.processed("contacts.parquet"))
    assert set(contacts["respondent_id"].dropna()) == set(resp["respondent_id"])


def _identities(paths: WavePaths) -> tuple[set[str], set[str]]:
    raw, _ = pyreadstat.read_sav(str(paths.raw / "survey.sav"), usecols=["XM", "SJHM", "SFZH", "ZZ", "GPS"])
    exact = set(raw["SJHM"]) | set(raw["SFZH"]) | set(raw["ZZ"]) | set(raw["GPS"])
    names = set(raw["XM"])
    return exact, names


def _cell_texts(path: Path) -> set[str]:
    """The distinct text of every cell of a processed file. An identifier that leaks does so inside a cell
    (a shifted column, a detail text), so the distinct cells are what is searched: the long tables repeat
    a few values millions of times, and searching their distinct values is as thorough and far quicker."""
    if path.suffix == ".parquet":
        df = pd.read_parquet(path)
        return {str(v) for c in df.columns for v in df[c].unique()}
    text = path.read_text(encoding="utf-8-sig")
    return set(re.split(r"[,\n\"]", text)) | {text} if path.suffix in (".csv", ".json") else {text}


def _leaks(files: list[Path], exact: set, names: set) -> dict[str, int]:
    """File name → how many identifiers of the delivery it contains (inside any cell, or a whole-cell name)."""
    import ahocorasick  # every identifier in one pass over the text, not one pass per identifier

    search = ahocorasick.Automaton()
    for v in exact | {n for n in names if len(n) >= 3}:
        if isinstance(v, str) and v:
            search.add_word(v, v)
    search.make_automaton()
    found = {}
    for path in files:
        cells = _cell_texts(path)
        hits = {v for _, v in search.iter("\n".join(sorted(cells)))} | (names & cells)
        if hits:
            found[path.name] = len(hits)
    return found


def test_no_identifier_reaches_processed_outputs(demo_ingested):
    exact, names = _identities(demo_ingested)
    files = [p for p in demo_ingested.out.rglob("*") if p.is_file()]
    assert files
    assert _leaks(files, exact, names) == {}


def test_the_identifier_scan_finds_a_shifted_value(demo_ingested, tmp_path):
    """Guards the test above: a phone number inside a longer cell, an ID number in a parquet column and a
    two-character name as a whole cell are each found."""
    exact, names = _identities(demo_ingested)
    phone = next(v for v in exact if isinstance(v, str) and re.fullmatch(r"1\d{10}", v))
    id_number = next(v for v in exact if isinstance(v, str) and re.fullmatch(r"\d{17}[\dX]", v))
    short = next(n for n in names if isinstance(n, str) and len(n) == 2)
    (tmp_path / "quarantine.csv").write_text(f"source_row,detail\n7,村代码为“{phone}0”\n", encoding="utf-8-sig")
    pd.DataFrame({"township": ["350502", id_number]}).to_parquet(tmp_path / "respondents.parquet")
    (tmp_path / "notes.csv").write_text(f"a,b\n{short},1\n", encoding="utf-8-sig")
    assert _leaks(sorted(tmp_path.iterdir()), exact, names) == {"quarantine.csv": 1, "respondents.parquet": 1,
                                                                "notes.csv": 1}


def test_respondents_are_typed_and_flagged(demo_ingested):
    r = pd.read_parquet(demo_ingested.processed("respondents.parquet"))
    assert set(r["sex"]) == {"男", "女"}
    assert set(r["age_band"]) == {"18-29", "30-39", "40-49", "50-59", "60-69"}
    assert set(r["education"]) == {"小学及以下", "初中", "高中/中专", "大专", "本科及以上"}
    assert r["age"].between(18, 69).all()
    assert (r["is_elderly"] == (r["age"] >= 60)).all()
    assert (r["is_farmer"] == (r["occupation"] == "农、林、牧、渔业生产及辅助人员")).all()
    assert r["county"].nunique() == 13
    # certainty townships are strata of their own whose villages are the PSUs
    cert = r["p_psu"] >= 1
    assert (r.loc[cert, "psu"] == r.loc[cert, "ssu"]).all()
    assert (r.loc[~cert, "stratum"] == r.loc[~cert, "county_code"]).all()
    assert r["respondent_id"].str.fullmatch(r"R[0-9a-f]{16}").all()


def test_dont_know_is_an_answer_and_missing_is_typed(demo_ingested):
    x = pd.read_parquet(demo_ingested.processed("responses.parquet"))
    inst = load_instrument(demo_ingested.instrument)
    reasons = np.stack([x[response_columns(it.id)[1]].to_numpy() for it in inst.items], axis=1)
    chosen = np.stack([x[response_columns(it.id)[0]].to_numpy() for it in inst.items], axis=1)
    assert sorted(np.unique(reasons)) == [0, 1, 2, 3]  # answered, dont_know, refused, skipped
    assert (chosen[reasons != 0] == 0).all()
    m = len(next(it for it in inst.items if it.id == "A07").options)
    multi = x["chosen_A07"][x["reason_A07"] == 0]
    assert multi.between(0, 2**m - 1).all() and multi.nunique() > m  # sets of options, not one option
    single = [j for j, it in enumerate(inst.items) if it.type != "multiple"]
    c, answered = chosen[:, single], reasons[:, single] == 0
    assert ((c > 0) & ((c & (c - 1)) == 0))[answered].all()  # one option each
    assert read_metadata(demo_ingested.processed("responses.parquet"))["reasons"] == list(RESPONSE_STATUSES)


def _project_with(tmp_path: Path, demo_raw: WavePaths) -> WavePaths:
    root = make_project(tmp_path / "p")
    shutil.copytree(demo_raw.raw, root / "data" / "raw" / "2024")
    (root / "data" / "raw" / "2024" / "SHA256SUMS").unlink()
    return WavePaths(2024, root)


def _fails_cleanly(paths: WavePaths, *fragments: str) -> str:
    with pytest.raises(InputError) as err:
        run_ingest(paths, progress=False)
    message = str(err.value)
    for f in fragments:
        assert f in message, message
    assert not paths.out.exists() or not any(paths.out.iterdir()), "a failed ingest left output behind"
    return message


def test_missing_file(tmp_path, demo_raw):
    paths = _project_with(tmp_path, demo_raw)
    paths.survey.unlink()
    _fails_cleanly(paths, "survey.sav", "not found")


def test_empty_file(tmp_path, demo_raw):
    paths = _project_with(tmp_path, demo_raw)
    paths.survey.write_bytes(b"")
    _fails_cleanly(paths, "survey.sav", "empty")


def test_truncated_file(tmp_path, demo_raw):
    paths = _project_with(tmp_path, demo_raw)
    data = paths.survey.read_bytes()
    paths.survey.write_bytes(data[: len(data) // 3])
    _fails_cleanly(paths, "survey.sav", "truncated or corrupt")


def test_file_that_is_not_what_its_extension_says(tmp_path, demo_raw):
    paths = _project_with(tmp_path, demo_raw)
    paths.survey.write_text("WJBH,S1\n1,2\n", encoding="utf-8")
    _fails_cleanly(paths, "survey.sav", "not a .sav file")


def test_column_missing(tmp_path, demo_raw):
    paths = _project_with(tmp_path, demo_raw)
    df, meta = pyreadstat.read_sav(str(paths.survey), user_missing=True)
    pyreadstat.write_sav(df.drop(columns=["Q05", "A1"]), str(paths.survey))
    msg = _fails_cleanly(paths, "Q05", "A1", "Available", "instrument.yaml")
    assert "SFZH" not in msg.split("Available")[0]


def test_checksum_mismatch(tmp_path, demo_raw):
    paths = _project_with(tmp_path, demo_raw)
    shutil.copy(demo_raw.raw / "SHA256SUMS", paths.checksums)
    with open(paths.survey, "ab") as fh:
        fh.write(b"\0")
    _fails_cleanly(paths, "sha256", "SHA256SUMS")


def _gb_project(tmp_path: Path, encoding: str | None = None, code_page_lie: bool = False) -> WavePaths:
    root = make_project(tmp_path / "gb")
    raw = root / "data" / "raw" / "2024"
    shutil.copytree(GB_FIXTURE, raw)
    if code_page_lie:  # a file whose header claims Western code page 1252 while its text is GB18030
        b = (raw / "survey.sav").read_bytes().replace(b"GB18030", b"MS-ANSI")
        at = b.find(struct.pack("<4i", 7, 3, 4, 8)) + 16 + 7 * 4
        (raw / "survey.sav").write_bytes(b[:at] + struct.pack("<i", 1252) + b[at + 4:])
    if encoding:
        spec = root / "survey_instruments" / "2024" / "instrument.yaml"
        spec.write_text(spec.read_text(encoding="utf-8").replace("encoding: null", f"encoding: {encoding}", 1),
                        encoding="utf-8")
    return WavePaths(2024, root)


def test_gb18030_file_reads_with_chinese_labels(tmp_path):
    paths = _gb_project(tmp_path)
    result = run_ingest(paths, progress=False)
    assert result.rows_read == 20 == result.accepted + result.quarantined
    r = pd.read_parquet(paths.processed("respondents.parquet"))
    assert set(r["sex"]) <= {"男", "女"} and set(r["county"]) <= {"鲤城区", "丰泽区"}
    report = json.loads(paths.processed("ingest_report.json").read_text(encoding="utf-8"))
    assert report["encoding"].upper() == "GB18030"


def test_wrong_code_page_is_caught_and_the_spec_encoding_fixes_it(tmp_path):
    _fails_cleanly(_gb_project(tmp_path / "a", code_page_lie=True), "乱码", "encoding: gb18030")
    paths = _gb_project(tmp_path / "b", encoding="gb18030", code_page_lie=True)
    assert run_ingest(paths, progress=False).rows_read == 20
    assert "鲤城区" in set(pd.read_parquet(paths.processed("respondents.parquet"))["county"])


def test_record_without_questionnaire_number_is_quarantined(tmp_path, demo_raw):
    paths = _project_with(tmp_path, demo_raw)
    df, meta = pyreadstat.read_sav(str(paths.survey), user_missing=True)
    df.loc[4, "WJBH"] = ""
    pyreadstat.write_sav(df, str(paths.survey), column_labels=meta.column_labels,
                         variable_value_labels=meta.variable_value_labels)
    result = run_ingest(paths, progress=False)
    assert result.rows_read == result.accepted + result.quarantined
    q = pd.read_csv(paths.processed("quarantine.csv"), encoding="utf-8-sig")
    row = q[q["source_row"] == 5]
    assert list(row["reason_code"]) == ["missing_id"] and row["respondent_id"].isna().all()
    assert "WJBH" in row["detail"].iloc[0]


def test_contact_sheet_with_a_bad_probability_fails_before_any_output(tmp_path, demo_raw):
    paths = _project_with(tmp_path, demo_raw)
    sheet = pd.read_csv(paths.contacts_raw, dtype=str, encoding="utf-8-sig", keep_default_na=False)
    sheet.loc[6, "p_ssu"] = "0,48"  # a decimal comma from a European-locale spreadsheet
    sheet.to_csv(paths.contacts_raw, index=False, encoding="utf-8-sig")
    _fails_cleanly(paths, "contacts.csv", "第 8 行", "p_ssu", "“0,48”", "逗号")


def test_contact_sheet_missing_fails_before_any_output(tmp_path, demo_raw):
    paths = _project_with(tmp_path, demo_raw)
    paths.contacts_raw.unlink()
    _fails_cleanly(paths, "contacts.csv", "缺少联系记录表")


def test_key_group_on_any_coded_demographic(tmp_path, demo_raw):
    """The loader accepts a key group on any coded demographic; ingest derives it from that field."""
    paths = _project_with(tmp_path, demo_raw)
    spec = paths.root / "survey_instruments" / "2024" / "instrument.yaml"
    spec.write_text(spec.read_text(encoding="utf-8").replace("is_worker: {occupation: [7]}", "is_worker: {urban: [1]}"),
                    encoding="utf-8")
    run_ingest(paths, progress=False)
    r = pd.read_parquet(paths.processed("respondents.parquet"))
    assert (r["is_worker"] == (r["urban"] == "城镇")).all() and 0 < r["is_worker"].mean() < 1


def test_ingest_delivery_is_the_stage_without_its_files(demo_ingested, monkeypatch):
    """The pure step, fed the delivery as read, returns exactly the tables and report the stage wrote; it
    drops identifier columns itself, whoever calls it, and touches no file."""
    from pipeline.ingest.contacts import read_contacts
    from pipeline.ingest.identities import link_secret
    from pipeline.ingest.readers import read_raw
    from pipeline.ingest.run import Delivered, ingest_delivery
    from pipeline.schemas import CONTACTS, QUARANTINE, RESPONDENTS, RESPONSES
    from pipeline.survey_design import load_delivery
    from pipeline.tableio import prepare, read_table

    paths = demo_ingested
    inst = load_instrument(paths.instrument)
    src = paths.raw / inst.source_file
    raw = read_raw(src, inst.encoding)  # identifiers left in: the step must drop them
    assert all(i.column in raw.data.columns for i in inst.identifiers)
    frame = pd.read_csv(paths.frame, dtype=str, encoding="utf-8-sig")
    delivered = Delivered(raw.data, src.name, raw.sha256, raw.encoding, read_contacts(paths.contacts_raw), frame)
    secret = link_secret()

    def no_files(*args, **kwargs):
        raise AssertionError("ingest_delivery opened a file")

    monkeypatch.setattr("builtins.open", no_files)
    out = ingest_delivery(delivered, inst, load_delivery(paths.design), paths.wave, secret)
    monkeypatch.undo()
    for table, name, schema in ((out.respondents, "respondents.parquet", RESPONDENTS),
                                (out.responses, "responses.parquet", RESPONSES),
                                (out.contacts, "contacts.parquet", CONTACTS),
                                (out.quarantine, "quarantine.csv", QUARANTINE)):
        written = read_table(paths.processed(name), schema)
        pd.testing.assert_frame_equal(prepare(table, schema), written, check_dtype=False)
    report = json.loads(paths.processed("ingest_report.json").read_text(encoding="utf-8"))
    assert {k: v for k, v in report.items() if k != "source_file"} == json.loads(json.dumps(out.report))
    leaked = {i.column for i in inst.identifiers} & (set(out.respondents.columns) | set(out.responses.columns))
    assert not leaked
