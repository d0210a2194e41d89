"""Read what the report needs: the estimate stage's tables plus the run records of ingest and weighting.

The report reads stage outputs only, never microdata. estimates.csv and targets.csv are required and
checked value by value; the ingest report, the weighting diagnostics and the weights' metadata only feed
the methods and data-quality sections, so each may be absent and the report then says "未提供".
"""

from __future__ import annotations

import functools
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from pipeline.errors import InputError, SpecError
from pipeline.instruments import dimension_estimands
from pipeline.instruments.load import read_yaml
from pipeline.paths import FRAMEWORKS, WavePaths
from pipeline.publishing import labels as L
from pipeline.survey_design.record import RECORD, read_record
from pipeline.survey_design.spec import load_design_spec
from pipeline.tableio import read_table
from pipeline.vocabulary import OVERALL_LABEL, counties, load_counties

STATISTICS = ("proportion", "mean", "total")
VERDICTS = tuple(L.VERDICT_LABELS)
VARIANCE_METHODS = ("replicate", "taylor")
# Relative disagreement between targets.csv and estimates.csv that means the files come from two runs.
SYNC_TOLERANCE = 1e-6


@dataclass(frozen=True)
class ReportInputs:
    wave: int
    estimates: pd.DataFrame  # primary variance method only, plus `display` (how a cell is printed)
    targets: pd.DataFrame
    variance_method: str
    benchmark_titles: dict[str, str]
    benchmark_groups: dict[str, str]
    dimensions: tuple[tuple[str, str, float], ...]  # (estimand_id, name_zh, full marks)
    is_demo: bool
    ingest: dict[str, Any] | None = None
    diagnostics: pd.DataFrame | None = None
    weights_meta: dict[str, Any] | None = None
    n_replicates: int | None = None
    sources: dict[str, Path] = field(default_factory=dict)
    county_names: dict[str, str] = field(default_factory=lambda: counties().name_of)
    gates: dict[str, Any] | None = None  # gates.json of the estimate stage (publication gates)
    sae: pd.DataFrame | None = None  # sae.csv: the model estimate of every county
    sae_spec: dict[str, Any] | None = None  # estimands.yaml `sae:` (covariates, method, benchmark)
    scoring: dict[str, Any] | None = None  # scoring.yaml (rule, cut-off, parts of the test)
    design_spec: dict[str, Any] | None = None  # design.yaml as written (control sources)
    test_parts: tuple[tuple[str, int, float], ...] = ()  # (dimension id, items, points) from instrument.yaml

    def target_row(self, domain_type: str, domain: str) -> pd.Series | None:
        t = self.targets
        rows = t[(t["domain_type"] == domain_type) & (t["domain"] == domain)]
        return None if rows.empty else rows.iloc[0]

    def model_row(self, area: str) -> pd.Series | None:
        if self.sae is None:
            return None
        rows = self.sae[self.sae["area"] == area]
        return None if rows.empty or pd.isna(rows["model_est"].iloc[0]) else rows.iloc[0]
    populations: pd.DataFrame | None = None  # weighted population per domain (populations.csv), for 人数
    ci_level: float = 0.95  # estimands.yaml ci.level: every interval and every word about it

    @property
    def ci(self) -> str:
        return L.ci_pct(self.ci_level)

    @functools.cached_property
    def _cells(self) -> dict[tuple[str, str], pd.DataFrame]:
        """estimates.csv split once by estimand and kind of domain, each part in published category order:
        the report asks for a few hundred such parts, and filtering the whole table for each was a tenth
        of the report's time."""
        parts = {}
        for (estimand_id, domain_type), rows in self.estimates.groupby(["estimand_id", "domain_type"], sort=False):
            keys = [L.category_rank(domain_type, d) for d in rows["domain"]]
            order = sorted(range(len(rows)), key=lambda i: keys[i])
            parts[(estimand_id, domain_type)] = rows.iloc[order].reset_index(drop=True)
        return parts

    def cells(self, estimand_id: str, domain_type: str) -> pd.DataFrame:
        """Rows of one estimand over one kind of domain, in published category order (a copy: callers may
        add columns)."""
        rows = self._cells.get((estimand_id, domain_type))
        return self.estimates.iloc[0:0].reset_index(drop=True) if rows is None else rows.copy()

    def cell(self, estimand_id: str, domain_type: str = "overall", domain: str = OVERALL_LABEL) -> pd.Series | None:
        rows = self.cells(estimand_id, domain_type)
        rows = rows[rows["domain"] == domain]
        return None if rows.empty else rows.iloc[0]

    def benchmark_ids(self) -> list[str]:
        ids = self.estimates.loc[self.estimates["estimand_id"].str.startswith("bench_"), "estimand_id"]
        return sorted(set(ids), key=L.benchmark_number)


