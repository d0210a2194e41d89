"""Publication gates: each gate's arithmetic on hand-made numbers, and whole deliveries that must stop
before anything is published (or go through, when the wave's spec accepts the gate with a reason)."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
import yaml

from pipeline.errors import SpecError
from pipeline.estimation import gates
from pipeline.estimation.gates import GateError
from pipeline.paths import WavePaths
from tests.delivery.helpers import blank_missing_codes, copy_wave, refuse_items, run_all, run_through_estimate


def test_kish_deff_by_hand():
    # w = (1, 1, 2, 4): n Σw² / (Σw)² = 4 · 22 / 64 = 1.375
    r = gates.kish_gate(np.array([1.0, 1.0, 2.0, 4.0]), 1.3)
    assert r.status == "failed" and r.value == pytest.approx(1.375, rel=1e-12)
    assert gates.kish_gate(np.array([1.0, 1.0, 2.0, 4.0]), 1.4).status == "passed"


def test_unscored_share_by_hand():
    scored = np.array([True] * 17 + [False] * 3)  # 3 of 20 = 15%
    r = gates.unscored_gate(scored, 0.05)
    assert r.status == "failed" and r.value == pytest.approx(0.15) and "15.0%" in r.message
    assert gates.unscored_gate(scored, 0.15).status == "passed"  # "exceeds" is strict


def test_missing_codes_gate():
    lost = {"missing_code_usage": {"codes": {"97": 0, "98": 0, "99": 0}, "blank_share": 0.30, "answers": 100}}
    r = gates.missing_codes_gate(lost, 0.02)
    assert r.status == "failed" and "97" in r.message and "30.0%" in r.message
    kept = {"missing_code_usage": {"codes": {"97": 40, "98": 2, "99": 1}, "blank_share": 0.30, "answers": 100}}
    assert gates.missing_codes_gate(kept, 0.02).status == "passed"
    few_blanks = {"missing_code_usage": {"codes": {"97": 0, "98": 0, "99": 0}, "blank_share": 0.01, "answers": 100}}
    assert gates.missing_codes_gate(few_blanks, 0.02).status == "passed"
    assert gates.missing_codes_gate(None, 0.02).status == "not_evaluated"


@pytest.mark.parametrize("share, status", [(0.019, "failed"), (0.02, "passed"), (0.6, "passed"), (0.919, "failed")])
def test_plausible_range(share, status):
    assert gates.plausible_gate(share, [0.02, 0.60]).status == status


def _estimates(wave, city, counties):
    rows = [dict(estimand_id="literate", domain_type="overall", domain="全市", est=city, reliability="ok")]
    rows += [dict(estimand_id="literate", domain_type="county", domain=k, est=v, reliability="ok")
             for k, v in counties.items()]
    return pd.DataFrame(rows).assign(wave=wave)


def test_wave_change_against_previous_wave(tmp_path):
    for w in (2023, 2024):
        p = WavePaths(w, tmp_path)
        p.spec.mkdir(parents=True)
        p.scoring.write_text("schema_version: 1\nrule: threshold_total\nparams: {cutoff: 70}\n", encoding="utf-8")
    prev = WavePaths(2023, tmp_path)
    prev.out.mkdir(parents=True)
    _estimates(2023, 0.15, {"鲤城区": 0.20, "德化县": 0.10}).to_csv(prev.processed("estimates.csv"), index=False)
    now = WavePaths(2024, tmp_path)
    ok = gates.wave_change_gate(now, _estimates(2024, 0.16, {"鲤城区": 0.22, "德化县": 0.12}), "literate", "全市",
                                0.05, 0.10)
    assert ok.status == "passed"
    r = gates.wave_change_gate(now, _estimates(2024, 0.16, {"鲤城区": 0.22, "德化县": 0.25}), "literate", "全市",
                               0.05, 0.10)
    assert r.status == "failed" and "德化县" in r.message and "+15.0" in r.message and "鲤城区" not in r.message
    city = gates.wave_change_gate(now, _estimates(2024, 0.21, {"鲤城区": 0.22}), "literate", "全市", 0.05, 0.10)
    assert city.status == "failed" and "全市" in city.message
    # a different scoring rule makes the shares incomparable: not evaluated, never a false alarm
    prev.scoring.write_text("schema_version: 1\nrule: all_dimensions\nparams: {}\n", encoding="utf-8")
    assert gates.wave_change_gate(now, _estimates(2024, 0.5, {}), "literate", "全市", 0.05, 0.1).status \
        == "not_evaluated"
    assert gates.wave_change_gate(WavePaths(2030, tmp_path), _estimates(2030, 0.5, {}), "literate", "全市",
                                  0.05, 0.1).status == "not_evaluated"


def _spec(tmp_path, gates_block) -> object:
    p = tmp_path / "estimands.yaml"
    p.write_text(yaml.safe_dump({"schema_version": 1, "gates": gates_block}, allow_unicode=True), encoding="utf-8")
    return p


@pytest.mark.parametrize("block, words", [
    ({"accept": [{"gate": "unscored_share"}]}, "reason"),
    ({"accept": [{"gate": "nonsense", "reason": "x"}]}, "nonsense"),
    ({"accept": [{"gate": "kish_deff", "reason": "a"}, {"gate": "kish_deff", "reason": "b"}]}, "twice"),
    ({"thresholds": {"kish": 3}}, "kish"),
    ({"thresholds": {"plausible_share": [0.5, 0.1]}}, "plausible_share"),
    ({"thresholds": {"unscored_share": -1}}, "positive"),
])
def test_gate_spec_errors(tmp_path, block, words):
    with pytest.raises(SpecError, match=words):
        gates.load_gate_spec(_spec(tmp_path, block))


def test_accepted_gate_keeps_its_reason(tmp_path):
    spec = gates.load_gate_spec(_spec(tmp_path, {"accept": [{"gate": "kish_deff", "reason": "县域样本不均衡"}],
                                                 "thresholds": {"kish_deff": 1.2}}))
    assert spec.thresholds["kish_deff"] == 1.2 and spec.thresholds["unscored_share"] == 0.05
    gates.enforce([gates.GateResult("kish_deff", "accepted", 2.0, 1.2, "", "县域样本不均衡")], 2024)
    with pytest.raises(GateError, match="kish_deff"):
        gates.enforce([gates.GateResult("kish_deff", "failed", 2.0, 1.2, "Kish")], 2024)


def _published(paths: WavePaths) -> list[str]:
    names = ("estimates.csv", "targets.csv", "sae.csv", "gates.json", "report")
    return [n for n in names if paths.processed(n).exists()]


def test_missing_codes_lost_in_a_resave_stop_the_run(demo_raw, tmp_path):
    paths = copy_wave(demo_raw, tmp_path)
    blank_missing_codes(paths)
    with pytest.raises(GateError) as err:
        run_through_estimate(paths)
    msg = str(err.value)
    assert "missing_codes_lost" in msg and "97" in msg and "unscored_share" in msg
    assert _published(paths) == []


def test_a_fifth_unscored_stops_the_run(demo_raw, tmp_path):
    paths = copy_wave(demo_raw, tmp_path)
    n = refuse_items(paths, 0.20, 8)
    with pytest.raises(GateError) as err:
        run_through_estimate(paths)
    msg = str(err.value)
    assert "unscored_share" in msg and "missing_codes_lost" not in msg
    share = float(msg.split("名受访者（")[1].split("%")[0]) / 100
    assert share == pytest.approx(n / 3900, abs=0.03)
    assert _published(paths) == []


def test_accepted_gate_is_published_with_its_reason(demo_raw, tmp_path):
    paths = copy_wave(demo_raw, tmp_path)
    refuse_items(paths, 0.20, 8)
    spec = yaml.safe_load(paths.estimands.read_text(encoding="utf-8"))
    reason = "第二部分前八题漏印，课题组决定照常发布"
    spec["gates"] = {"accept": [{"gate": "unscored_share", "reason": reason}]}
    paths.estimands.write_text(yaml.safe_dump(spec, allow_unicode=True, sort_keys=False), encoding="utf-8")
    run_all(paths)
    record = json.loads(paths.processed("gates.json").read_text(encoding="utf-8"))
    assert record["accepted"] == [{"gate": "unscored_share", "reason": reason}]
    manifest = json.loads((paths.report_dir / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["publication_gates"]["accepted"] == [{"gate": "unscored_share", "reason": reason}]
    assert manifest["publication_gates"]["status"]["unscored_share"] == "accepted"
    html = (paths.report_dir / "report.html").read_text(encoding="utf-8")
    quality = html[html.index("八、数据质量"):]
    assert reason in quality and "未通过，经说明后接受" in quality
