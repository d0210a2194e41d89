"""Publication gates: checks between estimation and anything published.

A gate looks at the run's inputs and results for signs that the numbers cannot be right: missing codes
lost in a re-save, too many unscored respondents, an implausible jump against the previous wave, weights
so variable that the estimates are unstable, or a share literate no survey of this population can give.
A gate that fails stops the estimate stage before estimates.csv is written, unless the wave's
estimands.yaml accepts it with a reason:

    gates:
      thresholds: {unscored_share: 0.08}          # optional overrides of DEFAULTS
      accept:
        - {gate: unscored_share, reason: 本轮第三部分题目因印刷错误整页缺失，经课题组决定照常发布}

Every gate's outcome (passed, failed, accepted, not evaluated, with its numbers) is written to gates.json,
which the report's data-quality section and manifest.json list.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from pipeline.errors import PipelineError, SpecError
from pipeline.instruments.load import read_yaml
from pipeline.paths import WavePaths
from pipeline.vocabulary import OVERALL_LABEL

GATES = ("missing_codes_lost", "unscored_share", "wave_change", "kish_deff", "plausible_share")
GATE_NAMES_ZH = {
    "missing_codes_lost": "缺失值代码丢失",
    "unscored_share": "无法计分的受访者比例",
    "wave_change": "与上一轮相比的变化幅度",
    "kish_deff": "最终权数的Kish设计效应",
    "plausible_share": "具备科学素质比例的合理范围",
}
# Defaults, overridable per wave (gates.thresholds). Shares are fractions of 1.
DEFAULTS: dict[str, Any] = {
    # blanks in the item columns above this share, with a declared missing code that never occurs,
    # mean the codes were probably lost (re-saved file): 不知道 would stop counting as a wrong answer
    "missing_codes_lost": 0.02,
    "unscored_share": 0.05,
    # a change of the share literate against the previous wave fails when it is both beyond sampling
    # error (|diff| > z · se(diff), the two waves independent samples) and larger than a practical
    # minimum (city; any county), so neither a small real change in a big sample nor a large noisy one
    # in a county of 600 stops publication. z = 3 keeps the chance of a false stop across the city and
    # its 12 counties near 3% (13 two-sided tests at 0.27% each).
    "wave_change_z": 3.0,
    "wave_change_city": 0.03,
    "wave_change_county": 0.05,
    # Kish deff = n·Σw² / (Σw)² of the final weights
    "kish_deff": 3.0,
    # the citywide share literate outside this range is not a result this survey can give
    "plausible_share": [0.02, 0.60],
}
STATUS = ("passed", "failed", "accepted", "not_evaluated")


class GateError(PipelineError):
    """One or more publication gates failed and the wave's spec does not accept them."""


@dataclass(frozen=True)
class GateResult:
    gate: str
    status: str  # passed | failed | accepted | not_evaluated
    value: Any  # the measured number(s)
    threshold: Any
    message: str  # Chinese: what was found and, when failed, how to proceed
    reason: str | None = None  # the acceptance reason from the spec


@dataclass(frozen=True)
class GateSpec:
    thresholds: dict[str, Any]
    accept: dict[str, str]  # gate → reason