def _missing_stage_output(path: Path, wave: int) -> InputError:
    return InputError(
        f"{path} does not exist: the report reads the estimate stage's outputs. "
        f"Run `make survey-{wave}` (or `python -m pipeline estimate --wave {wave}`) first."
    )


def _read_stage_table(path: Path, schema: str, wave: int) -> pd.DataFrame:
    if not path.exists():
        raise _missing_stage_output(path, wave)
    try:
        return read_table(path, schema)
    except ValueError as err:
        raise InputError(f"{err} Re-run the estimate stage for wave {wave} to rewrite it.") from None


def _check_values(df: pd.DataFrame, path: Path, column: str, allowed: tuple[str, ...]) -> None:
    bad = sorted(set(df[column].dropna().astype(str)) - set(allowed))
    if bad:
        raise InputError(
            f"{path}: column {column!r} has value(s) {bad}; allowed are {list(allowed)}. "
            "The estimate stage and the report disagree on the contract: fix the stage output."
        )


def primary_variance_method(paths: WavePaths, available: set[str]) -> str:
    """The primary variance method: the design record's (design.yaml variance.primary, as the weighting
    stage recorded it beside the weights; estimation, targets.csv and the export use the same one)."""
    method = read_record(paths.processed(RECORD)).primary
    if method not in available:
        raise InputError(
            f"{paths.processed(RECORD)}: the primary variance method of design.yaml (variance.primary, as the "
            f"weighting stage recorded it) is {method!r}, but {paths.processed('estimates.csv')} holds "
            f"variance_method {sorted(available)}. Re-run the estimate stage."
        )
    return method


def _frameworks(paths: WavePaths) -> tuple[dict[str, str], dict[str, str], tuple[tuple[str, str, float], ...]]:
    titles: dict[str, str] = {}
    groups: dict[str, str] = {}
    path = paths.frameworks
    if path.exists():
        spec = read_yaml(path)
        for b in spec.get("benchmarks") or []:
            try:
                key = f"bench_{int(b['id']):02d}"
            except (KeyError, TypeError, ValueError):
                raise InputError(
                    f"{path}: benchmark entry {b!r} lacks an integer `id`; every entry of `benchmarks:` "
                    "needs id, title_zh and group."
                ) from None
            if b.get("title_zh"):
                titles[key] = str(b["title_zh"])
            if b.get("group"):
                groups[key] = str(b["group"])
    dims = {est_id: (name, marks) for est_id, _, name, marks in dimension_estimands(path if path.exists() else FRAMEWORKS)}
    return titles, groups, tuple((k, v[0], v[1]) for k, v in dims.items())


def _county_names(paths: WavePaths) -> dict[str, str]:
    """County code → name of the project's county-level units (survey_instruments/counties.yaml)."""
    return load_counties(paths.counties).name_of if paths.counties.exists() else counties().name_of


def _ingest_report(path: Path) -> dict[str, Any] | None:
    if not path.exists():
        return None
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as err:
        raise InputError(f"{path} is not valid JSON ({err}); re-run the ingest stage.") from None


