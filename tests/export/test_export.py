"""`export`: the labelled analysis file reopens with every label, holds nothing ingest drops, and its
replicate weights give the published standard errors (recomputed here with numpy, and by R's survey
package in the committed golden output)."""

from __future__ import annotations

import io
import json
import os
import re
import subprocess
from pathlib import Path

import numpy as np
import pandas as pd
import pyreadstat
import pytest

from pipeline import vocabulary as V
from pipeline.cli import main
from pipeline.errors import InputError
from pipeline.export import run_export
from pipeline.export.run import read_export_csv
from pipeline.paths import ROOT
from pipeline.publishing import labels as L
from pipeline.tableio import read_table

GOLD = Path(__file__).resolve().parent.parent / "data" / "golden" / "export"
TOL = 1e-9


def _published(paths, method="replicate") -> pd.DataFrame:
    e = read_table(paths.processed("estimates.csv"), "estimates")
    e = e[(e["estimand_id"] == "literate") & (e["variance_method"] == method)
          & e["domain_type"].isin(["overall", "county"])]
    return e.set_index("domain")


def _county_names(paths) -> dict[str, str]:
    r = pd.read_parquet(paths.processed("respondents.parquet"), columns=["county_code", "county"])
    return dict(zip(r["county_code"], r["county"], strict=False)) | {"all": L.CATEGORY_ORDER["overall"][0]}


# --------------------------------------------------------------------------------------------- labels
def test_sav_and_dta_reopen_with_every_variable_and_value_label(exported):
    paths, res = exported
    book = pd.read_csv(res.out / "codebook.csv", encoding="utf-8-sig")
    csv = read_export_csv(res.out / "literacy_2024.csv")
    for ext, reader in (("sav", pyreadstat.read_sav), ("dta", pyreadstat.read_dta)):
        df, meta = reader(str(res.out / f"literacy_2024.{ext}"))
        assert meta.column_names == list(book["variable"]) == list(csv.columns)
        assert dict(zip(meta.column_names, meta.column_labels, strict=True)) == dict(
            zip(book["variable"], book["label"], strict=True))
        labels = meta.variable_value_labels
        assert labels["county"] == {float(i + 1): c for i, c in enumerate(V.counties().names)} or labels["county"] == {
            i + 1: c for i, c in enumerate(V.counties().names)}
        assert {float(k): v for k, v in labels["sex"].items()} == {1.0: "男", 2.0: "女"}
        assert set(labels["literate"].values()) == {"具备", "不具备"}
        assert set(labels["is_farmer"].values()) == {"是", "否"}
        assert list(labels["education"].values()) == list(L.CATEGORY_ORDER["education"])
        assert len(labels["psu"]) == df["psu"].nunique()
        # every coded variable carries labels for every code it holds
        coded = book.loc[book["type"] == "code", "variable"]
        for v in coded:
            held = set(df[v].dropna().astype(float))
            assert held <= {float(k) for k in labels[v]}, v
        # the same values in every format
        assert df["respondent_id"].tolist() == csv["respondent_id"].tolist()
        for col in ("literate", "total", "w_final", "w_rep_001", "county", "stratum", "psu"):
            np.testing.assert_array_equal(df[col].to_numpy(float), csv[col].to_numpy(float), err_msg=col)
    pq = pd.read_parquet(res.out / "literacy_2024.parquet")
    pd.testing.assert_frame_equal(pq[csv.columns[1:]].reset_index(drop=True), csv[csv.columns[1:]],
                                  check_dtype=False)


def test_labels_decode_to_the_processed_values(exported):
    paths, res = exported
    df, meta = pyreadstat.read_sav(str(res.out / "literacy_2024.sav"), apply_value_formats=True)
    r = pd.read_parquet(paths.processed("respondents.parquet")).set_index("respondent_id")
    s = pd.read_parquet(paths.processed("scores.parquet")).set_index("respondent_id")
    df = df.set_index("respondent_id")
    assert set(df.index) == set(r.index)  # every accepted respondent, and no one else
    for col in ("county", "sex", "age_band", "education", "urban", "occupation"):
        assert (df[col].astype(str) == r.loc[df.index, col].astype(str)).all(), col
    got = [None if pd.isna(x) else str(x) for x in df["level"]]
    want = [None if pd.isna(x) else str(x) for x in s.loc[df.index, "level"]]
    assert got == want and None in want  # unscored respondents stay missing, not a class