def load_gate_spec(path: Path) -> GateSpec:
    """The `gates:` section of estimands.yaml (absent: defaults, nothing accepted)."""
    raw = read_yaml(path).get("gates") or {}
    if not isinstance(raw, dict):
        raise SpecError(f"{path}: gates must be a mapping with `thresholds:` and `accept:`.")
    unknown_keys = sorted(set(raw) - {"thresholds", "accept"})
    if unknown_keys:
        raise SpecError(f"{path}: gates: unknown key(s) {unknown_keys}; use thresholds and accept.")
    thresholds = dict(DEFAULTS)
    for k, v in (raw.get("thresholds") or {}).items():
        if k not in DEFAULTS:
            raise SpecError(f"{path}: gates.thresholds.{k} is not a gate threshold; use one of {sorted(DEFAULTS)}.")
        if k == "plausible_share":
            if not (isinstance(v, list) and len(v) == 2 and 0 <= float(v[0]) < float(v[1]) <= 1):
                raise SpecError(f"{path}: gates.thresholds.plausible_share must be [lowest, highest] between 0 and 1, "
                                f"found {v!r}.")
            v = [float(v[0]), float(v[1])]
        else:
            try:
                v = float(v)
            except (TypeError, ValueError):
                raise SpecError(f"{path}: gates.thresholds.{k} must be a number, found {v!r}.") from None
            if not v > 0:
                raise SpecError(f"{path}: gates.thresholds.{k} must be positive, found {v}.")
        thresholds[k] = v
    accept: dict[str, str] = {}
    for i, a in enumerate(raw.get("accept") or []):
        where = f"{path}: gates.accept[{i}]"
        if not isinstance(a, dict) or "gate" not in a:
            raise SpecError(f"{where}: each entry needs `gate:` and `reason:`, e.g. "
                            "{gate: unscored_share, reason: …}.")
        gate = str(a["gate"])
        if gate not in GATES:
            raise SpecError(f"{where}: gate {gate!r} is not one of {list(GATES)}.")
        reason = str(a.get("reason") or "").strip()
        if not reason:
            raise SpecError(f"{where}: accepting gate {gate!r} needs a `reason:` (it is printed in the report's "
                            "data-quality section).")
        if gate in accept:
            raise SpecError(f"{where}: gate {gate!r} is accepted twice; keep one entry.")
        accept[gate] = reason
    return GateSpec(thresholds, accept)


def _pct(x: float) -> str:
    return f"{100 * x:.1f}%"


def missing_codes_gate(ingest: dict | None, threshold: float) -> GateResult:
    usage = (ingest or {}).get("missing_code_usage")
    if not usage:
        return GateResult("missing_codes_lost", "not_evaluated", None, threshold,
                          "数据接收报告中没有缺失值代码的使用记录，未检查。")
    counts = {str(k): int(v) for k, v in usage["codes"].items()}
    blank = float(usage["blank_share"])
    absent = sorted(k for k, v in counts.items() if v == 0)
    value = {"codes": counts, "blank_share": blank}
    if absent and blank > threshold:
        return GateResult("missing_codes_lost", "failed", value, threshold,
                          f"声明的缺失值代码 {', '.join(absent)} 在题目列中一次也没有出现，而空白答案占 {_pct(blank)}"
                          f"（阈值 {_pct(threshold)}）。这通常说明文件另存时缺失值代码变成了空白：“不知道”不再按答错计，"
                          "拒答和跳过无法区分。请向调查公司索取保留原始缺失值代码（97/98/99）的文件；若确认本轮确实"
                          "没有这些代码，请在 estimands.yaml 的 gates.accept 中写明理由。")
    return GateResult("missing_codes_lost", "passed", value, threshold,
                      f"空白答案占 {_pct(blank)}；缺失值代码出现次数："
                      + "，".join(f"{k}：{v:,} 次" for k, v in sorted(counts.items())) + "。")


def unscored_gate(scored: np.ndarray, threshold: float) -> GateResult:
    n_un = int((~scored).sum())
    share = n_un / scored.size if scored.size else 0.0
    if share > threshold:
        return GateResult("unscored_share", "failed", share, threshold,
                          f"{n_un} 名受访者（{_pct(share)}）拒答或跳过的题目太多而无法计分，超过阈值 {_pct(threshold)}。"
                          "无法计分的人不进入比例的分母，比例因此可能严重偏高。请先用 `python -m pipeline check` "
                          "检查缺失值代码和空白答案，核对 scoring.yaml 的 max_missing_items；确认数据无误时，"
                          "在 estimands.yaml 的 gates.accept 中写明理由。")
    return GateResult("unscored_share", "passed", share, threshold, f"无法计分 {n_un} 人（{_pct(share)}）。")


def kish_gate(w: np.ndarray, threshold: float) -> GateResult:
    deff = float(w.size * np.sum(w * w) / np.sum(w) ** 2)
    if deff > threshold:
        return GateResult("kish_deff", "failed", deff, threshold,
                          f"最终权数的Kish设计效应为 {deff:.2f}，超过阈值 {threshold:g}：少数受访者的权数过大，"
                          "估计值不稳定。请查看 weighting_diagnostics.csv 的权数范围，检查入样概率、校准控制总数和"
                          "截尾设置；确认无误时在 estimands.yaml 的 gates.accept 中写明理由。")
    return GateResult("kish_deff", "passed", deff, threshold, f"Kish设计效应 {deff:.2f}。")


