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
from pipeline.weighting.calibration import Margin
from pipeline.weighting.spec import CollapseRule, ControlTable

SEP = "|"


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
    df = pd.read_csv(path, encoding="utf-8-sig", dtype={c: str for c in table.by})
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


def _order_pos(label: str, order: tuple[str, ...]) -> int:
    parts = label.split("+")
    return min(order.index(p) if p in order else len(order) for p in parts)


def collapse_empty(sample: pd.DataFrame, controls: pd.DataFrame, by: tuple[str, ...], rule: CollapseRule | None,
                   margin: str) -> tuple[pd.DataFrame, pd.DataFrame, list[Collapse]]:
    """Merge control cells without (or with fewer than rule.min_count) sample members into the
    adjacent category of `rule.variable`, one cell at a time, smallest first in key order."""
    log: list[Collapse] = []
    if rule is None:
        return sample, controls, log
    var = rule.variable
    within = [b for b in by if b != var]
    sample, controls = sample.copy(), controls.copy()
    while True:
        g = sample.groupby(list(by))
        counts = pd.DataFrame({"n": g.size(), "psus": g["__psu"].nunique()})
        ok = (counts["n"] >= rule.min_count) & (counts["psus"] >= rule.min_psu)
        present = set(map(tuple, counts.index[ok.to_numpy()].tolist()))
        keys = list(map(tuple, controls[list(by)].to_numpy().tolist()))
        empty = [i for i, k in enumerate(keys) if k not in present and controls["population"].iloc[i] > 0]
        if not empty:
            return sample, controls, log
        row = controls.iloc[empty[0]]
        same = np.logical_and.reduce([controls[w].to_numpy() == row[w] for w in within]) if within else \
            np.ones(len(controls), bool)
        cats = sorted(set(controls.loc[same, var]), key=lambda x: _order_pos(x, rule.order))
        i = cats.index(row[var])
        if len(cats) == 1:
            raise PipelineError(
                f"calibration margin {margin!r}: cell {dict(row[list(by)])} has a control total but fewer than "
                f"{rule.min_count} sample member(s) or fewer than {rule.min_psu} PSU(s), and no neighbouring {var} is left to merge it with. Merge "
                "more categories in the controls or lower min_count."
            )
        other = cats[i + 1] if i + 1 < len(cats) else cats[i - 1]
        pair = sorted([row[var], other], key=lambda x: _order_pos(x, rule.order))
        label = "+".join(pair)
        in_within_s = np.logical_and.reduce([sample[w].to_numpy() == row[w] for w in within]) if within else \
            np.ones(len(sample), bool)
        sample.loc[in_within_s & sample[var].isin(pair).to_numpy(), var] = label
        controls.loc[same & controls[var].isin(pair).to_numpy(), var] = label
        controls = controls.groupby(list(by), as_index=False, sort=True)["population"].sum()
        log.append(Collapse(margin, SEP.join(str(row[w]) for w in within), (row[var], other), label,
                            float(row["population"])))


def build_margin(sample: pd.DataFrame, controls: pd.DataFrame, table: ControlTable,
                 rule: CollapseRule | None, psu: np.ndarray | None = None,
                 path: str = "respondents.parquet") -> tuple[Margin, list[Collapse]]:
    """Code each respondent into the margin's categories (after any collapse) and attach the totals."""
    by = table.by
    missing = [c for c in by if c not in sample.columns]
    if missing:
        raise InputError(f"{path} lacks column(s) {missing} needed by the control table {table.name!r}.")
    s = sample[list(by)].astype(str)
    known = set(map(tuple, controls[list(by)].to_numpy().tolist()))
    keys = list(map(tuple, s.to_numpy().tolist()))
    unknown = [k for k in keys if k not in known]
    if unknown:
        raise InputError(
            f"{path}: {len(unknown)} respondent(s) fall in {table.name} cells absent from the controls, e.g. "
            f"{dict(zip(by, unknown[0], strict=True))}. Check the category labels of {list(by)} against {table.file}."
        )
    s = s.assign(__psu=np.arange(len(s)) if psu is None else psu)
    s, c, log = collapse_empty(s, controls, by, rule, table.name)
    s = s[list(by)]
    labels = [SEP.join(k) for k in map(tuple, c[list(by)].to_numpy().tolist())]
    lookup = pd.Series(np.arange(len(labels)), index=labels)
    codes = lookup.reindex(s.agg(SEP.join, axis=1).to_numpy()).to_numpy(np.int64)
    return Margin(table.name, codes, c["population"].to_numpy(float), tuple(labels)), log
