"""Ingest: the raw delivery → identity-free, typed respondents and responses, with every record that
was not accepted accounted for in quarantine.csv. Rows read = accepted + quarantined, always."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace

import numpy as np
import pandas as pd

from pipeline import stages, tableio
from pipeline.errors import InputError
from pipeline.ingest import checks
from pipeline.ingest.answers import (
    REASONS,
    option_masks,
    reasons_and_values,
    take_rows,
    with_one_column_answers,
)
from pipeline.ingest.columns import labelled, numeric, text, text_column
from pipeline.ingest.contacts import contacts_table, read_contacts
from pipeline.ingest.delivered import design_values, interview_times, weight_values
from pipeline.ingest.design import design_units
from pipeline.ingest.identities import drop_identifiers, link_secret, pseudonymise
from pipeline.ingest.missing_usage import missing_code_usage
from pipeline.ingest.readers import read_raw, verify_checksum
from pipeline.instruments import load_instrument
from pipeline.instruments.delivery import Delivery, check_instrument, weight_instead_of_probabilities
from pipeline.instruments.model import Instrument
from pipeline.paths import WavePaths
from pipeline.progress import Laps, Timer, log
from pipeline.schemas import RESPONSES_METADATA, responses_frame
from pipeline.survey_design import load_delivery

AGE_BANDS = ("18-29", "30-39", "40-49", "50-59", "60-69")
KEY_GROUPS = ("is_farmer", "is_worker", "is_elderly", "is_official")


@dataclass(frozen=True)
class IngestResult:
    rows_read: int
    accepted: int
    quarantined: int
    by_reason: dict
    seconds: float

    def summary(self) -> str:
        from pipeline.vocabulary import CHECK_LABELS

        reasons = "，".join(f"{CHECK_LABELS.get(k, k)} {v}" for k, v in sorted(self.by_reason.items()))
        return (f"读入 {self.rows_read} 条记录 = 接收 {self.accepted} 条 + 隔离 {self.quarantined} 条"
                f"{'（' + reasons + '）' if reasons else ''}")


def _required_columns(data: pd.DataFrame, inst: Instrument, file: str, labels: dict[str, str] | None = None) -> None:
    """A file of the wrong layout stops here; `labels` (the file's variable labels) let the message
    recognise a weight whose name says nothing (ZQZ, 最终权数)."""
    need = [c for _, c in inst.admin] + [d.column for d in inst.demographics]
    need += [c for it in inst.items for c in it.delivered_columns]
    missing = [c for c in need if c not in data.columns]
    if missing:
        have = [c for c in data.columns]
        weights = weight_instead_of_probabilities(inst.admin, have, {c: (labels or {}).get(c) or ""
                                                                     for c in have if c not in need})
        mode = (f" The file has no stage probabilities but a column that looks like a weight ({weights[0][0]}): if "
                f"the delivery gives a weight instead, declare `delivery: mode: {weights[0][1]}` in design.yaml and "
                f"`design_columns: {{{weights[0][1]}: {weights[0][0]}}}` in instrument.yaml (survey_instruments/"
                "README.md, Delivery modes)." if weights else "")
        raise InputError(
            f"{file}: the instrument needs columns {missing[:12]}{' …' if len(missing) > 12 else ''} "
            f"({len(missing)} missing) that the file does not have. Available: {have[:40]}"
            f"{' …' if len(have) > 40 else ''}. The file and survey_instruments/<wave>/instrument.yaml do not "
            "match: fix the column names in the instrument or ask fieldwork for the agreed layout; "
            f"`python -m pipeline check --wave <wave>` names the columns closest by name or label.{mode}")


def _quiet(_message: str) -> None:
    pass


@dataclass(frozen=True)
class Delivered:
    """What a delivery holds, as read: the survey file's records and the side tables."""

    data: pd.DataFrame  # the survey file's records (any identifier column left in is dropped first)
    file: str  # the survey file's name, for messages
    sha256: str
    encoding: str | None
    contacts: pd.DataFrame | None = None  # the contact sheet, when the delivery mode has one
    frame: pd.DataFrame | None = None  # the sampling frame's township and village codes, when delivered
    contacts_file: str = "contacts.csv"


@dataclass(frozen=True)
class Ingested:
    """Everything ingest writes, in memory: the stage tables and the report (ingest_report.json without
    the source file's path, which only the caller knows)."""

    respondents: pd.DataFrame
    responses: pd.DataFrame
    contacts: pd.DataFrame | None
    quarantine: pd.DataFrame
    report: dict

    @property
    def by_reason(self) -> dict:
        return self.report["quarantined_by_reason"]


def run_ingest(paths: WavePaths, progress: bool = True) -> IngestResult:
    """Read the delivery, ingest it, and commit every output or none (the make target last)."""
    timer = Timer()
    lap = Laps(enabled=progress)
    stages.begin("ingest", paths)
    inst = load_instrument(paths.instrument)
    delivery = load_delivery(paths.design)
    adm = dict(inst.admin)
    check_instrument(delivery, [r for r in adm if r in ("p_psu", "p_ssu", "p_hh", "design_weight", "final_weight")],
                     [r for r in adm if r in ("start_time", "end_time")], str(paths.instrument))
    src = paths.raw / inst.source_file
    if progress and src.exists():  # the read is most of the stage: say so before it starts
        log(f"   reading {src.name} ({src.stat().st_size / 2**20:,.1f} MiB) …")
    raw = read_raw(src, inst.encoding, skip=[i.column for i in inst.identifiers])
    verify_checksum(src, raw.sha256, paths.checksums)
    data = with_one_column_answers(drop_identifiers(raw.data, inst), inst)
    delivered = Delivered(data, src.name, raw.sha256, raw.encoding, contacts_file=paths.contacts_raw.name)
    labels = raw.column_labels
    del raw, data
    _required_columns(delivered.data, inst, delivered.file, labels)  # a file of the wrong layout stops before the side tables
    lap(f"read {len(delivered.data)} records from {src.name} (encoding {delivered.encoding or 'from file'}); "
        "identifiers dropped")
    # every fatal input is found before anything is written
    contacts_raw = read_contacts(paths.contacts_raw) if delivery.contacts else None
    frame = None
    if paths.frame.exists():
        frame = pd.read_csv(paths.frame, dtype=str, encoding="utf-8-sig")
    else:
        log(f"   warning: {paths.frame} is absent, so township and village codes are not checked against the frame")
    if contacts_raw is not None:
        lap(f"read the contact sheet ({len(contacts_raw)} households)")
    else:
        log(f"   delivery mode {delivery.mode}: no contact sheet is read")
    delivered = replace(delivered, contacts=contacts_raw, frame=frame)
    out = ingest_delivery(delivered, inst, delivery, paths.wave, link_secret(), lap, log)
    del delivered, contacts_raw, frame
    report = {**out.report, "source_file": str(src.relative_to(paths.root)) if src.is_relative_to(paths.root) else str(src)}
    with tableio.stage_commit("ingest", stages.target("ingest", paths)):
        tableio.write_tables([
            (out.responses, paths.processed("responses.parquet"), "responses",
             {**RESPONSES_METADATA, "items": [it.id for it in inst.items]}),
            (out.respondents, paths.processed("respondents.parquet"), "respondents", None),
            *([] if out.contacts is None else [(out.contacts, paths.processed("contacts.parquet"), "contacts", None)]),
        ])
        lap(f"wrote respondents.parquet ({len(out.respondents)} rows), "
            f"{'' if out.contacts is None else f'contacts.parquet ({len(out.contacts)} rows), '}"
            f"responses.parquet ({len(out.responses)} rows × {len(inst.items)} items)")
        tableio.write_table(out.quarantine, paths.processed("quarantine.csv"), "quarantine")
        tableio.write_json(report, paths.processed("ingest_report.json"))
    if out.contacts is None:  # a contacts.parquet of an earlier full delivery would otherwise pass for this one's
        paths.processed("contacts.parquet").unlink(missing_ok=True)
    return IngestResult(report["rows_read"], report["accepted"], report["quarantined"], out.by_reason, timer.seconds)


def ingest_delivery(delivered: Delivered, inst: Instrument, delivery: Delivery, wave: int, secret: bytes,
                    lap: Callable[[str], None] = _quiet, warn: Callable[[str], None] = _quiet) -> Ingested:
    """The delivery → identity-free respondents, responses and contacts, the quarantine and the report,
    with no file read or written: every problem that stops the stage is an InputError raised here, before
    the caller writes anything. `secret` keys the pseudonyms; `lap` hears each step as it ends, `warn`
    what a reader of the run must know."""
    data = drop_identifiers(delivered.data, inst)  # before anything else, whoever the caller is
    file, frame, contacts_raw = delivered.file, delivered.frame, delivered.contacts
    _required_columns(data, inst, file)
    n_read = len(data)
    if not delivery.interview_times:
        warn("   warning: the delivery has no interview times (design.yaml delivery.interview_times: false): "
            "the duration check is skipped")
    adm = dict(inst.admin)
    rows = np.arange(1, n_read + 1)
    demo = {d.field: d for d in inst.demographics}
    q: list[tuple[int, int, str, str]] = []

    def quarantine(mask: np.ndarray, reason: str, detail) -> None:
        """detail: an array of messages, or a function of the row index (built only for failing rows)."""
        for i in np.flatnonzero(mask):
            q.append((int(rows[i]), int(i), reason, str(detail(i) if callable(detail) else detail[i])))

    qid_col = adm["questionnaire_id"]
    qid = text(data[qid_col])
    no_id = pd.isna(qid)
    quarantine(no_id, "missing_id", lambda i: (
        f"{file} row {rows[i]}: column {qid_col} (questionnaire number) is empty, so the record cannot be told "
        "apart from others or linked to its household on the contact sheet. Ask fieldwork for the number."))
    # Identical copies: keep the first, account for the rest. Conflicting ids: all rows out. Only rows
    # whose questionnaire number repeats are compared in full, so a clean file costs one hash of one column.
    repeated = pd.Series(qid).duplicated(keep=False).to_numpy() & ~no_id
    identical = np.zeros(n_read, dtype=bool)
    first_of = rows.copy()
    if repeated.any():
        sub = data[repeated]
        identical[repeated] = sub.duplicated(keep="first").to_numpy()
        h = pd.util.hash_pandas_object(sub, index=False).to_numpy()
        first_of[repeated] = pd.Series(rows[repeated]).groupby(h).transform("first").to_numpy()
    quarantine(identical, "duplicate_identical", lambda i: (
        f"{file} row {rows[i]}: identical copy of row {first_of[i]} (questionnaire {qid_col}={qid[i]}); "
        f"kept row {first_of[i]} once."))
    live = ~identical & ~no_id
    dup = pd.Series(qid).where(live).duplicated(keep=False).to_numpy() & live
    quarantine(dup, "duplicate_id", lambda i: (
        f"{file} row {rows[i]}: questionnaire number {qid_col}={qid[i]} is used by several different records; all "
        "are set aside. Ask fieldwork which interview the number belongs to and renumber the other."))

    fails_any = identical | dup | no_id
    coded = [d.column for d in inst.demographics if d.codes] + [c for it in inst.items for c in it.raw_columns]
    num = {c: numeric(data[c]) for c in dict.fromkeys(coded)}
    findings: list[checks.Finding] = []
    findings.append(checks.codebook(data, num, inst, rows, file))
    county_raw = numeric(data[demo["county"].column])
    township, village = data[demo["township"].column].astype(str), data[demo["village"].column].astype(str)
    area, county_idx = checks.area(county_raw, township, village, inst, frame, rows, file,
                                   (demo["county"].column, demo["township"].column, demo["village"].column))
    findings.append(area)
    start, end = interview_times(data, adm)
    age, age_col, given = checks.age_at_interview(data, demo, start, wave)
    findings.append(checks.age_range(age, rows, file, age_col, given=given))
    p, delivered_w = design_values(data, adm, delivery)
    n_adults = numeric(data[demo["n_adults"].column])
    if delivered_w:
        # the adults count is still checked; the delivered weight has its own check
        findings.append(checks.design_values({}, n_adults, rows, file, {"n_adults": demo["n_adults"].column}))
        for w in delivered_w.values():
            findings.append(weight_values(w, rows, file, adm[delivery.design_roles[0]]))
    else:
        findings.append(checks.design_values(p, n_adults, rows, file, {**adm, "n_adults": demo["n_adults"].column}))
    ranged = {d.column: numeric(data[d.column]) for d in inst.demographics
              if d.range is not None or d.field in checks.INTEGER_FIELDS}
    findings.append(checks.declared_ranges(ranged, inst, rows, file))
    minutes = ((end - start).dt.total_seconds() / 60.0).to_numpy(dtype=float)
    spec = inst.check("short_interview")
    skipped = ["short_interview"] if spec is not None and not delivery.interview_times else []
    if spec is not None and spec.threshold is not None and delivery.interview_times:
        findings.append(checks.short_interview(minutes, spec.threshold, rows, file, (adm["start_time"], adm["end_time"])))
    # a delivery without interview times says so above; otherwise, count the records the check cannot judge
    untimed = int(np.isnan(minutes).sum()) if delivery.interview_times else 0
    if untimed:  # the duration check cannot judge these: say so rather than pass them silently
        warn(f"   warning: {untimed} of {n_read} records lack a start or end time ({adm['start_time']}, "
            f"{adm['end_time']}), so their interview duration is not checked")
    reason, value = reasons_and_values(num, inst, n_read)
    usage = missing_code_usage(num, inst)
    del num
    spec = inst.check("straightlining")
    if spec is not None and spec.threshold is not None:
        singles = [j for j, it in enumerate(inst.items) if it.type != "multiple"]
        findings.append(checks.straightlining([value[:, j] for j in singles], [reason[:, j] == 0 for j in singles],
                                              spec.threshold, rows, file))
    spec = inst.check("too_many_missing")
    if spec is not None and spec.threshold is not None:
        findings.append(checks.too_many_missing(reason >= REASONS.index("refused"), spec.threshold, rows, file))

    warnings: dict[str, int] = {}
    flags: dict[str, np.ndarray] = {}
    for f in findings:
        action = checks.action_of(inst, f.check)
        if action == "quarantine":
            quarantine(f.fails & live, f.check, f.detail)
            fails_any |= f.fails & live
        elif action == "warn":
            warnings[f.check] = int((f.fails & live).sum())
            flags[f"flag_{f.check}"] = f.fails
    lap(f"checked {n_read} records ({len(findings) + 2} checks)")

    accepted = ~fails_any
    qdf = pd.DataFrame(q, columns=["source_row", "_i", "reason_code", "detail"])
    ids = pseudonymise(wave, qid, secret)
    ids[no_id] = None  # no number, no pseudonym
    qdf["respondent_id"] = ids[qdf["_i"].to_numpy()] if len(qdf) else pd.Series(dtype=object)
    qdf = qdf.drop(columns="_i")[["source_row", "respondent_id", "reason_code", "detail"]]
    n_quar = int(qdf["source_row"].nunique())
    n_acc = int(accepted.sum())
    if n_acc + n_quar != n_read:
        raise AssertionError(f"ingest accounting broken: {n_read} read ≠ {n_acc} accepted + {n_quar} quarantined")
    if n_read and n_quar / n_read > inst.max_quarantined_share:
        top = sorted(qdf.groupby("reason_code")["source_row"].nunique().items(), key=lambda kv: -kv[1])
        example = qdf.loc[qdf["reason_code"] == top[0][0], "detail"].iloc[0]
        raise InputError(
            f"{file}: {n_quar} of {n_read} records ({n_quar / n_read:.1%}) would be quarantined, more than the "
            f"{inst.max_quarantined_share:.0%} the instrument allows (max_quarantined_share); by reason: "
            f"{', '.join(f'{k} {v}' for k, v in top)}. So many bad records point to the delivery, not to single "
            f"interviews (missing codes or a column coded differently from the instrument?). First case: {example} "
            "Nothing was written.")
    a = np.flatnonzero(accepted)
    a = a[np.argsort(ids[a].astype("S"), kind="stable")]  # accepted rows in respondent_id order: the tables' key
    lap(f"{n_quar} records quarantined; pseudonyms for {n_read} records")

    if contacts_raw is not None:  # a delivery with a contact sheet: its households must be the respondents'
        linked = pd.Series(qid[a], dtype=object).isin(contacts_raw["questionnaire_id"]).to_numpy()
        if n_acc and not linked.any():
            # no example numbers in the message: questionnaire numbers link a record to a household
            raise InputError(
                f"none of the {n_acc} accepted questionnaire numbers of {file} (column {qid_col}) appears in "
                f"{delivered.contacts_file}'s questionnaire_id column: no respondent can be linked to its household, "
                "so weighting is impossible. Ask fieldwork for the contact sheet of this delivery, or for the key "
                "between the two numberings. Nothing was written.")
        if n_acc and not linked.all():
            warn(f"   warning: {int((~linked).sum())} accepted record(s) have a questionnaire number absent from "
                f"{delivered.contacts_file}; they are kept, but their households are not on the contact sheet")
    masks = option_masks(inst, value, reason, a, file)
    responses = responses_frame(ids[a], [it.id for it in inst.items], masks, take_rows(reason, a))
    del masks, value, reason
    lap(f"coded the answers of {n_acc} respondents to {len(inst.items)} items")
    resp = _respondents(data, inst, wave, a, ids, county_idx, township, village, p, n_adults, age, minutes)
    for name, f in flags.items():
        resp[name] = f[a]
    for name, w in delivered_w.items():
        resp[name] = w[a]
    contacts = None if contacts_raw is None else contacts_table(contacts_raw, qid[a], ids[a])
    by_reason = {k: int(v) for k, v in qdf.groupby("reason_code")["source_row"].nunique().items()}
    report = {
        "wave": wave, "sha256": delivered.sha256, "encoding": delivered.encoding, "rows_read": n_read,
        "accepted": n_acc, "quarantined": n_quar, "quarantined_by_reason": by_reason, "warnings_by_check": warnings,
        "deduplicated": int(identical.sum()), "items": len(inst.items),
        "responses": n_acc * len(inst.items),  # respondent × item cells
        "contacts": 0 if contacts is None else int(len(contacts)),
        "delivery_mode": delivery.mode, "interview_times": delivery.interview_times, "skipped_checks": skipped,
        "checks": {f.check: {"action": checks.action_of(inst, f.check),
                             "threshold": getattr(inst.check(f.check), "threshold", None)} for f in findings},
        "frame_checked": frame is not None, "missing_code_usage": usage,
        "interviews_without_duration": untimed,
        # the fieldwork period as the accepted interviews date it (the methods section of the report states it)
        "interview_dates": _date_range(start.iloc[a]),
    }
    return Ingested(resp, responses, contacts, qdf, report)


def _respondents(data: pd.DataFrame, inst: Instrument, wave: int, a: np.ndarray, ids: np.ndarray,
                 county_idx: np.ndarray, township: pd.Series, village: pd.Series, p: dict[str, np.ndarray],
                 n_adults: np.ndarray, age: np.ndarray, minutes: np.ndarray) -> pd.DataFrame:
    """The accepted records `a` (in key order) as the respondents table."""
    adm = dict(inst.admin)
    demo = {d.field: d for d in inst.demographics}
    cidx = county_idx[a]
    town, vill = township.take(a).reset_index(drop=True), village.take(a).reset_index(drop=True)
    county_code = text_column(cidx, [c.code for c in inst.counties])
    stratum, psu = design_units(county_code, town, vill, p["p_psu"][a])

    def raw(field: str) -> np.ndarray:
        return numeric(data[demo[field].column])[a]

    def codebook(field: str) -> dict[float, str]:
        return {float(k): v for k, v in demo[field].codes}

    age_a = age[a].astype(np.int64)
    resp = pd.DataFrame({
        "respondent_id": ids[a],
        "wave": np.full(a.size, wave, dtype=np.int64),
        "county_code": county_code,
        "county": text_column(cidx, [c.name_zh for c in inst.counties]),
        "stratum": stratum, "psu": psu, "ssu": vill,
        "p_psu": p["p_psu"][a], "p_ssu": p["p_ssu"][a], "p_hh": p["p_hh"][a],
        "n_adults": n_adults[a].astype(np.int64),
        "sex": labelled(raw("sex"), codebook("sex")),
        "age": age_a,
        "age_band": text_column(np.searchsorted([30, 40, 50, 60], age_a, side="right"), AGE_BANDS),
        "education": labelled(raw("education"),
                              {float(c): band for band, codes in demo["education"].derive for c in codes}),
        "urban": labelled(raw("urban"), codebook("urban")),
        "occupation": labelled(raw("occupation"), codebook("occupation")),
        "hukou": labelled(raw("hukou"), codebook("hukou")),
        "interviewer_id": data[adm["interviewer_id"]].astype(str).take(a).reset_index(drop=True),
        "interview_minutes": minutes[a],
    })
    rules = dict(inst.key_groups)
    for flag in KEY_GROUPS:
        mask = np.zeros(a.size, dtype=bool)
        for field, vals in rules.get(flag) or ():  # any coded demographic, or an age range (the loader checks)
            if field == "age":
                mask |= (age_a >= vals[0]) & (age_a <= vals[1])
            else:
                mask |= np.isin(raw(field), np.array(vals, dtype=float))
        resp[flag] = mask
    return resp


def _date_range(start: pd.Series) -> list[str] | None:
    days = start.dropna()
    return None if days.empty else [days.min().strftime("%Y-%m-%d"), days.max().strftime("%Y-%m-%d")]