def plausible_gate(share: float | None, bounds: list[float]) -> GateResult:
    if share is None or not np.isfinite(share):
        return GateResult("plausible_share", "not_evaluated", None, bounds, f"{OVERALL_LABEL}具备科学素质比例没有估计值。")
    lo, hi = bounds
    if not lo <= share <= hi:
        return GateResult("plausible_share", "failed", share, bounds,
                          f"{OVERALL_LABEL}具备科学素质的比例估计为 {_pct(share)}，不在合理范围 {_pct(lo)}—{_pct(hi)} 之内"
                          "（2024年全国为15.37%）。请检查答案键（instrument.yaml 的 key）、计分规则和缺失值代码；"
                          "确认无误时在 estimands.yaml 的 gates.accept 中写明理由。")
    return GateResult("plausible_share", "passed", share, bounds, f"{OVERALL_LABEL}比例 {_pct(share)}。")


def _levels(est: pd.DataFrame, estimand: str, method: str | None = None) -> dict[tuple[str, str], tuple[float, float]]:
    """(est, se) of the share per (domain_type, domain), city and counties, under `method` when the table
    has it (the primary variance method), else under the first method the table lists."""
    rows = est[(est["estimand_id"] == estimand) & est["domain_type"].isin(["overall", "county"])
               & (est["reliability"].astype(str) != "suppressed")]
    if "variance_method" in rows.columns and len(rows):
        have = list(dict.fromkeys(rows["variance_method"].astype(str)))
        rows = rows[rows["variance_method"].astype(str) == (method if method in have else have[0])]
    se = rows["se"] if "se" in rows.columns else pd.Series(np.nan, index=rows.index)
    return {(str(t), str(d)): (float(v), float(s)) for t, d, v, s in zip(
        rows["domain_type"], rows["domain"], rows["est"], se, strict=True) if np.isfinite(v)}


def _points(x: float) -> str:
    return f"{100 * x:.1f} 个百分点"


def _rule(paths: WavePaths) -> tuple | None:
    if not paths.scoring.exists():
        return None
    raw = read_yaml(paths.scoring)
    return raw.get("rule"), json.dumps(raw.get("params") or {}, sort_keys=True)


def wave_change_gate(paths: WavePaths, est: pd.DataFrame, estimand: str, overall_label: str,
                     city: float, county: float, z: float = DEFAULTS["wave_change_z"],
                     method: str | None = None) -> GateResult:
    """The share literate against the previous wave's estimates.csv, city and each county. The two waves
    are independent samples, so se(diff) = sqrt(se_now² + se_before²); a domain fails when
    |diff| > z · se(diff) and |diff| > its practical minimum (`city` or `county`)."""
    thr = {"z": z, "city": city, "county": county}
    prev = WavePaths(paths.wave - 1, paths.root)
    prev_file = prev.processed("estimates.csv")
    if not prev_file.exists():
        return GateResult("wave_change", "not_evaluated", None, thr,
                          f"没有上一轮（{prev.wave}年）的估计结果，未比较。")
    if _rule(prev) != _rule(paths):
        return GateResult("wave_change", "not_evaluated", None, thr,
                          f"{prev.wave}年与{paths.wave}年的计分规则不同，比例不可直接比较，未比较。")
    if method is None and "variance_method" in est.columns and len(est):
        method = str(est["variance_method"].iloc[0])  # a caller without the design record: estimates list it first
    before = _levels(pd.read_csv(prev_file, encoding="utf-8-sig"), estimand, method)
    now = _levels(est, estimand, method)
    moves, no_se = [], []
    compared: dict[str, dict[str, float]] = {}
    for key, (v, se) in sorted(now.items()):
        if key not in before:
            continue
        v0, se0 = before[key]
        d = v - v0
        se_d = float(np.hypot(se, se0))
        limit = city if key[0] == "overall" else county
        compared[key[1]] = {"est": v, "est_before": v0, "diff": d, "se_diff": se_d if np.isfinite(se_d) else None}
        if not np.isfinite(se_d):
            no_se.append(key[1])
            continue
        if abs(d) > z * se_d and abs(d) > limit:
            moves.append(f"{key[1]} 从 {_pct(v0)} 变为 {_pct(v)}（差 {100 * d:+.1f} 个百分点，差的标准误 "
                         f"{_points(se_d)}；|差| 超过 {z:g} 倍标准误 {_points(z * se_d)}，也超过实际意义下限 "
                         f"{_points(limit)}）")
    rule = (f"判定规则：|差| > {z:g} × 差的标准误（两轮为独立样本，标准误 = √(本轮标准误² + 上轮标准误²)），"
            f"且 |差| > {OVERALL_LABEL} {_points(city)}、各县（市、区）{_points(county)}")
    skipped = f"没有标准误、未比较：{'、'.join(no_se)}。" if no_se else ""
    if moves:
        return GateResult("wave_change", "failed", compared, thr,
                          f"与{prev.wave}年相比变化过大：" + "；".join(moves) + f"。{rule}。{skipped}一年内这样的变化"
                          "极少是真实的：请核对两轮的题目、答案键、计分和加权是否一致；变化有据可查时在 estimands.yaml "
                          "的 gates.accept 中写明理由。")
    return GateResult("wave_change", "passed", compared, thr,
                      f"与{prev.wave}年相比，{OVERALL_LABEL}及各县（市、区）的变化都在抽样误差或实际意义下限之内（{rule}）。{skipped}")


