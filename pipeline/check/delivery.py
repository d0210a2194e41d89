"""Every problem of a delivery against its wave's spec, found in one pass and written nowhere.

Each finding says how serious it is: `stop` (a run would stop: ingest, weighting or a publication gate),
`quarantine` (records would be set aside) or `note` (worth knowing, the run goes on). Messages name the
file, the column and the numbers, never a respondent's value of an identifier column.
"""

from __future__ import annotations

import difflib
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pandas as pd

from pipeline.errors import PipelineError
from pipeline.estimation import gates
from pipeline.ingest.answers import REASONS, reasons_and_values, with_one_column_answers
from pipeline.ingest.columns import numeric, text
from pipeline.ingest.missing_usage import item_blank_shares, missing_code_usage
from pipeline.ingest.readers import check_decoded_text, read_raw, verify_checksum
from pipeline.instruments import load_instrument, load_scoring
from pipeline.instruments.delivery import weight_instead_of_probabilities
from pipeline.instruments.model import Instrument
from pipeline.paths import WavePaths

SEVERITIES = ("stop", "quarantine", "note")
SEVERITY_ZH = {"stop": "会中止运行", "quarantine": "记录将被隔离", "note": "提示"}
ROLE_LABELS = {"questionnaire_id": "问卷编号", "interviewer_id": "访问员编号", "start_time": "访问开始时间",
               "end_time": "访问结束时间", "p_psu": "乡镇（街道）入样概率", "p_ssu": "村（居）入样概率",
               "p_hh": "住户入样概率", "design_weight": "设计权数", "final_weight": "最终权数"}
BLANK_NOTE = 0.05  # an item with more blank answers than this is listed by name


@dataclass(frozen=True)
class Problem:
    severity: str  # stop | quarantine | note
    topic: str  # what part of the delivery: spec, file, columns, codes, missing, contacts, frame, controls
    message: str


class Findings:
    def __init__(self) -> None:
        self.items: list[Problem] = []

    def add(self, severity: str, topic: str, message: str) -> None:
        self.items.append(Problem(severity, topic, message))

    def guard(self, severity: str, topic: str, step: Callable[[], object]):
        """Run one check step; a PipelineError becomes a finding instead of ending the check."""
        try:
            return step()
        except PipelineError as err:
            self.add(severity, topic, str(err))
            return None


def _label_matches(label: str, labels: dict[str, str], limit: int = 3) -> list[str]:
    if not label:
        return []
    scored = sorted(((difflib.SequenceMatcher(None, label, lab).ratio(), col) for col, lab in labels.items() if lab),
                    key=lambda t: (-t[0], t[1]))
    return [col for r, col in scored[:limit] if r >= 0.4]


def needed_columns(inst: Instrument) -> list[tuple[str, str]]:
    """(raw column, what it is) for every column a run reads."""
    need = [(c, ROLE_LABELS.get(role, role)) for role, c in inst.admin]
    need += [(d.column, d.label_zh or d.field) for d in inst.demographics]
    for it in inst.items:
        for c in it.delivered_columns:
            need.append((c, f"{it.id} {it.text_zh}"))
    return need


def check_columns(f: Findings, data: pd.DataFrame, labels: dict[str, str], inst: Instrument, file: str) -> None:
    have = list(data.columns)
    need = needed_columns(inst)
    claimed = {c for c, _ in need} | {i.column for i in inst.identifiers} | {
        c for it in inst.items for c in (*it.delivered_columns, *it.raw_columns)}
    spare = {c: labels.get(c, "") for c in have if c not in claimed}
    for col, what in need:
        if col in data.columns:
            continue
        by_name = difflib.get_close_matches(col, have, n=3, cutoff=0.5)
        by_label = _label_matches(what.split(" ", 1)[-1], spare)
        hint = []
        if by_name:
            hint.append("名称最接近：" + "、".join(f"{c}（{labels.get(c, '') or '无标签'}）" for c in by_name))
        if by_label:
            hint.append("标签最接近：" + "、".join(f"{c}（{labels.get(c, '')}）" for c in by_label))
        f.add("stop", "columns", f"{file} 缺少规格要求的列 {col}（{what[:40]}）。" + ("；".join(hint) + "。" if hint else
              "文件中没有名称或标签相近的列。") + "请在 instrument.yaml 中改为实际的列名，或向调查公司索取。")
    for col in have:
        if col not in claimed:
            f.add("note", "columns", f"{file} 的列 {col}（{labels.get(col, '') or '无标签'}）不属于规格中的任何题目、人口学"
                  "变量、管理或设计变量，运行时将被忽略；若它是直接身份信息，请列入 identifiers。")
    for col, mode in weight_instead_of_probabilities(inst.admin, have, spare):
        f.add("note", "columns", f"{file} 没有规格要求的三阶段入样概率，但有一列 {col}（{labels.get(col, '') or '无标签'}）"
              f"像是权数：若本轮交付给的是{'调查公司的最终权数' if mode == 'final_weight' else '设计权数'}而不是入样概率，"
              f"请在 design.yaml 的 delivery: 中声明 mode: {mode}，并在 instrument.yaml 的 design_columns 中只写 "
              f"{mode}: {col}（survey_instruments/README.md，“Delivery modes”）。")


