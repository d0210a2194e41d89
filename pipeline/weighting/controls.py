"""Census control tables → calibration margins, with the collapse rules of design.yaml.

A control cell with population but no sample member cannot be met. When the spec names a collapse
rule for the margin, the empty cell is merged with its neighbour along the rule's ordered variable
(e.g. the adjacent age band in the same county, sex and urban/rural cell), in both the sample and the
controls, and every merge is logged for the diagnostics. Without a rule it is an error.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from pipeline.errors import InputError, PipelineError
from pipeline.survey_design.record import SEP  # the cell labels the design record carries
from pipeline.survey_design.spec import CollapseRule, ControlTable
from pipeline.weighting.calibration import Margin
from pipeline.weighting.grouped import distinct_rows


@dataclass(frozen=True)
class Collapse:
    margin: str
    within: str  # the other variables' values, joined by SEP
    merged: tuple[str, str]  # the empty category and the neighbour it joined
    label: str  # the merged category's label
    population: float  # control total of the empty category


def read_controls(folder: Path, table: ControlTable) -> pd.DataFrame:
    path = folder / table.file
    if not path.exists():
        raise InputError(f"control table {path} does not exist; design.yaml names it in weighting.controls.{table.name}.")
    try:
        df = pd.read_csv(path, encoding="utf-8-sig", dtype={c: str for c in table.by})
    except UnicodeDecodeError as err:
        guess = _guess_encoding(path.read_bytes())
        raise InputError(f"{path}: not UTF-8 (byte 0x{err.object[err.start]:02x} at offset {err.start} cannot be "
                         f"decoded{'; it reads as ' + guess if guess else ''}). Save the control table as UTF-8 CSV "
                         "(in Excel: 另存为 → CSV UTF-8).") from None
    except (pd.errors.ParserError, pd.errors.EmptyDataError) as err:
        raise InputError(f"{path}: cannot be read as CSV ({err}). Export the control table again.") from None
    missing = [c for c in (*table.by, table.total) if c not in df.columns]
    if missing:
        raise InputError(f"{path}: lacks column(s) {missing}; it has {list(df.columns)}.")
    pop = pd.to_numeric(df[table.total], errors="coerce")
    bad = pop.isna() | (pop < 0)
    if bad.any():
        row = int(np.flatnonzero(bad.to_numpy())[0])
        raise InputError(f"{path}, column {table.total!r}, row {row + 2}: {df[table.total].iloc[row]!r} is not a "
                         "non-negative number. Fix the control table.")
    df = df[list(table.by)].astype(str).assign(population=pop.astype(float))
    dup = df.duplicated(list(table.by))
    if dup.any():
        raise InputError(f"{path}: control cell {df.loc[dup, list(table.by)].iloc[0].tolist()} appears twice.")
    return df


def _guess_encoding(data: bytes) -> str | None:
    """The Chinese legacy encoding a non-UTF-8 file decodes in, for the message."""
    for enc in ("gb18030", "big5"):
        try:
            data.decode(enc)
            return enc.upper() if enc != "gb18030" else "GBK/GB18030"
        except UnicodeDecodeError:
            continue
    return None


def _order_pos(label: str, order: tuple[str, ...]) -> int:
    parts = label.split("+")
    return min(order.index(p) if p in order else len(order) for p in parts)


def _joined(df: pd.DataFrame, cols) -> np.ndarray:
    out = df[cols[0]].astype(str).to_numpy(dtype=object)
    for c in cols[1:]:
        out = out + SEP + df[c].astype(str).to_numpy(dtype=object)
    return out


def collapse_empty(keys: list[tuple], members: np.ndarray, psus: list[set], controls: pd.DataFrame,
                   by: tuple[str, ...], rule: CollapseRule | None, margin: str
                   ) -> tuple[list[tuple], pd.DataFrame, list[Collapse]]:
    """Merge control cells without (or with fewer than rule.min_count respondents, or members in fewer
    than rule.min_psu PSUs) into the adjacent category of `rule.variable`, one cell at a time, the
    first deficient cell in key order first. The sample comes as its distinct cells: `keys`, with the
    respondents (`members`) and the set of PSUs of each. Returns the cell each key ends up in.
    """
    log: list[Collapse] = []
    if rule is None:
        return list(keys), controls, log
    var = rule.variable
    vi = by.index(var)
    # cell tuple -> [population, respondents, set of PSUs]; merges update these in place
    cells: dict[tuple, list] = {tuple(k): [float(p), 0, set()] for k, p in
                                zip(controls[list(by)].to_numpy().tolist(), controls["population"], strict=True)}
    for k, n, psu in zip(keys, members, psus, strict=True):
        cells[k][1] += int(n)
        cells[k][2] |= psu
    rename: dict[tuple, tuple] = {}

    def deficient(k):
        pop, n, psus = cells[k]
        return pop > 0 and (n < rule.min_count or len(psus) < rule.min_psu)

    while True:
        bad = sorted(k for k in cells if deficient(k))
        if not bad:
            break
        k = bad[0]
        within = k[:vi] + k[vi + 1:]
        peers = sorted((c for c in cells if c[:vi] + c[vi + 1:] == within), key=lambda c: _order_pos(c[vi], rule.order))
        i = peers.index(k)
        if len(peers) == 1:
            raise PipelineError(
                f"calibration margin {margin!r}: cell {dict(zip(by, k, strict=True))} has a control total but fewer "
                f"than {rule.min_count} sample member(s) or fewer than {rule.min_psu} PSU(s), and no neighbouring "
                f"{var} is left to merge it with. Merge more categories in the controls or relax the rule."
            )
        other = peers[i + 1] if i + 1 < len(peers) else peers[i - 1]
        pair = sorted([k, other], key=lambda c: _order_pos(c[vi], rule.order))
        label = "+".join(c[vi] for c in pair)
        new = k[:vi] + (label,) + k[vi + 1:]
        a, b = cells.pop(k), cells.pop(other)
        cells[new] = [a[0] + b[0], a[1] + b[1], a[2] | b[2]]
        rename[k], rename[other] = new, new
        log.append(Collapse(margin, SEP.join(map(str, within)), (k[vi], other[vi]), label, a[0]))

    def final(k):
        while k in rename:
            k = rename[k]
        return k

    controls = pd.DataFrame([(*k, v[0]) for k, v in sorted(cells.items())], columns=[*by, "population"])
    return [final(k) for k in keys], controls, log


def build_margin(sample: pd.DataFrame, controls: pd.DataFrame, table: ControlTable,
                 rule: CollapseRule | None, psu: np.ndarray | None = None,
                 path: str = "respondents.parquet") -> tuple[Margin, list[Collapse]]:
    """Code each respondent into the margin's categories (after any collapse) and attach the totals."""
    by = table.by
    missing = [c for c in by if c not in sample.columns]
    if missing:
        raise InputError(f"{path} lacks column(s) {missing} needed by the control table {table.name!r}.")
    s = sample[list(by)].astype(str)
    combo, keys = distinct_rows(s, list(by))
    known = set(_joined(controls, list(by)))
    unknown = sorted(k for k in keys if SEP.join(k) not in known)
    if unknown:
        raise InputError(
            f"{path}: {len(unknown)} respondent(s) fall in {table.name} cells absent from the controls, e.g. "
            f"{dict(zip(by, unknown[0], strict=True))}. Check the category labels of {list(by)} against {table.file}."
        )
    unit_psu = np.arange(len(s), dtype=np.int64) if psu is None else np.asarray(psu, dtype=np.int64)
    members = np.bincount(combo, minlength=len(keys))
    psus: list[set] = [set() for _ in keys]
    n_psu = int(unit_psu.max()) + 1 if len(unit_psu) else 1
    for pair in np.unique(combo * n_psu + unit_psu).tolist():
        psus[pair // n_psu].add(pair % n_psu)
    final, c, log = collapse_empty(keys, members, psus, controls, by, rule, table.name)
    labels = list(_joined(c, list(by)))
    lookup = pd.Series(np.arange(len(labels)), index=labels)
    codes = lookup.reindex([SEP.join(k) for k in final]).to_numpy(np.int64)[combo]
    return Margin(table.name, codes, c["population"].to_numpy(float), tuple(labels)), log


# Control totals count whole persons: two tables of one population agree to within half a person.
TOTAL_TOLERANCE = 0.5
UNITS_RATIO = 5.0  # totals this many times apart are in different units (persons vs 万人), not a typo


def check_controls(sample: pd.DataFrame, controls: dict[str, pd.DataFrame], tables: dict[str, ControlTable],
                   names: list[str], base_total: float) -> None:
    """Before raking: the calibration tables must describe one population in one unit and use the sample's
    categories, or raking can only fail to converge (or merge a misspelt category silently)."""
    totals = {n: float(controls[n]["population"].sum()) for n in names}
    for n in names:  # a category no respondent has, in any cell: another spelling or another coding
        for col in tables[n].by:
            if col not in sample.columns:
                continue
            have = set(pd.unique(sample[col].astype(str)))
            absent = sorted(set(controls[n][col].astype(str)) - have)
            if absent:
                raise InputError(
                    f"control table {tables[n].file}: {col} categor{'y' if len(absent) == 1 else 'ies'} "
                    f"{absent[:6]} appear{'s' if len(absent) == 1 else ''} in no respondent's record (the sample has "
                    f"{sorted(have)[:12]}). A category spelt or coded differently from the instrument's codebook "
                    "cannot be calibrated to: relabel it in the control table.")
    for n in names:
        if base_total > 0 and not (1 / UNITS_RATIO <= totals[n] / base_total <= UNITS_RATIO):
            raise InputError(
                f"control table {tables[n].file} totals {totals[n]:,.1f}, but the design weights add up to "
                f"{base_total:,.0f} persons ({totals[n] / base_total:.3g} times): the table looks to be in other "
                "units (万人 or thousands instead of persons). Give the control totals in persons.")
    first = names[0] if names else None
    for n in names[1:]:
        gap = totals[n] - totals[first]
        if abs(gap) <= TOTAL_TOLERANCE:
            continue
        common = [c for c in tables[first].by if c in tables[n].by]
        detail = ""
        if common:
            a = controls[first].groupby(common)["population"].sum()
            b = controls[n].groupby(common)["population"].sum()
            d = b.sub(a, fill_value=0)
            d = d[d.abs() > TOTAL_TOLERANCE]
            worst = d.reindex(d.abs().sort_values(ascending=False).index)[:5]
            detail = "; largest disagreements by " + "/".join(common) + ": " + ", ".join(
                f"{k if isinstance(k, str) else '/'.join(k)} {v:+,.1f}" for k, v in worst.items())
        raise InputError(
            f"control tables {tables[first].file} and {tables[n].file} describe different populations: totals "
            f"{totals[first]:,.1f} and {totals[n]:,.1f} ({gap:+,.1f} persons; they must agree to within "
            f"{TOTAL_TOLERANCE:g}){detail}. Raking to both cannot converge: correct the tables so every margin "
            "adds up to the same population.")
