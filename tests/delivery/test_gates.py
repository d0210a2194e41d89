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


def _estimates(wave, city, counties, se=0.01, method="replicate"):
    """City and county shares; `se` one number for all or a dict by domain."""
    def s(d):
        return se.get(d, 0.01) if isinstance(se, dict) else se
    rows = [dict(estimand_id="literate", domain_type="overall", domain="全市", est=city, se=s("全市"),
                 reliability="ok", variance_method=method)]
    rows += [dict(estimand_id="literate", domain_type="county", domain=k, est=v, se=s(k), reliability="ok",
                  variance_method=method) for k, v in counties.items()]
    return pd.DataFrame(rows).assign(wave=wave)


def _two_waves(tmp_path, before):
    for w in (2023, 2024):
        p = WavePaths(w, tmp_path)
        p.spec.mkdir(parents=True)
        p.scoring.write_text("schema_version: 1\nrule: threshold_total\nparams: {cutoff: 70}\n", encoding="utf-8")
    prev = WavePaths(2023, tmp_path)
    prev.out.mkdir(parents=True)
    before.to_csv(prev.processed("estimates.csv"), index=False, encoding="utf-8-sig")
    return prev, WavePaths(2024, tmp_path)


def test_wave_change_by_hand(tmp_path):
    # City 15.0% (se 0.6 pt) → 19.0% (se 0.8 pt): diff = 4.0 pt, se(diff) = sqrt(0.6² + 0.8²) = 1.0 pt,
    # z · se(diff) = 3 × 1.0 = 3.0 pt < 4.0 pt and 4.0 pt > the city's practical minimum 3 pt: fails.
    # 德化县 10.0% (se 3 pt) → 18.0% (se 4 pt): diff = 8 pt, se(diff) = sqrt(9 + 16) = 5 pt,
    # 3 × 5 = 15 pt > 8 pt: within sampling error, passes although it exceeds the 5-pt minimum.
    # 鲤城区 20.0% (se 0.3 pt) → 24.0% (se 0.4 pt): diff 4 pt, se(diff) 0.5 pt, 3 × 0.5 = 1.5 pt < 4 pt,
    # but 4 pt < the county minimum 5 pt: passes (beyond sampling error, not of practical size).
    _, now = _two_waves(tmp_path, _estimates(2023, 0.15, {"鲤城区": 0.20, "德化县": 0.10},
                                             se={"全市": 0.006, "鲤城区": 0.003, "德化县": 0.03}))
    est = _estimates(2024, 0.19, {"鲤城区": 0.24, "德化县": 0.18}, se={"全市": 0.008, "鲤城区": 0.004, "德化县": 0.04})
    r = gates.wave_change_gate(now, est, "literate", "全市", 0.03, 0.05, 3.0)
    assert r.status == "failed"
    assert r.value["全市"]["se_diff"] == pytest.approx(0.010, rel=1e-6)
    assert r.value["德化县"]["se_diff"] == pytest.approx(0.050, rel=1e-6)
    assert r.value["鲤城区"]["diff"] == pytest.approx(0.04, rel=1e-6)
    # the message gives both estimates, the difference, its SE and the rule; only the city failed
    head = r.message.split("。")[0]
    assert all(w in head for w in ("全市", "15.0%", "19.0%", "+4.0", "1.0 个百分点", "3 倍标准误", "3.0 个百分点"))
    assert "德化县" not in head and "鲤城区" not in head
    assert "判定规则" in r.message and "独立样本" in r.message
    # a larger z (3 × 1.0 = 3.0 pt ≥ 4.0 fails only for z < 4): at z = 4.5 the city passes too
    assert gates.wave_change_gate(now, est, "literate", "全市", 0.03, 0.05, 4.5).status == "passed"
    # a practical minimum above the change: passes whatever the SE
    assert gates.wave_change_gate(now, est, "literate", "全市", 0.05, 0.05, 3.0).status == "passed"
    # one small SE is not enough when the other wave's is large:
    small = _estimates(2024, 0.15, {"德化县": 0.18}, se=0.008)
    assert gates.wave_change_gate(now, small, "literate", "全市", 0.03, 0.05, 3.0).status == "passed"  # the
    # previous 德化县 se is 3 pt: sqrt(3² + 0.8²) = 3.105 pt, 3 × 3.105 = 9.3 pt > 8 pt


def test_wave_change_uses_the_primary_variance_method(tmp_path):
    # the previous wave's table holds both methods; the comparison takes the one the current run lists first
    before = pd.concat([_estimates(2023, 0.15, {}, se=0.001, method="replicate"),
                        _estimates(2023, 0.15, {}, se=0.05, method="taylor")])
    _, now = _two_waves(tmp_path, before)
    r = gates.wave_change_gate(now, _estimates(2024, 0.19, {}, se=0.001, method="taylor"), "literate", "全市",
                               0.03, 0.05, 3.0)
    assert r.value["全市"]["se_diff"] == pytest.approx(np.hypot(0.05, 0.001), rel=1e-9) and r.status == "passed"
    r = gates.wave_change_gate(now, _estimates(2024, 0.19, {}, se=0.001), "literate", "全市", 0.03, 0.05, 3.0)
    assert r.status == "failed"


def test_wave_change_not_evaluated(tmp_path):
    prev, now = _two_waves(tmp_path, _estimates(2023, 0.15, {"鲤城区": 0.20}))
    # a different scoring rule makes the shares incomparable: not evaluated, never a false alarm
    prev.scoring.write_text("schema_version: 1\nrule: all_dimensions\nparams: {}\n", encoding="utf-8")
    assert gates.wave_change_gate(now, _estimates(2024, 0.5, {}), "literate", "全市", 0.05, 0.1).status \
        == "not_evaluated"
    assert gates.wave_change_gate(WavePaths(2030, tmp_path), _estimates(2030, 0.5, {}), "literate", "全市",
                                  0.05, 0.1).status == "not_evaluated"


def test_wave_change_threshold_in_spec(tmp_path):
    spec = gates.load_gate_spec(_spec(tmp_path, {"thresholds": {"wave_change_z": 2.576, "wave_change_city": 0.02}}))
    assert spec.thresholds["wave_change_z"] == 2.576 and spec.thresholds["wave_change_city"] == 0.02
    assert spec.thresholds["wave_change_county"] == gates.DEFAULTS["wave_change_county"]


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
