"""The authorised crosswalk: only on request, only with the linkage key, only in the restricted folder."""

from __future__ import annotations

import stat

import pandas as pd
import pyreadstat
import pytest

from pipeline.errors import InputError
from pipeline.export import run_export
from pipeline.export.crosswalk import restricted_dir
from pipeline.ingest.identities import link_secret, pseudonymise


def test_no_crosswalk_by_default(exported):
    paths, res = exported
    assert res.crosswalk is None
    assert not restricted_dir(paths).exists()
    assert not any("crosswalk" in p.name for p in paths.root.rglob("*"))


def test_refused_without_the_key_and_nothing_written(demo_estimated, monkeypatch, tmp_path):
    monkeypatch.delenv("QZ_LINK_SECRET", raising=False)
    monkeypatch.setenv("QZ_LINK_SECRET_FILE", str(tmp_path / "no_key"))
    with pytest.raises(InputError, match="linkage key"):
        run_export(demo_estimated, ["csv"], out=tmp_path / "out", with_questionnaire_id=True, progress=False)
    assert not (tmp_path / "out").exists() and not (tmp_path / "no_key").exists()
    assert not restricted_dir(demo_estimated).exists()


def test_refused_with_another_key(demo_estimated, monkeypatch, tmp_path):
    monkeypatch.setenv("QZ_LINK_SECRET", "another-key-than-the-one-ingest-used")
    with pytest.raises(InputError, match="not the one ingest used"):
        run_export(demo_estimated, ["csv"], out=tmp_path / "out", with_questionnaire_id=True, progress=False)
    assert not (tmp_path / "out").exists()
    assert not list(restricted_dir(demo_estimated).glob("crosswalk_*"))


def test_crosswalk_links_every_respondent_in_the_restricted_folder(demo_estimated, demo_raw, tmp_path, capsys):
    paths = demo_estimated
    res = run_export(paths, ["csv"], out=tmp_path / "out", with_questionnaire_id=True, progress=False)
    path = res.crosswalk
    assert path.parent == restricted_dir(paths) == paths.root / "data" / "restricted" / "2024"
    assert not path.resolve().is_relative_to(paths.out.resolve())
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    assert "警告" in capsys.readouterr().err + (path.parent / "README.txt").read_text(encoding="utf-8")
    cw = pd.read_csv(path, encoding="utf-8-sig", dtype=str)
    ids = pd.read_parquet(paths.processed("respondents.parquet"), columns=["respondent_id"])["respondent_id"]
    assert sorted(cw["respondent_id"]) == sorted(ids) and cw["respondent_id"].is_unique
    assert (pseudonymise(2024, cw["questionnaire_id"], link_secret()) == cw["respondent_id"].to_numpy()).all()
    raw, _ = pyreadstat.read_sav(str(demo_raw.survey), usecols=["WJBH"])
    assert set(cw["questionnaire_id"]) <= set(raw["WJBH"].astype(str))
    # the export itself still carries no questionnaire number
    exported = (tmp_path / "out" / "literacy_2024.csv").read_text(encoding="utf-8-sig")
    assert not any(q in exported for q in cw["questionnaire_id"].head(200))
    for p in restricted_dir(paths).iterdir():
        p.unlink()
    restricted_dir(paths).rmdir()