# ------------------------------------------------------------------------------------------- privacy
def test_nothing_ingest_drops_reaches_the_export(exported, demo_raw):
    paths, res = exported
    from pipeline.instruments import load_instrument

    inst = load_instrument(paths.instrument)
    raw, _ = pyreadstat.read_sav(str(demo_raw.survey), usecols=[i.column for i in inst.identifiers]
                                 + [inst.admin_column("questionnaire_id"), inst.admin_column("interviewer_id")])
    csv = read_export_csv(res.out / "literacy_2024.csv")
    allowed = {"respondent_id", "wave", "county", "county_code", "stratum", "psu", "sex", "age", "age_band",
               "education", "urban", "occupation", "hukou", "is_farmer", "is_worker", "is_elderly", "is_official",
               "knowledge", "methods", "spirit", "ability", "total", "level", "literate", "cal_cell_1",
               "cal_cell_2", "w_final"}
    assert {c for c in csv.columns if not c.startswith("w_rep_")} == allowed
    # every identifier value as a whole cell, and every long one as a substring of a cell, in no file
    values = set()
    for col in raw.columns:
        values |= {str(v).strip() for v in raw[col].dropna() if len(str(v).strip()) >= 2}
    assert len(values) > 1000
    small = "\n".join(p.read_text(encoding="utf-8-sig") for p in res.out.iterdir()
                      if p.suffix in (".R", ".do", ".sps", ".json") or p.name in ("codebook.csv", "replicates.csv"))
    sav, _ = pyreadstat.read_sav(str(res.out / "literacy_2024.sav"))  # .dta, .csv, .parquet: same values
    text = small + "\n" + (res.out / "literacy_2024.csv").read_text(encoding="utf-8-sig") + sav.to_csv(index=False)
    hits = sorted(values & set(re.split(r"[,\s\"'=;()（）：:]+", text)))
    hits += [v for v in values if len(v) >= 8 and v in small]
    assert not hits, hits[:5]


# ------------------------------------------------------------------------------ replicate variance
def _numbers(text: str, start: str, end: str) -> np.ndarray:
    block = text[text.index(start) + len(start):]
    block = block[:block.index(end)]
    return np.array([float(x) for x in re.findall(r"-?\d+\.\d+(?:e-?\d+)?", block)])


def _replicate_se(df: pd.DataFrame, rep_cols, multipliers, mse: bool, mask) -> tuple[float, float]:
    """θ_r = Σ w_r y / Σ w_r over the domain's respondents with a score; Var = Σ m_r (θ_r − θ̄)²."""
    y = df["literate"].to_numpy(float)
    m = mask & np.isfinite(y)
    W = df.loc[m, rep_cols].to_numpy(float)
    w = df.loc[m, "w_final"].to_numpy(float)
    est = (w * y[m]).sum() / w.sum()
    theta = (W * y[m][:, None]).sum(0) / W.sum(0)
    centre = est if mse else theta.mean()
    return est, float(np.sqrt((multipliers * (theta - centre) ** 2).sum()))