def _frequencies(values: np.ndarray, limit: int = 8) -> str:
    u, n = np.unique(values, return_counts=True)
    order = np.argsort(-n, kind="stable")[:limit]
    return "，".join(f"{u[i]:g}（{n[i]} 次）" for i in order) + ("等" if len(u) > limit else "")


def check_codes(f: Findings, data: pd.DataFrame, num: dict[str, np.ndarray], inst: Instrument, file: str) -> None:
    miss = [float(m.code) for m in inst.missing_codes]
    targets: list[tuple[str, str, list[float], str]] = []
    for d in inst.demographics:
        if d.field == "county":
            targets.append((d.column, d.label_zh, [float(c.raw) for c in inst.counties], "unknown_area"))
        elif d.codes:
            targets.append((d.column, d.label_zh, [float(k) for k, _ in d.codes], "code_outside_codebook"))
    for it in inst.items:
        allowed = [0.0, 1.0] if it.type == "multiple" else [float(c) for c in it.option_codes]
        for c in it.raw_columns:
            targets.append((c, it.id, allowed + miss, "code_outside_codebook"))
    for col, what, allowed, reason in targets:
        if col not in num:
            continue
        v = num[col]
        bad = ~np.isin(v, allowed) & ~np.isnan(v)
        if bad.any():
            f.add("quarantine", "codes", f"{file} 列 {col}（{what}）有 {int(bad.sum())} 条记录的取值不在编码表内："
                  f"{_frequencies(v[bad])}。这些记录会被隔离（{reason}）；请与调查公司核对，或把代码补入 "
                  "instrument.yaml。")
        not_number = np.isnan(v) & data[col].notna().to_numpy() & ~pd.api.types.is_numeric_dtype(data[col])
        if not_number.any():
            f.add("quarantine", "codes", f"{file} 列 {col}（{what}）有 {int(not_number.sum())} 个不是数字的取值。")


def check_missing(f: Findings, num: dict[str, np.ndarray], inst: Instrument, paths: WavePaths, file: str,
                  thresholds: dict) -> None:
    usage = missing_code_usage(num, inst)
    lost = gates.missing_codes_gate({"missing_code_usage": usage}, float(thresholds["missing_codes_lost"]))
    if lost.status == "failed":
        f.add("stop", "missing", f"{file}：{lost.message}")
    shares = item_blank_shares(num, inst)
    high = {k: v for k, v in shares.items() if v > BLANK_NOTE}
    overall = usage["blank_share"]
    f.add("note", "missing", f"{file} 各题空白答案的比例：平均 {100 * overall:.1f}%，最高 "
          f"{100 * max(shares.values(), default=0):.1f}%" + (
              "；超过 5% 的题目：" + "，".join(f"{k} {100 * v:.1f}%" for k, v in sorted(high.items())) if high else "")
          + "。")
    if not paths.scoring.exists():
        return
    rule = load_scoring(paths.scoring)
    n = len(next(iter(num.values())))
    reason, _ = reasons_and_values(num, inst, n)
    n_missing = (reason >= REASONS.index("refused")).sum(axis=1)
    unscored = n_missing > rule.max_missing_items
    if rule.max_missing_share is not None:
        unscored |= n_missing > rule.max_missing_share * len(inst.items)
    share = float(unscored.mean()) if n else 0.0
    if share > float(thresholds["unscored_share"]):
        f.add("stop", "missing", f"{file}：{int(unscored.sum())} 条记录（{100 * share:.1f}%）拒答或跳过的题目超过 "
              f"scoring.yaml 允许的 {rule.max_missing_items} 题，无法计分，超过发布检查的阈值 "
              f"{100 * float(thresholds['unscored_share']):.0f}%：运行会在发布前停止。")


