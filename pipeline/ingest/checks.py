"""Record-level checks. Each returns, for every row, whether it fails and a detail that names the file,
row, column and value and says how to fix it. Whether a failure quarantines or only warns, and the
thresholds, come from the instrument's `checks:` list."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from pipeline.ingest.columns import per_combination
from pipeline.instruments.model import Instrument

# Checks that protect the validity of later stages run even when the spec does not list them.
ALWAYS = {"code_outside_codebook": "quarantine", "age_out_of_range": "quarantine", "unknown_area": "quarantine",
          "duplicate_id": "quarantine", "missing_id": "quarantine", "invalid_design_value": "quarantine",
          "out_of_range": "quarantine"}
# Fields whose values are counts: a fraction is a keying error, never rounded away silently.
INTEGER_FIELDS = ("n_adults", "birth_year", "age")


def shown(value) -> str:
    """A cell's value as a detail may print it: a short number (a code, a count, a year) as it is, anything
    longer only described. A value that fails a check may be a phone number, an ID number or an address
    shifted into the wrong column, and details never carry what may identify a person."""
    if isinstance(value, (float, np.floating)) and np.isfinite(value) and abs(value) < 1e5:
        return f"{value:g}"
    if isinstance(value, (float, np.floating)) and np.isnan(value):
        return "empty"
    text = str(value).strip()
    if len(text) <= 5 and text.replace(".", "", 1).replace("-", "", 1).isalnum() and text.isascii():
        return text
    kind = "digits" if text.replace(".", "", 1).isdigit() else "characters"
    return f"a value of {len(text)} {kind} (not shown: it may identify a person)"


@dataclass(frozen=True)
class Finding:
    check: str
    fails: np.ndarray  # bool per row
    detail: np.ndarray  # object per row ("" where it passes)


def action_of(inst: Instrument, check: str) -> str | None:
    spec = inst.check(check)
    if spec is not None:
        return spec.action
    return ALWAYS.get(check)


def _detail(fails: np.ndarray, make) -> np.ndarray:
    out = np.full(fails.size, "", dtype=object)
    for i in np.flatnonzero(fails):
        out[i] = make(i)
    return out


def codebook(data: pd.DataFrame, num: dict[str, np.ndarray], inst: Instrument, rows: np.ndarray, file: str) -> Finding:
    """Values outside the codebook in coded demographics and in answers."""
    n = len(data)
    first_col = np.full(n, -1)  # index into targets of the first column with a bad value
    first_val = np.full(n, np.nan)
    allowed_missing = [float(m.code) for m in inst.missing_codes]
    targets: list[tuple[str, list[float]]] = []
    for d in inst.demographics:
        if d.codes:
            targets.append((d.column, [float(k) for k, _ in d.codes]))
    for it in inst.items:
        if it.type == "multiple":
            for col in it.raw_columns:
                targets.append((col, [0.0, 1.0] + allowed_missing))
        else:
            targets.append((it.column, [float(c) for c in it.option_codes] + allowed_missing))
    for k, (col, allowed) in enumerate(targets):
        v = num[col]
        bad = ~np.isin(v, allowed) & ~np.isnan(v)
        if not pd.api.types.is_numeric_dtype(data[col]):  # text that is not a number at all
            bad |= np.isnan(v) & data[col].notna().to_numpy()
        # an empty answer cell is a skip the interviewer did not code: treat it as 跳过, not as bad
        if bad.any():
            new = bad & (first_col < 0)
            first_col[new] = k
            first_val[new] = v[new]
    fails = first_col >= 0
    return Finding("code_outside_codebook", fails, _detail(fails, lambda i: (
        f"{file} row {rows[i]}: column {targets[first_col[i]][0]} has {shown(first_val[i])}, which is not in the codebook. "
        "Correct the value with fieldwork or add the code to the instrument.")))


def area(county_raw: np.ndarray, township: pd.Series, village: pd.Series, inst: Instrument,
         frame: pd.DataFrame | None, rows: np.ndarray, file: str, cols: tuple[str, str, str]) -> tuple[Finding, np.ndarray]:
    """County, township and village codes unknown to the frame. Returns the finding and the county index."""
    raw_codes = np.array([c.raw for c in inst.counties], dtype=float)
    idx = np.full(county_raw.size, -1)
    known = np.isin(county_raw, raw_codes)
    idx[known] = np.searchsorted(np.sort(raw_codes), county_raw[known])
    order = np.argsort(raw_codes)
    idx[known] = order[idx[known]]
    fails = ~known
    why = np.full(county_raw.size, "", dtype=object)
    why[~known] = "county"
    if frame is not None:
        county_code = np.array([c.code for c in inst.counties], dtype=object)[np.maximum(idx, 0)]
        towns = set(zip(frame["county_code"].astype(str), frame["township"].astype(str)))
        vills = set(zip(frame["township"].astype(str), frame["village"].astype(str)))
        index, ok = per_combination(lambda c, t, v: ((c, t) in towns, (t, v) in vills), county_code, township, village)
        t_ok = np.array([t for t, _ in ok], dtype=bool)[index]
        v_ok = np.array([v for _, v in ok], dtype=bool)[index]
        why[known & ~t_ok] = "township"
        why[known & t_ok & ~v_ok] = "village"
        fails = fails | (known & ~(t_ok & v_ok))
    col_of = {"county": cols[0], "township": cols[1], "village": cols[2]}
    val_of = {"county": county_raw, "township": township.to_numpy(), "village": village.to_numpy()}

    def make(i):
        level = why[i]
        return (f"{file} row {rows[i]}: column {col_of[level]} has {shown(val_of[level][i])}, not a {level} code of "
                "the sampling frame"
                f"{' (frame.csv)' if level != 'county' else ' (instrument counties)'}. Check the code with fieldwork; "
                "a record that cannot be placed in its sampled area cannot be weighted.")

    return Finding("unknown_area", fails, _detail(fails, make)), idx


def age_at_interview(data: pd.DataFrame, demo: dict, start: pd.Series, wave: int) -> tuple[np.ndarray, str, str]:
    """(age, the column it comes from, "age" | "birth_year"). A delivered age (demographics field `age`,
    周岁 as the questionnaire asks it) is the age at interview and is used as it is; from a birth year, the
    age is the year of the interview's start (the wave's year for a record without times) minus the birth
    year, the age reached in that year, as the national survey counts it."""
    from pipeline.ingest.columns import numeric

    if "age" in demo:
        return numeric(data[demo["age"].column]), demo["age"].column, "age"
    year = start.dt.year.to_numpy(dtype=float)
    year = np.where(np.isnan(year), float(wave), year)
    col = demo["birth_year"].column
    return year - numeric(data[col]), col, "birth_year"


def age_range(age: np.ndarray, rows: np.ndarray, file: str, col: str, lo: int = 18, hi: int = 69,
              given: str = "birth_year") -> Finding:
    """The eligibility rule, on the age as delivered or as derived from the birth year."""
    fails = np.isnan(age) | (age < lo) | (age > hi)
    what = "the age" if given == "age" else "the birth year"
    return Finding("age_out_of_range", fails, _detail(fails, lambda i: (
        f"{file} row {rows[i]}: column {col} gives age {shown(age[i])} at interview, outside {lo}–{hi}. The survey "
        f"population is residents aged 18–69: correct {what} with fieldwork or leave the record out.")))


def declared_ranges(values: dict[str, np.ndarray], inst: Instrument, rows, file: str) -> Finding:
    """Every `range:` of the instrument, and whole numbers where a field counts something (adults in the
    household, a birth year): 40 adults or 2.5 adults is a keying error to verify, not a value to use."""
    n = len(rows)
    bad_col = np.full(n, "", dtype=object)
    bad_val = np.full(n, np.nan)
    why = np.full(n, "", dtype=object)
    for d in inst.demographics:
        if d.column not in values:
            continue
        v = values[d.column]
        if d.field in INTEGER_FIELDS:
            bad = ~np.isnan(v) & (v != np.round(v)) & (bad_col == "")
            bad_col[bad], bad_val[bad], why[bad] = d.column, v[bad], "must be a whole number"
        if d.range is not None:
            lo, hi = d.range
            bad = ~np.isnan(v) & ((v < lo) | (v > hi)) & (bad_col == "")
            bad_col[bad], bad_val[bad], why[bad] = d.column, v[bad], f"must lie in {lo:g}–{hi:g} (instrument range)"
    fails = bad_col != ""
    label = {d.column: d.label_zh for d in inst.demographics}
    return Finding("out_of_range", fails, _detail(fails, lambda i: (
        f"{file} row {rows[i]}: column {bad_col[i]} ({label[bad_col[i]]}) is {shown(bad_val[i])}, which {why[i]}. "
        "Have fieldwork check the questionnaire and send the recorded value.")))


def design_values(p: dict[str, np.ndarray], n_adults: np.ndarray, rows, file: str, cols: dict[str, str]) -> Finding:
    bad_col = np.full(n_adults.size, "", dtype=object)
    bad_val = np.full(n_adults.size, np.nan)
    for role, v in p.items():
        bad = (np.isnan(v) | (v <= 0) | (v > 1)) & (bad_col == "")
        bad_col[bad] = cols[role]
        bad_val[bad] = v[bad]
    bad = (np.isnan(n_adults) | (n_adults < 1)) & (bad_col == "")
    bad_col[bad] = cols["n_adults"]
    bad_val[bad] = n_adults[bad]
    fails = bad_col != ""
    return Finding("invalid_design_value", fails, _detail(fails, lambda i: (
        f"{file} row {rows[i]}: column {bad_col[i]} is {shown(bad_val[i])}; selection probabilities must lie in (0, 1] and "
        "the number of eligible adults must be at least 1. Ask fieldwork for the recorded value.")))


def short_interview(minutes: np.ndarray, threshold: float, rows, file: str, cols: tuple[str, str]) -> Finding:
    fails = ~np.isnan(minutes) & (minutes < threshold)
    return Finding("short_interview", fails, _detail(fails, lambda i: (
        f"{file} row {rows[i]}: columns {cols[0]}–{cols[1]} give an interview of {minutes[i]:.1f} minutes, shorter "
        f"than the {threshold:g}-minute minimum. Have fieldwork verify the interview (back-check) before using it.")))


def straightlining(codes: list[np.ndarray], answered: list[np.ndarray], threshold: float, rows,
                   file: str) -> Finding:
    """Share of answered single-choice and true/false items that carry the respondent's modal code.
    codes and answered hold one array per item: contiguous columns, small integer counts, no n × J
    temporaries."""
    n = len(rows)
    cols = [(c + 1) * ok - 1 for c, ok in zip(codes, answered)]  # −1 (unanswered) is never an option code
    n_ans = np.zeros(n, dtype=np.int32)
    distinct: set[int] = set()
    for v, ok in zip(cols, answered):
        n_ans += ok
        given = v[ok]
        if given.size:
            lo, hi = int(given.min()), int(given.max())
            if hi - lo < 4096:  # option codes are small: count them rather than sort a million
                distinct.update((np.flatnonzero(np.bincount((given - lo).astype(np.intp))) + lo).tolist())
            else:
                distinct.update(np.unique(given).tolist())
    most = np.zeros(n, dtype=np.int32)
    for c in sorted(distinct):
        same = np.zeros(n, dtype=np.int32)
        for v in cols:
            same += v == c
        np.maximum(most, same, out=most)
    max_share = np.divide(most, n_ans, out=np.zeros(n), where=n_ans > 0)
    fails = (n_ans >= 10) & (max_share >= threshold)
    return Finding("straightlining", fails, _detail(fails, lambda i: (
        f"{file} row {rows[i]}: {max_share[i]:.0%} of the answered single-choice items carry the same code, "
        f"at or above the {threshold:.0%} limit. Have fieldwork back-check the interview.")))


def too_many_missing(missing: np.ndarray, threshold: float, rows, file: str) -> Finding:
    share = missing.mean(axis=1)
    fails = share > threshold
    return Finding("too_many_missing", fails, _detail(fails, lambda i: (
        f"{file} row {rows[i]}: {share[i]:.0%} of the test items were refused or skipped (limit {threshold:.0%}).")))