def evaluate(paths: WavePaths, frame: pd.DataFrame, est: pd.DataFrame, estimand: str,
             overall_label: str, spec: GateSpec, weight: str, primary: str | None = None) -> list[GateResult]:
    """Every gate on this run, with acceptances applied (pure apart from reading the run's records).
    `weight`: the analysis weight column and `primary` the published variance method (the design record's)."""
    t = spec.thresholds
    ingest_file = paths.processed("ingest_report.json")
    ingest = json.loads(ingest_file.read_text(encoding="utf-8")) if ingest_file.exists() else None
    overall = est[(est["estimand_id"] == estimand) & (est["domain_type"] == "overall")]
    share = float(overall["est"].iloc[0]) if len(overall) else None
    scored = frame["scored"].fillna(False).astype(bool).to_numpy() if "scored" in frame.columns \
        else frame[estimand].notna().to_numpy()
    results = [
        missing_codes_gate(ingest, float(t["missing_codes_lost"])),
        unscored_gate(scored, float(t["unscored_share"])),
        wave_change_gate(paths, est, estimand, overall_label, float(t["wave_change_city"]),
                         float(t["wave_change_county"]), float(t["wave_change_z"]), primary),
        kish_gate(frame[weight].to_numpy(float), float(t["kish_deff"])),
        plausible_gate(share, list(t["plausible_share"])),
    ]
    out = []
    for r in results:
        if r.status == "failed" and r.gate in spec.accept:
            r = GateResult(r.gate, "accepted", r.value, r.threshold, r.message, spec.accept[r.gate])
        out.append(r)
    return out


def enforce(results: list[GateResult], wave: int) -> None:
    """Stop with every failed gate in one message."""
    failed = [r for r in results if r.status == "failed"]
    if not failed:
        return
    lines = [f"{wave}年的结果未通过 {len(failed)} 项发布检查，估计结果没有写出，报告不会生成："]
    for r in failed:
        lines.append(f"  [{r.gate} {GATE_NAMES_ZH[r.gate]}] {r.message}")
    lines.append(f"  接受某项检查须在 survey_instruments/{wave}/estimands.yaml 中写明：gates: {{accept: "
                 "[{gate: <检查代码>, reason: <理由>}]}，理由会写入报告的数据质量部分和 manifest.json。")
    raise GateError("\n".join(lines))


def as_json(results: list[GateResult]) -> dict:
    """gates.json: each gate with its Chinese name, so the report takes the name from the record."""
    return {"gates": [{**asdict(r), "name_zh": GATE_NAMES_ZH[r.gate]} for r in results],
            "accepted": [{"gate": r.gate, "reason": r.reason} for r in results if r.status == "accepted"]}