def test_replicate_variance_from_the_exported_file_matches_estimates(exported):
    """The published citywide and county SEs, recomputed from the .sav with the multipliers written in
    the Stata and SPSS syntax, to 1e-9 relative."""
    paths, res = exported
    df, meta = pyreadstat.read_sav(str(res.out / "literacy_2024.sav"))
    design = json.loads((res.out / "export.json").read_text(encoding="utf-8"))["design"]
    reps = pd.read_csv(res.out / "replicates.csv", encoding="utf-8-sig")
    rep_cols = [c for c in df.columns if c.startswith("w_rep_")]
    assert rep_cols == list(reps["variable"]) and design["method"] == "JKn" and not design["mse"]
    do = (res.out / "design_2024.do").read_text(encoding="utf-8")
    sps = (res.out / "design_2024.sps").read_text(encoding="utf-8")
    stata_m = _numbers(do, "multiplier(", "))")
    spss_m = _numbers(sps, f"DO REPEAT t = th1 TO th{len(rep_cols)} / s =", "COMPUTE v")
    np.testing.assert_array_equal(stata_m, reps["rscale"].to_numpy())
    np.testing.assert_array_equal(spss_m, reps["rscale"].to_numpy())
    assert " mse" not in do.split("vce(jackknife)")[1].splitlines()[0]
    pub = _published(paths)
    names = meta.variable_value_labels["county"]
    domains = [("全市", np.ones(len(df), bool))] + [(names[c], (df["county"] == c).to_numpy()) for c in names]
    for name, mask in domains:
        est, se = _replicate_se(df, rep_cols, stata_m, design["mse"], mask)
        assert est == pytest.approx(pub.loc[name, "est"], rel=TOL, abs=0), name
        assert se == pytest.approx(pub.loc[name, "se"], rel=TOL, abs=0), name
    # the rscales are JKn's (n_h − 1)/n_h of the stratum each replicate deletes
    n_h = df.groupby("stratum")["psu"].nunique()
    strata_codes = {v: k for k, v in meta.variable_value_labels["stratum"].items()}
    by_code = {lab.split()[0]: n_h[code] for lab, code in strata_codes.items()}
    expect = [(by_code[str(s)] - 1) / by_code[str(s)] for s in reps["stratum"]]
    np.testing.assert_allclose(reps["rscale"], expect, rtol=1e-15)


def test_syntax_files_name_the_numbers_they_reproduce(exported):
    paths, res = exported
    pub = _published(paths)
    shown = pub[pub["reliability"] != "suppressed"]
    for ext in ("R", "do", "sps"):
        text = (res.out / f"design_2024.{ext}").read_text(encoding="utf-8")
        for name, row in shown.iterrows():
            line = next(x for x in text.splitlines() if f" {name} " in x and "标准误" in x)
            assert f"se = {row['se']:.15g}" in line and f"est = {row['est']:.15g}" in line
    assert 'svrepdesign(' in (res.out / "design_2024.R").read_text() and 'type = "JKn"' in (
        res.out / "design_2024.R").read_text()
    assert "CSPLAN ANALYSIS" in (res.out / "design_2024.sps").read_text(encoding="utf-8")
    assert "不能使用复制权数" in (res.out / "design_2024.sps").read_text(encoding="utf-8")


# ------------------------------------------------------------------------------------------ R golden
def _r_output(text: str) -> pd.DataFrame:
    body = "".join(line + "\n" for line in text.splitlines() if line and not line.startswith("#"))
    return pd.read_csv(io.StringIO(body), dtype={"domain": str})


NUMBER = re.compile(r"[-+]?(?:\d+\.\d*|\.\d+|\d+)(?:[eE][-+]?\d+)?")


def _same_syntax(golden: str, made: str) -> None:
    """The syntax the golden R output was made from: the same text, and the same numbers to 1e-12 relative.
    The published estimates in its comments are printed to 15 digits, and the last of them depends on the
    order in which this machine's numpy adds (a weighted sum over thousands of respondents can differ in its last place between CPUs),
    so numbers are compared as numbers; any other change means make_golden.py must be re-run."""
    hint = "the export's R syntax changed: re-run tests/data/golden/export/make_golden.py"
    assert NUMBER.split(golden) == NUMBER.split(made), hint
    a = np.array([float(x) for x in NUMBER.findall(golden)])
    b = np.array([float(x) for x in NUMBER.findall(made)])
    assert a.shape == b.shape, hint
    np.testing.assert_allclose(b, a, rtol=1e-12, atol=0, err_msg=hint)