def _diagnostics(path: Path) -> pd.DataFrame | None:
    if not path.exists():
        return None
    try:
        return read_table(path, "weighting_diagnostics")
    except ValueError as err:
        raise InputError(f"{err} Re-run the weight stage to rewrite it.") from None


def _populations(path: Path) -> pd.DataFrame | None:
    """Optional: a wave estimated before populations.csv existed reports 人数 as not provided."""
    return read_table(path, "populations") if path.exists() else None


def _weights_meta(paths: WavePaths) -> tuple[dict[str, Any], int | None]:
    """The design record (what the weighting did, for the methods text) and the replicate count."""
    record = read_record(paths.processed(RECORD))
    return dict(record.data), len(record.replicate_columns) or None


def check_in_sync(estimates: pd.DataFrame, targets: pd.DataFrame, path: Path) -> None:
    """targets.csv restates the headline cells; a different number means two runs were mixed."""
    lit = estimates[estimates["estimand_id"] == L.HEADLINE].set_index(["domain_type", "domain"])["est"]
    for row in targets.itertuples(index=False):
        key = (row.domain_type, row.domain)
        if key not in lit.index or pd.isna(row.est) or pd.isna(lit[key]):
            continue
        if abs(float(lit[key]) - float(row.est)) > SYNC_TOLERANCE * max(1.0, abs(float(row.est))):
            raise InputError(
                f"{path}: est for {row.domain_type}/{row.domain} is {row.est!r} but estimates.csv says "
                f"{float(lit[key])!r}; the two files come from different runs. Re-run the estimate stage."
            )


def load_inputs(paths: WavePaths) -> ReportInputs:
    est_path = paths.processed("estimates.csv")
    tgt_path = paths.processed("targets.csv")
    estimates = _read_stage_table(est_path, "estimates", paths.wave)
    targets = _read_stage_table(tgt_path, "targets", paths.wave)
    _check_values(estimates, est_path, "reliability", L.RELIABILITY_VALUES)
    _check_values(estimates, est_path, "statistic", STATISTICS)
    _check_values(estimates, est_path, "domain_type", L.DOMAIN_TYPES)
    _check_values(estimates, est_path, "variance_method", VARIANCE_METHODS)
    _check_values(targets, tgt_path, "reliability", L.RELIABILITY_VALUES)
    _check_values(targets, tgt_path, "verdict", VERDICTS)
    _check_values(targets, tgt_path, "publish", L.PUBLISH_VALUES)
    _check_values(targets, tgt_path, "domain_type", L.DOMAIN_TYPES)
    if estimates.empty:
        raise InputError(f"{est_path} has no rows; re-run the estimate stage for wave {paths.wave}.")
    waves = sorted(set(estimates["wave"].astype(int)) | set(targets["wave"].astype(int)))
    if waves != [paths.wave]:
        raise InputError(
            f"{est_path} / {tgt_path} hold wave(s) {waves}, not {paths.wave}; they were written for "
            "another wave. Re-run the estimate stage for this wave."
        )

    method = primary_variance_method(paths, set(estimates["variance_method"]))
    primary = estimates[estimates["variance_method"] == method].reset_index(drop=True)
    # How each cell is printed (proportion → %, mean → points), decided once for every output.
    primary["display"] = [L.display_statistic(i, s) for i, s in zip(primary["estimand_id"], primary["statistic"],
                                                                    strict=True)]
    if primary[(primary["estimand_id"] == L.HEADLINE) & (primary["domain_type"] == "overall")].empty:
        raise InputError(
            f"{est_path} has no row for estimand {L.HEADLINE!r}, domain_type 'overall' "
            f"(variance_method {method!r}); the headline cannot be reported. Re-run the estimate stage."
        )
    if targets[targets["domain_type"] == "overall"].empty:
        raise InputError(
            f"{tgt_path} has no row with domain_type 'overall': the verdict against the target cannot be "
            "stated. Re-run the estimate stage (estimands.yaml `target: domain_types` must include overall)."
        )
    check_in_sync(primary, targets, tgt_path)
    primary = _caution_by_policy(primary, targets)

    titles, groups, dims = _frameworks(paths)
    meta, n_rep = _weights_meta(paths)
    return ReportInputs(
        wave=paths.wave,
        estimates=primary,
        targets=targets.reset_index(drop=True),
        variance_method=method,
        benchmark_titles=titles,
        benchmark_groups=groups,
        dimensions=dims,
        is_demo=paths.truth.exists(),
        ingest=_ingest_report(paths.processed("ingest_report.json")),
        diagnostics=_diagnostics(paths.processed("weighting_diagnostics.csv")),
        weights_meta=meta,
        n_replicates=n_rep,
        sources={"estimates": est_path, "targets": tgt_path},
        county_names=_county_names(paths),
        gates=_ingest_report(paths.processed("gates.json")),
        sae=_sae(paths.processed("sae.csv")),
        sae_spec=(_spec(paths.estimands) or {}).get("sae") or None,
        scoring=_spec(paths.scoring),
        design_spec=_design_sources(paths),
        test_parts=_test_parts(paths),
        populations=_populations(paths.processed("populations.csv")),
        ci_level=float(((_spec(paths.estimands) or {}).get("ci") or {}).get("level", 0.95)),
    )