def check_admin(f: Findings, data: pd.DataFrame, inst: Instrument, file: str) -> None:
    adm = dict(inst.admin)
    col = adm.get("questionnaire_id")
    if col in data.columns:
        qid = pd.Series(text(data[col]))
        if qid.isna().any():
            f.add("quarantine", "records", f"{file} 有 {int(qid.isna().sum())} 条记录没有问卷编号（列 {col}），会被隔离。")
        dup = qid.dropna().duplicated(keep=False)
        if dup.any():
            f.add("quarantine", "records", f"{file} 有 {int(dup.sum())} 条记录的问卷编号重复（列 {col}）：内容相同的保留一条，"
                  "内容不同的全部隔离。")
    for role in ("p_psu", "p_ssu", "p_hh", "design_weight", "final_weight"):
        col = adm.get(role)
        if col not in data.columns:
            continue
        v = numeric(data[col])
        bad = ~np.isfinite(v) | (v <= 0) | ((v > 1) if role.startswith("p_") else False)
        if bad.any():
            f.add("quarantine", "records", f"{file} 列 {col}（{ROLE_LABELS[role]}）有 {int(bad.sum())} 条记录的取值"
                  + ("不在 (0, 1] 之内" if role.startswith("p_") else "不是正数") + "，会被隔离（invalid_design_value）。")
    times = [adm.get(r) for r in ("start_time", "end_time")]
    if all(c in data.columns for c in times):
        bad = pd.to_datetime(data[times[0]], errors="coerce").isna() | pd.to_datetime(data[times[1]], errors="coerce").isna()
        if bad.all():
            f.add("stop", "columns", f"{file} 的访问时间列 {times[0]}、{times[1]} 全部为空或不是时间：若交付数据没有访问时间，"
                  "请在 design.yaml 中声明 delivery.interview_times: false。")


def check_contacts_frame_controls(f: Findings, paths: WavePaths, inst: Instrument | None) -> None:
    from pipeline.ingest.contacts import read_contacts
    from pipeline.instruments.delivery import check_instrument
    from pipeline.survey_design import load_delivery, load_design_spec
    from pipeline.weighting.controls import read_controls
    from pipeline.weighting.modes import read_response_counts

    delivery = f.guard("stop", "spec", lambda: load_delivery(paths.design))
    if delivery is not None and inst is not None:
        adm = dict(inst.admin)
        f.guard("stop", "spec", lambda: check_instrument(
            delivery, [r for r in adm if r in ("p_psu", "p_ssu", "p_hh", "design_weight", "final_weight")],
            [r for r in adm if r in ("start_time", "end_time")], str(paths.instrument)))
    if delivery is None or delivery.contacts:
        f.guard("stop", "contacts", lambda: read_contacts(paths.contacts_raw))
    elif paths.contacts_raw.exists():
        f.add("note", "contacts", f"{paths.contacts_raw} 存在，但 design.yaml 声明交付方式为 {delivery.mode}：联系记录表不会被使用。")
    if not paths.frame.exists():
        f.add("note", "frame", f"{paths.frame} 不存在：乡镇（街道）和村（居）代码不会与抽样框核对。")
    else:
        frame = pd.read_csv(paths.frame, dtype=str, encoding="utf-8-sig")
        lack = [c for c in ("county_code", "township", "village") if c not in frame.columns]
        if lack:
            f.add("stop", "frame", f"{paths.frame} 缺少列 {lack}（现有 {list(frame.columns)}）。")
    spec = f.guard("stop", "spec", lambda: load_design_spec(paths.design))
    if spec is None:
        return
    for table in spec.controls.values():
        f.guard("stop", "controls", lambda t=table: read_controls(paths.controls, t))
    if delivery is not None and delivery.response_table:
        f.guard("stop", "contacts", lambda: read_response_counts(paths.raw / delivery.response_table, spec.nr_classes))


def check_delivery(paths: WavePaths) -> list[Problem]:
    f = Findings()
    inst = f.guard("stop", "spec", lambda: load_instrument(paths.instrument))
    if inst is None:
        return f.items
    src = paths.raw / inst.source_file
    raw = f.guard("stop", "file", lambda: read_raw(src, inst.encoding, skip=[i.column for i in inst.identifiers],
                                                   check_text=False))
    if raw is None:
        check_contacts_frame_controls(f, paths, inst)
        return f.items
    file = src.name
    f.guard("stop", "file", lambda: verify_checksum(src, raw.sha256, paths.checksums))
    f.guard("stop", "encoding", lambda: check_decoded_text(src, raw.data, raw.encoding, raw.column_labels, raw.value_labels))
    data = with_one_column_answers(raw.data, inst)
    check_columns(f, data, raw.column_labels, inst, file)
    coded = [d.column for d in inst.demographics if d.codes or d.field == "county"]
    coded += [c for it in inst.items for c in it.raw_columns]
    num = {c: numeric(data[c]) for c in dict.fromkeys(coded) if c in data.columns}
    check_codes(f, data, num, inst, file)
    thresholds = gates.load_gate_spec(paths.estimands).thresholds if paths.estimands.exists() else gates.DEFAULTS
    items_present = all(c in num for it in inst.items for c in it.raw_columns)
    if items_present:
        check_missing(f, num, inst, paths, file, thresholds)
    check_admin(f, data, inst, file)
    check_contacts_frame_controls(f, paths, inst)
    return f.items
