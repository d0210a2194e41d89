"""The waves of an assessment: each wave's headline estimates and verdicts, and the series they form.

Waves are read from their estimation outputs (never re-estimated), each with the primary variance method
of its design record (design.json, written by the weighting stage). A series is a run of consecutive waves
with the same scoring rule (rule name and parameters of scoring.yaml); a change of rule starts a new
series, and nothing downstream (differences, trends, projections, lines in figures) ever spans two series.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from pipeline.errors import InputError
from pipeline.estimation.spec import load_estimands
from pipeline.instruments import load_scoring
from pipeline.paths import wave_paths
from pipeline.survey_design.record import RECORD, read_record
from pipeline.tableio import read_table


@dataclass(frozen=True)
class WaveData:
    wave: int
    rule: str  # the rule as readers see it, e.g. "总分 ≥ 70分"; waves with the same rule form a series
    variance_method: str
    estimates: pd.DataFrame  # the headline estimand, primary variance method, assessed domain types
    targets: pd.DataFrame
    sae: pd.DataFrame | None = None  # the wave's county model estimates, when the estimate stage made them
    rule_name: str = ""  # scoring.yaml `rule:` (the baseline's `rule:` names it when comparable)
    ci_level: float = 0.95  # estimands.yaml ci.level: the level its lci/uci were made at


def rule_signature(rule: str, params: tuple[tuple[str, object], ...]) -> str:
    """The rule as readers see it, and as series are told apart: same words, same rule."""
    p = dict(params)
    if rule == "threshold_total" and "cutoff" in p:
        return f"总分 ≥ {float(p['cutoff']):g}分"
    if rule == "all_dimensions":
        return "各部分均达到及格线" + (f"（{'，'.join(f'{k} {v}' for k, v in params)}）" if params else "")
    inner = "，".join(f"{v}" for _, v in params)
    return f"其他评分规则（{inner}）" if inner else "其他评分规则"


def load_wave(wave: int, root: Path, estimand: str, domain_types: tuple[str, ...]) -> WaveData:
    paths = wave_paths(wave, root)
    est_path, tgt_path = paths.processed("estimates.csv"), paths.processed("targets.csv")
    for p in (est_path, tgt_path):
        if not p.exists():
            raise InputError(f"{p} does not exist: wave {wave} has not been estimated. Run `make survey-{wave}` "
                             f"(or `python -m pipeline estimate --wave {wave}`) first.")
    try:
        est = read_table(est_path, "estimates")
        tgt = read_table(tgt_path, "targets")
    except ValueError as err:
        raise InputError(str(err)) from None
    method = read_record(paths.processed(RECORD)).primary
    rows = est[(est["estimand_id"] == estimand) & (est["variance_method"] == method)
               & est["domain_type"].isin(domain_types)].copy()
    if rows.empty or not (rows["domain_type"] == "overall").any():
        raise InputError(f"{est_path}: no rows for estimand {estimand!r} (variance {method}, the primary method of "
                         f"{RECORD}) in the overall domain. The assessment needs the headline share; check "
                         "estimands.yaml of the wave, or re-run its estimate stage.")
    if (est["wave"] != wave).any():
        raise InputError(f"{est_path}: holds wave {sorted(est['wave'].unique())}, expected {wave}. The file "
                         "belongs to another wave; re-run the estimate stage for this one.")
    scoring = load_scoring(paths.scoring)
    sae_path = paths.processed("sae.csv")
    sae = read_table(sae_path, "sae") if sae_path.exists() else None
    return WaveData(wave, rule_signature(scoring.rule, scoring.params), method, rows.reset_index(drop=True),
                    tgt[tgt["domain_type"].isin(domain_types)].reset_index(drop=True), sae, scoring.rule,
                    load_estimands(paths.estimands).level)


def common_level(waves: list[WaveData]) -> float:
    """The confidence level of every wave's intervals. The assessment sets them side by side (bands, tables,
    the final verdicts), so waves estimated at different levels are refused rather than labelled as one."""
    levels = {w.wave: w.ci_level for w in waves}
    if len(set(levels.values())) > 1:
        listed = ", ".join(f"wave {w}: {100 * v:g}%" for w, v in levels.items())
        raise InputError(f"the waves' intervals were made at different confidence levels ({listed}; ci.level in each "
                         "wave's estimands.yaml). An assessment shows them side by side under one level: set ci.level "
                         "to the same value for every wave and re-run their estimate stage (`make survey-<wave>`).")
    return next(iter(levels.values()))


def assign_series(rules: dict[int, str]) -> dict[int, int]:
    """wave → series number (1, 2, …): a new series starts at every wave whose rule differs from the last."""
    series, current, last = {}, 0, None
    for wave in sorted(rules):
        if rules[wave] != last:
            current += 1
            last = rules[wave]
        series[wave] = current
    return series


def stack(waves: list[WaveData]) -> pd.DataFrame:
    """One long table of the headline estimates of every wave, with the wave's rule and series."""
    series = assign_series({w.wave: w.rule for w in waves})
    frames = []
    for w in waves:
        f = w.estimates[["wave", "estimand_id", "domain_type", "domain", "n", "est", "se", "lci", "uci", "df",
                         "ci_method", "reliability", "variance_method"]].copy()
        f["rule"] = w.rule
        f["rule_name"] = w.rule_name
        f["series"] = series[w.wave]
        frames.append(f)
    return pd.concat(frames, ignore_index=True)


def available_waves(root: Path, first: int, through: int) -> list[int]:
    """Waves first..through whose specification exists; a missing estimate is an error later, not a skip."""
    return [w for w in range(first, through + 1) if wave_paths(w, root).scoring.exists()]