def test_committed_r_output_equals_estimates(exported):
    """R's svrepdesign(type = "JKn", rscales, mse = FALSE) on the exported CSV (make_golden.py) gives the
    published citywide and county shares and standard errors to 1e-9."""
    paths, res = exported
    _same_syntax((GOLD / "design_2024.R").read_text(encoding="utf-8"),
                 (res.out / "design_2024.R").read_text(encoding="utf-8"))
    r = _r_output((GOLD / "r_output.txt").read_text(encoding="utf-8"))
    names = _county_names(paths)
    r["name"] = r["domain"].map(names)
    for method, published in (("replicate_JKn", "replicate"),):
        pub = _published(paths, published)
        got = r[r["method"] == method].set_index("name")
        assert set(got.index) == set(pub.index) and len(got) == 14
        np.testing.assert_allclose(got["est"], pub.loc[got.index, "est"], rtol=TOL, atol=0)
        np.testing.assert_allclose(got["se"], pub.loc[got.index, "se"], rtol=TOL, atol=0)
    # the comparison designs: same shares; a plain strata/PSU/weight design ignores the calibration
    tay = _published(paths, "taylor")
    for method in ("taylor_calibrated", "taylor_plain"):
        got = r[r["method"] == method].set_index("name")
        np.testing.assert_allclose(got["est"], tay.loc[got.index, "est"], rtol=TOL, atol=0)
    plain = r[(r["method"] == "taylor_plain") & (r["domain"] == "all")]["se"].iloc[0]
    jk = r[(r["method"] == "replicate_JKn") & (r["domain"] == "all")]["se"].iloc[0]
    assert plain > jk


@pytest.mark.skipif(subprocess.run(["which", "Rscript"], capture_output=True).returncode != 0,
                    reason="R is not installed")
@pytest.mark.slow
def test_r_script_runs_on_the_export(exported):
    _, res = exported
    out = subprocess.run(["Rscript", str(res.out / "design_2024.R"), str(res.out)], capture_output=True,
                         text=True, env={**os.environ, "LANG": "C.UTF-8", "LC_ALL": "C.UTF-8"})
    got, want = _r_output(out.stdout), _r_output((GOLD / "r_output.txt").read_text(encoding="utf-8"))
    np.testing.assert_allclose(got["se"], want["se"], rtol=1e-12)


# ---------------------------------------------------------------------------------- atomic, CLI
def test_failed_export_leaves_the_previous_one(exported, monkeypatch):
    paths, res = exported
    before = {p.name: p.read_bytes() for p in res.out.iterdir() if p.suffix in (".json", ".R", ".csv")}
    from pipeline.export import writers

    def broken(af, path, title):
        path.write_bytes(b"half")
        raise OSError("disk full")

    monkeypatch.setitem(writers.WRITERS, "dta", broken)
    with pytest.raises(OSError):
        run_export(paths, ["csv", "dta"], progress=False)
    after = {p.name: p.read_bytes() for p in res.out.iterdir() if p.suffix in (".json", ".R", ".csv")}
    assert after == before
    assert not [p for p in res.out.parent.iterdir() if p.name.startswith(".export.")]


def test_bad_format_and_raw_destination_are_refused(exported):
    paths, _ = exported
    with pytest.raises(InputError, match="sav, dta, csv, parquet"):
        run_export(paths, ["xls"], progress=False)
    with pytest.raises(InputError, match="data/raw"):
        run_export(paths, ["csv"], out=paths.raw / "export", progress=False)


def test_cli_help_and_error_exit(exported, capsys):
    paths, _ = exported
    with pytest.raises(SystemExit) as e:
        main(["export", "--help"])
    assert e.value.code == 0 and "--with-questionnaire-id" in capsys.readouterr().out
    assert main(["export", "--wave", "2024", "--root", str(paths.root), "--format", "spss"]) == 2


def test_restricted_folder_is_git_ignored():
    out = subprocess.run(["git", "check-ignore", "-q", "data/restricted/2024/crosswalk_2024.csv"], cwd=ROOT)
    assert out.returncode == 0
