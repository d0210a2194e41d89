"""`pipeline check`: a delivery with many faults gets every one of them listed in one run, with the
numbers and the nearest columns, a non-zero exit, and nothing written."""

from __future__ import annotations

import hashlib

import pandas as pd
import pytest

from pipeline.check import run_check
from pipeline.check.run import DeliveryProblems
from pipeline.cli import main
from tests.delivery.helpers import copy_wave, read_sav, resave


def _tree(root):
    return {p.relative_to(root).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob("*")) if p.is_file()}


def test_clean_demo_delivery_has_nothing_that_stops(demo_raw, tmp_path):
    paths = copy_wave(demo_raw, tmp_path)
    result = run_check(paths, show=False)
    assert result.count("stop") == 0
    assert result.count("quarantine") >= 1  # the demo's planted faults: out-of-codebook codes, duplicate ids


def test_every_fault_of_one_delivery_in_one_run(demo_raw, tmp_path, capsys):
    paths = copy_wave(demo_raw, tmp_path)
    data, meta = read_sav(paths.survey)
    # 1. education renamed (the label stays); 2. a column nobody claims
    data = data.rename(columns={"A3": "WHCD"})
    meta.column_names = ["WHCD" if c == "A3" else c for c in meta.column_names]
    meta.variable_to_label = {("WHCD" if k == "A3" else k): v for k, v in meta.variable_to_label.items()}
    data["BEIZHU"] = "无"
    meta.column_names.append("BEIZHU")
    meta.column_labels.append("访问员备注")
    # 3. an answer code outside the codebook in 30 records
    data.loc[data.index[:30], "Q05"] = 7.0
    # 4. the missing codes lost in a re-save
    items = [c for c in data.columns if c.startswith("Q")]
    data[items] = data[items].where(~data[items].isin([97, 98, 99]))
    resave(paths, data, meta, keep_missing=False)
    # 5. a contact sheet without its dispositions; 6. a control table that is not there
    contacts = pd.read_csv(paths.contacts_raw, dtype=str, encoding="utf-8-sig")
    contacts.drop(columns="disposition").to_csv(paths.contacts_raw, index=False, encoding="utf-8-sig")
    (paths.controls / "county_education.csv").unlink()
    # 7. no sampling frame
    paths.frame.unlink()
    before = _tree(paths.root)

    with pytest.raises(DeliveryProblems):
        run_check(paths)
    assert main(["check", "--wave", "2024", "--root", str(paths.root)]) != 0
    assert _tree(paths.root) == before  # writes nothing
    out = capsys.readouterr().err
    listed = out[:out.index("<<") if "<<" in out else len(out)]
    assert "缺少规格要求的列 A3" in listed and "标签最接近：WHCD（文化程度）" in listed
    assert "BEIZHU（访问员备注）" in listed
    assert "列 Q05" in listed and "7（30 次）" in listed
    assert "97" in listed and "空白答案" in listed
    assert "disposition" in listed
    assert "county_education.csv" in listed
    assert "frame.csv 不存在" in listed
    assert listed.count("[会中止运行]") >= 4 * 2  # two runs, at least four stopping problems each


def test_encoding_problem_is_listed_beside_the_others(tmp_path):
    from tests.ingest.test_ingest import _gb_project

    paths = _gb_project(tmp_path, code_page_lie=True)  # GB18030 text behind a header that claims code page 1252
    with pytest.raises(DeliveryProblems):
        run_check(paths, show=False)
    from pipeline.check import check_delivery

    problems = check_delivery(paths)
    topics = {p.topic for p in problems if p.severity == "stop"}
    assert "encoding" in topics and "controls" in topics  # the fixture has no control tables either
    assert any("gb18030" in p.message for p in problems if p.topic == "encoding")


def _weight_instead_of_probabilities(demo_raw, tmp_path, name: str):
    """The demo delivery re-saved with a final weight `name` (labelled 最终权数) in place of the three
    stage probabilities, the spec still saying `full`."""
    paths = copy_wave(demo_raw, tmp_path)
    data, meta = read_sav(paths.survey)
    probs = ["RYGL_XZ", "RYGL_CJ", "RYGL_HH"]
    data = data.drop(columns=probs).assign(**{name: 1.0})
    keep = [i for i, c in enumerate(meta.column_names) if c not in probs]
    meta.column_names = [meta.column_names[i] for i in keep] + [name]
    meta.column_labels = [meta.column_labels[i] for i in keep] + ["最终权数（调查公司）"]
    resave(paths, data, meta)
    return paths


def test_a_weight_instead_of_the_stage_probabilities_suggests_the_delivery_mode(demo_raw, tmp_path):
    """A re-saved file that carries the company's final weight and not the three stage probabilities:
    check and ingest both say which mode to declare and which column to name."""
    from pipeline.check import check_delivery
    from pipeline.errors import InputError
    from pipeline.ingest import run_ingest

    paths = _weight_instead_of_probabilities(demo_raw, tmp_path, "FINALWT")
    problems = [p.message for p in check_delivery(paths)]
    hint = [m for m in problems if "像是权数" in m]
    assert len(hint) == 1 and "mode: final_weight" in hint[0] and "final_weight: FINALWT" in hint[0]
    with pytest.raises(InputError, match=r"looks like a weight \(FINALWT\).*mode: final_weight.*final_weight: FINALWT"):
        run_ingest(paths, progress=False)


def test_ingest_recognises_a_weight_by_its_label(demo_raw, tmp_path):
    """A weight whose name says nothing (the company's pinyin initials) is recognised by its label."""
    from pipeline.errors import InputError
    from pipeline.ingest import run_ingest

    paths = _weight_instead_of_probabilities(demo_raw, tmp_path, "ZQZ")
    with pytest.raises(InputError, match=r"looks like a weight \(ZQZ\).*mode: final_weight.*final_weight: ZQZ"):
        run_ingest(paths, progress=False)


def test_no_mode_hint_when_the_probabilities_are_there(demo_raw, tmp_path):
    paths = copy_wave(demo_raw, tmp_path)
    from pipeline.check import check_delivery

    assert not any("像是权数" in p.message for p in check_delivery(paths))
