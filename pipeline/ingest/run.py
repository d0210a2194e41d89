"""Ingest: the raw delivery → identity-free, typed respondents and responses, with every record that
was not accepted accounted for in quarantine.csv. Rows read = accepted + quarantined, always."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from pipeline import tableio
from pipeline.errors import InputError
from pipeline.ingest import checks
from pipeline.ingest.identities import drop_identifiers, link_secret, pseudonymise
from pipeline.ingest.readers import read_raw, verify_checksum
from pipeline.instruments import load_instrument
from pipeline.instruments.model import Instrument
from pipeline.paths import WavePaths
from pipeline.progress import Timer, log

REASONS = ("answered", "dont_know", "refused", "skipped")
DISPOSITIONS = ("1.1", "1.2", "2.10", "2.11", "2.12", "2.20", "2.30", "3.10", "3.20", "3.90", "4.10", "4.50", "4.70")


@dataclass(frozen=True)
class IngestResult:
    rows_read: int
    accepted: int
    quarantined: int
    by_reason: dict
    seconds: float

    def summary(self) -> str:
        reasons = ", ".join(f"{k} {v}" for k, v in sorted(self.by_reason.items()))
        return (f"{self.rows_read} rows read = {self.accepted} accepted + {self.quarantined} quarantined"
                f"{' (' + reasons + ')' if reasons else ''}")


def _required_columns(data: pd.DataFrame, inst: Instrument, file: str) -> None:
    need = [c for _, c in inst.admin] + [d.column for d in inst.demographics]
    need += [c for it in inst.items for c in it.raw_columns]
    missing = [c for c in need if c not in data.columns]
    if missing:
        have = [c for c in data.columns]
        raise InputError(
            f"{file}: the instrument needs columns {missing[:12]}{' …' if len(missing) > 12 else ''} "
            f"({len(missing)} missing) that the file does not have. Available: {have[:40]}"
            f"{' …' if len(have) > 40 else ''}. The file and survey_instruments/<wave>/instrument.yaml do not "
            "match: fix the column names in the instrument or ask fieldwork for the agreed layout.")


def _numeric(s: pd.Series) -> np.ndarray:
    return pd.to_numeric(s, errors="coerce").to_numpy(dtype=float)


def _labels(values: np.ndarray, codes, default: str = "") -> np.ndarray:
    """Code → label for a whole column through its few distinct values."""
    lookup = {float(k): v for k, v in codes}
    uniq, inv = np.unique(values, return_inverse=True)
    return np.array([lookup.get(v, default) for v in uniq], dtype=object)[inv.ravel()]


def _numeric_columns(data: pd.DataFrame, cols: list[str]) -> dict[str, np.ndarray]:
    """Float views of the coded columns: one 2-D block for all numeric ones, to_numeric for the rest."""
    numeric = [c for c in cols if pd.api.types.is_numeric_dtype(data[c])]
    block = data[numeric].to_numpy(dtype=float) if numeric else np.empty((len(data), 0))
    out = {c: block[:, k] for k, c in enumerate(numeric)}
    for c in cols:
        if c not in out:
            out[c] = _numeric(data[c])
    return out


def _answers(num: dict[str, np.ndarray], inst: Instrument) -> tuple[np.ndarray, np.ndarray]:
    """Answer columns → (reason index n×J, value n×J): the option code for single items, 1000 + the bit
    mask of chosen options for multiple items."""
    miss = {float(m.code): REASONS.index(m.reason) for m in inst.missing_codes}
    skipped = REASONS.index("skipped")
    n, J = len(next(iter(num.values()))), len(inst.items)
    reason = np.zeros((n, J), dtype=np.int8)
    value = np.zeros((n, J), dtype=np.int32)
    for j, it in enumerate(inst.items):
        if it.type == "multiple":
            block = np.column_stack([num[c] for c in it.raw_columns])
            r = np.zeros(n, dtype=np.int8)
            for code, idx in miss.items():
                r[(block == code).any(axis=1)] = idx
            r[np.isnan(block).all(axis=1) & (r == 0)] = skipped
            value[:, j] = 1000 + (block == 1).astype(np.int32) @ (1 << np.arange(block.shape[1]))
        else:
            v = num[it.column]
            r = np.zeros(n, dtype=np.int8)
            for code, idx in miss.items():
                r[v == code] = idx
            r[np.isnan(v)] = skipped
            value[:, j] = np.where(r == 0, np.nan_to_num(v), 0).astype(np.int32)
        reason[:, j] = r
    return reason, value


def _code_strings(inst: Instrument, value: np.ndarray, reason: np.ndarray) -> tuple[np.ndarray, list[str]]:
    """Category codes (−1 = missing) of the response strings ("2"; "1,3" for multiple items), through a
    small lookup table per item instead of sorting a million values."""
    n, J = value.shape
    codes = np.full((n, J), -1, dtype=np.int32)
    cat_index: dict[str, int] = {}
    for j, it in enumerate(inst.items):
        col = value[:, j]
        if it.type == "multiple":
            table_size = 1000 + (1 << len(it.option_codes))
            keys = range(1000, table_size)
        else:
            table_size = int(col.max()) + 1 if n else 1
            keys = range(table_size)
        table = np.full(table_size, -1, dtype=np.int32)
        for u in keys:
            if it.type == "multiple":
                mask = u - 1000
                text = ",".join(str(c) for i, c in enumerate(it.option_codes) if mask >> i & 1)
            else:
                text = str(u)
            table[u] = cat_index.setdefault(text, len(cat_index))
        codes[:, j] = np.where(reason[:, j] == 0, table[np.clip(col, 0, table_size - 1)], -1)
    used = np.unique(codes[codes >= 0]) if n else np.array([], dtype=np.int32)
    cats = sorted(cat_index, key=cat_index.get)
    # keep only categories that occur, renumbered in their first-seen order
    remap = np.full(len(cats) + 1, -1, dtype=np.int32)
    remap[used] = np.arange(used.size, dtype=np.int32)
    return np.where(codes >= 0, remap[codes], -1), [cats[i] for i in used]


def run_ingest(paths: WavePaths, progress: bool = True) -> IngestResult:
    timer = Timer()
    inst = load_instrument(paths.instrument)
    src = paths.raw / inst.source_file
    raw = read_raw(src, inst.encoding, skip=[i.column for i in inst.identifiers])
    verify_checksum(src, raw.sha256, paths.checksums)
    file = src.name
    data = drop_identifiers(raw.data, inst)
    _required_columns(data, inst, file)
    n_read = len(data)
    rows = np.arange(1, n_read + 1)
    log(f"   read {n_read} records from {file} (encoding {raw.encoding or 'from file'}); identifiers dropped")
    adm = dict(inst.admin)
    demo = {d.field: d for d in inst.demographics}
    q: list[tuple[int, int, str, str]] = []

    def quarantine(mask: np.ndarray, reason: str, detail) -> None:
        """detail: an array of messages, or a function of the row index (built only for failing rows)."""
        for i in np.flatnonzero(mask):
            q.append((int(rows[i]), int(i), reason, str(detail(i) if callable(detail) else detail[i])))

    qid_col = adm["questionnaire_id"]
    qid = data[qid_col].astype(str).to_numpy()
    # Identical copies: keep the first, account for the rest. Conflicting ids: all rows out. Only rows
    # whose questionnaire number repeats are compared in full, so a clean file costs one hash of one column.
    repeated = pd.Series(qid).duplicated(keep=False).to_numpy()
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
    live = ~identical
    dup = pd.Series(qid).where(live).duplicated(keep=False).to_numpy() & live
    quarantine(dup, "duplicate_id", lambda i: (
        f"{file} row {rows[i]}: questionnaire number {qid_col}={qid[i]} is used by several different records; all "
        "are set aside. Ask fieldwork which interview the number belongs to and renumber the other."))

    fails_any = identical | dup
    coded = [d.column for d in inst.demographics if d.codes] + [c for it in inst.items for c in it.raw_columns]
    num = _numeric_columns(data, coded)
    findings: list[checks.Finding] = []
    findings.append(checks.codebook(data, num, inst, rows, file))
    county_raw = _numeric(data[demo["county"].column])
    township = data[demo["township"].column].astype(str).to_numpy()
    village = data[demo["village"].column].astype(str).to_numpy()
    frame = None
    if paths.frame.exists():
        frame = pd.read_csv(paths.frame, dtype=str, encoding="utf-8-sig")
    else:
        log(f"   warning: {paths.frame} is absent, so township and village codes are not checked against the frame")
    area, county_idx = checks.area(county_raw, township, village, inst, frame, rows, file,
                                   (demo["county"].column, demo["township"].column, demo["village"].column))
    findings.append(area)
    start = pd.to_datetime(data[adm["start_time"]], errors="coerce")
    end = pd.to_datetime(data[adm["end_time"]], errors="coerce")
    year = start.dt.year.to_numpy(dtype=float)
    year = np.where(np.isnan(year), float(paths.wave), year)
    age = year - _numeric(data[demo["birth_year"].column])
    findings.append(checks.age_range(age, rows, file, demo["birth_year"].column))
    p = {role: _numeric(data[adm[role]]) for role in ("p_psu", "p_ssu", "p_hh")}
    n_adults = _numeric(data[demo["n_adults"].column])
    findings.append(checks.design_values(p, n_adults, rows, file, {**adm, "n_adults": demo["n_adults"].column}))
    minutes = ((end - start).dt.total_seconds() / 60.0).to_numpy(dtype=float)
    spec = inst.check("short_interview")
    if spec is not None and spec.threshold is not None:
        findings.append(checks.short_interview(minutes, spec.threshold, rows, file, (adm["start_time"], adm["end_time"])))
    reason, value = _answers(num, inst)
    single = np.array([it.type != "multiple" for it in inst.items])
    spec = inst.check("straightlining")
    if spec is not None and spec.threshold is not None:
        findings.append(checks.straightlining(value[:, single], reason[:, single] == 0, spec.threshold, rows, file))
    spec = inst.check("too_many_missing")
    missing = reason >= REASONS.index("refused")
    if spec is not None and spec.threshold is not None:
        findings.append(checks.too_many_missing(missing, spec.threshold, rows, file))

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
    accepted = ~fails_any
    qdf = pd.DataFrame(q, columns=["source_row", "_i", "reason_code", "detail"])
    ids = pseudonymise(paths.wave, pd.Series(qid), link_secret())
    qdf["respondent_id"] = ids[qdf["_i"].to_numpy()] if len(qdf) else pd.Series(dtype=object)
    qdf = qdf.drop(columns="_i")[["source_row", "respondent_id", "reason_code", "detail"]]
    n_quar = int(qdf["source_row"].nunique())
    n_acc = int(accepted.sum())
    if n_acc + n_quar != n_read:
        raise AssertionError(f"ingest accounting broken: {n_read} read ≠ {n_acc} accepted + {n_quar} quarantined")

    a = np.flatnonzero(accepted)
    county_info = inst.counties
    cidx = county_idx[a]
    edu_raw = _numeric(data[demo["education"].column])[a]
    band_of = {float(code): band for band, codes in demo["education"].derive for code in codes}
    occ_raw = _numeric(data[demo["occupation"].column])[a]
    age_a = age[a].astype(int)
    resp = pd.DataFrame({
        "respondent_id": ids[a],
        "wave": np.full(a.size, paths.wave, dtype=np.int64),
        "county_code": np.array([c[1] for c in county_info], dtype=object)[cidx],
        "county": np.array([c[2] for c in county_info], dtype=object)[cidx],
        "psu": township[a], "ssu": village[a],
        "p_psu": p["p_psu"][a], "p_ssu": p["p_ssu"][a], "p_hh": p["p_hh"][a],
        "n_adults": n_adults[a].astype(np.int64),
        "sex": _labels(_numeric(data[demo["sex"].column])[a], demo["sex"].codes),
        "age": age_a.astype(np.int64),
        "age_band": np.array(["18-29", "30-39", "40-49", "50-59", "60-69"], dtype=object)[
            np.searchsorted([30, 40, 50, 60], age_a, side="right")],
        "education": np.array([band_of.get(v, "") for v in edu_raw], dtype=object),
        "urban": _labels(_numeric(data[demo["urban"].column])[a], demo["urban"].codes),
        "occupation": _labels(occ_raw, demo["occupation"].codes),
        "hukou": _labels(_numeric(data[demo["hukou"].column])[a], demo["hukou"].codes),
        "interviewer_id": data[adm["interviewer_id"]].astype(str).to_numpy()[a],
        "interview_minutes": minutes[a],
    })
    stratum, psu = design_units(resp["county_code"].to_numpy(), township[a], village[a], p["p_psu"][a])
    resp.insert(4, "stratum", stratum)
    resp["psu"] = psu
    fields = {"occupation": occ_raw, "age": age_a.astype(float)}
    for flag in ("is_farmer", "is_worker", "is_elderly", "is_official"):
        rule = dict(inst.key_groups).get(flag)
        mask = np.zeros(a.size, dtype=bool)
        for field_name, vals in rule or ():
            if field_name == "age":
                mask |= (fields["age"] >= vals[0]) & (fields["age"] <= vals[1])
            else:
                mask |= np.isin(fields[field_name], np.array(vals, dtype=float))
        resp[flag] = mask
    for name, f in flags.items():
        resp[name] = f[a]
    tableio.write_table(resp.astype({c: "str" for c in ("respondent_id", "county_code", "county", "stratum", "psu",
                                                       "ssu", "sex", "age_band", "education", "urban", "occupation",
                                                       "hukou", "interviewer_id")}),
                        paths.processed("respondents.parquet"), "respondents")

    codes, cats = _code_strings(inst, value[a], reason[a])
    J = len(inst.items)
    item_ids = [it.id for it in inst.items]
    order = np.argsort(resp["respondent_id"].to_numpy(), kind="stable")  # rows sorted by id for the schema key
    sorted_ids = resp["respondent_id"].to_numpy()[order]
    responses = pd.DataFrame({
        "respondent_id": pd.Categorical.from_codes(np.repeat(np.arange(a.size), J), categories=sorted_ids),
        "item_id": pd.Categorical.from_codes(np.tile(np.arange(J), a.size), categories=item_ids),
        "response_code": pd.Categorical.from_codes(codes[order].ravel(), categories=cats),
        "missing_reason": pd.Categorical.from_codes(reason[a][order].ravel().astype(np.int64), categories=list(REASONS)),
    })
    tableio.write_table(responses, paths.processed("responses.parquet"), None)

    contacts = _contacts(paths, inst, dict(zip(qid[a], ids[a])))
    tableio.write_table(contacts, paths.processed("contacts.parquet"), "contacts")
    tableio.write_table(qdf, paths.processed("quarantine.csv"), "quarantine")
    by_reason = {k: int(v) for k, v in qdf.groupby("reason_code")["source_row"].nunique().items()}
    report = {
        "wave": paths.wave, "source_file": str(src.relative_to(paths.root)) if src.is_relative_to(paths.root) else str(src),
        "sha256": raw.sha256, "encoding": raw.encoding, "rows_read": n_read, "accepted": n_acc,
        "quarantined": n_quar, "quarantined_by_reason": by_reason, "warnings_by_check": warnings,
        "deduplicated": int(identical.sum()), "items": J, "responses": int(a.size * J),
        "contacts": int(len(contacts)),
        "checks": {f.check: {"action": checks.action_of(inst, f.check),
                             "threshold": getattr(inst.check(f.check), "threshold", None)} for f in findings},
        "frame_checked": frame is not None,
    }
    tableio.write_json(report, paths.processed("ingest_report.json"))
    return IngestResult(n_read, n_acc, n_quar, by_reason, timer.seconds)


def design_units(county_code, township, village, p_psu) -> tuple[np.ndarray, np.ndarray]:
    """Variance strata and PSUs. A township taken with certainty (π = 1) is not a sampled unit: it becomes a
    stratum of its own and its sampled villages are the PSUs, as a survey statistician would set it up."""
    county_code = np.asarray(county_code, dtype=object)
    township = np.asarray(township, dtype=object)
    certain = np.asarray(p_psu, dtype=float) >= 1.0 - 1e-12
    stratum = np.where(certain, county_code + "/" + township, county_code)
    psu = np.where(certain, np.asarray(village, dtype=object), township)
    return stratum.astype(object), psu.astype(object)


def _contacts(paths: WavePaths, inst: Instrument, respondent_of: dict[str, str]) -> pd.DataFrame:
    src = paths.contacts_raw
    if not src.exists():
        raise InputError(f"{src}: the contact sheet (every sampled household and its AAPOR disposition) is missing. "
                         "Non-response adjustment needs it: ask fieldwork for contacts.csv.")
    c = pd.read_csv(src, dtype=str, encoding="utf-8-sig", keep_default_na=False, engine="pyarrow")
    need = ["household_id", "county_code", "township", "village", "urban", "p_psu", "p_ssu", "p_hh", "disposition",
            "questionnaire_id"]
    missing = [k for k in need if k not in c.columns]
    if missing:
        raise InputError(f"{src}: columns {missing} are missing; it has {list(c.columns)}.")
    bad = ~c["disposition"].isin(DISPOSITIONS)
    if bad.any():
        i = int(np.flatnonzero(bad.to_numpy())[0])
        raise InputError(f"{src} row {i + 2}: disposition {c['disposition'].iloc[i]!r} is not an AAPOR code this pipeline "
                         f"knows ({', '.join(DISPOSITIONS)}). Recode it with fieldwork.")
    stratum, psu = design_units(c["county_code"].to_numpy(), c["township"].to_numpy(), c["village"].to_numpy(),
                                pd.to_numeric(c["p_psu"]).to_numpy())
    out = pd.DataFrame({
        "household_id": c["household_id"], "stratum": stratum.astype(str), "county_code": c["county_code"],
        "psu": psu.astype(str), "ssu": c["village"], "urban": c["urban"],
        "p_psu": pd.to_numeric(c["p_psu"]), "p_ssu": pd.to_numeric(c["p_ssu"]), "p_hh": pd.to_numeric(c["p_hh"]),
        "disposition": c["disposition"],
        "respondent_id": c["questionnaire_id"].map(respondent_of),
    })
    return out