def _test_parts(paths: WavePaths) -> tuple[tuple[str, int, float], ...]:
    """Items and points per part of the test, counted from the wave's questionnaire."""
    parts: dict[str, list[float]] = {}
    for it in (_spec(paths.instrument) or {}).get("items") or []:
        if isinstance(it, dict) and it.get("dimension"):
            parts.setdefault(str(it["dimension"]), []).append(float(it.get("points") or 0))
    return tuple((d, len(v), sum(v)) for d, v in parts.items())


def _design_sources(paths: WavePaths) -> dict[str, Any] | None:
    """The control tables of design.yaml with their sources, for the methods text (None: unreadable)."""
    try:
        spec = load_design_spec(paths.design)
    except (SpecError, OSError):
        return None
    return {"weighting": {"controls": {t.name: {"file": t.file, "by": list(t.by), "source_zh": t.source_zh}
                                       for t in spec.controls.values()}}}


def _spec(path: Path) -> dict[str, Any] | None:
    """A wave spec read only for the methods text: absent or unreadable, the text says "未提供"."""
    if not path.exists():
        return None
    try:
        return read_yaml(path)
    except SpecError:
        return None


def _caution_by_policy(primary: pd.DataFrame, targets: pd.DataFrame) -> pd.DataFrame:
    """Cells the wave's policy publishes with a caution mark (targets.csv publish = caution): the headline
    estimate of those domains is printed, flagged, instead of withheld."""
    keys = set(zip(targets.loc[targets["publish"] == L.PUBLISH_CAUTION, "domain_type"],
                   targets.loc[targets["publish"] == L.PUBLISH_CAUTION, "domain"], strict=True))
    if not keys:
        return primary
    hit = (primary["estimand_id"] == L.HEADLINE) & pd.Series(
        [k in keys for k in zip(primary["domain_type"], primary["domain"], strict=True)], index=primary.index)
    primary = primary.copy()
    primary.loc[hit, "reliability"] = L.CAUTION
    return primary


def _sae(path: Path) -> pd.DataFrame | None:
    if not path.exists():
        return None
    try:
        sae = read_table(path, "sae")
    except ValueError as err:
        raise InputError(f"{err} Re-run the estimate stage to rewrite it.") from None
    if "model_lci" not in sae.columns:
        raise InputError(f"{path} has no model_lci/model_uci columns (written by an older version of the estimate "
                         "stage); re-run the estimate stage.")
    return sae
