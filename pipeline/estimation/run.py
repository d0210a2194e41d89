"""run_estimate: processed tables + wave spec → estimates.csv, targets.csv, sae.csv."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from pipeline import stages
from pipeline.errors import InputError, SpecError
from pipeline.estimation import gates
from pipeline.estimation.design import Design, to_binary
from pipeline.estimation.domains import Partition, column_codes, partition_by, partition_flag, restrict
from pipeline.estimation.sae import COVARIATES as SAE_COVARIATES
from pipeline.estimation.sae import METHODS as SAE_METHODS
from pipeline.estimation.sae import area_covariates, area_estimates
from pipeline.estimation.spec import DomainType, EstimandsSpec, load_estimands
from pipeline.estimation.targets import verdicts
from pipeline.paths import WavePaths
from pipeline.progress import Timer, progress
from pipeline.schemas import ESTIMATES, POPULATIONS, RESPONDENTS, SAE, SCORES, TARGETS, WEIGHTS
from pipeline.survey_design.record import RECORD, DesignRecord, read_record
from pipeline.survey_design.replicate_blocks import BLOCK_COLUMN, REPLICATE_FILE, ReplicateBlocks, read_blocks
from pipeline.tableio import read_table, stage_commit, write_json, write_table
from pipeline.vocabulary import OVERALL_LABEL, VARIANCE_METHOD_LABELS


@dataclass(frozen=True)
class EstimateResult:
    wave: int
    respondents: int
    estimates: int
    domains: int
    variance_methods: tuple[str, ...]
    verdict_overall: str
    met: int
    not_met: int
    undetermined: int
    sae_areas: int
    seconds: float

    def summary(self) -> str:
        methods = "、".join(VARIANCE_METHOD_LABELS.get(m, m) for m in self.variance_methods)
        verdict = {"met": "已达到目标", "not met": "未达到目标", "undetermined": "尚不能判定"}.get(
            self.verdict_overall, "无")
        return (f"{self.wave}年估计：受访者{self.respondents}人，{self.domains}个分组共{self.estimates}个估计（{methods}）；"
                f"{OVERALL_LABEL}对照目标：{verdict}；各分组已达到/未达到/尚不能判定 {self.met}/{self.not_met}/{self.undetermined}；"
                f"模型估计县区{self.sae_areas}个；用时{self.seconds:.1f}秒")


def analysis_frame(respondents: pd.DataFrame, scores: pd.DataFrame, weights: pd.DataFrame) -> pd.DataFrame:
    """One row per respondent with design, domain, score and weight columns; every respondent must be
    scored (possibly with missing scores) and weighted."""
    w = weights.rename(columns={"stratum": "_w_stratum", "psu": "_w_psu"})
    frame = _side_by_side(respondents, scores, w)  # the same ids in the same order: nobody is lost
    if frame is None:
        # object dtype: pandas' hash table isin, not the Arrow string array's one Python scalar per value
        ids = pd.Series(respondents["respondent_id"].astype(str).to_numpy(dtype=object), dtype=object)
        for name, tab in (("scores.parquet", scores), ("weights.parquet", weights)):
            lost = ids[~ids.isin(tab["respondent_id"].astype(str).to_numpy(dtype=object))]
            if len(lost):
                raise InputError(
                    f"{name} has no row for {len(lost)} respondent(s) of respondents.parquet, e.g. {list(lost[:3])}; "
                    "re-run the stage that writes it on the current respondents."
                )
        frame = respondents.merge(scores, on="respondent_id", how="left", validate="one_to_one")
        frame = frame.merge(w, on="respondent_id", how="left", validate="one_to_one")
    for col in ("stratum", "psu"):
        differ = frame[col].astype(str) != frame[f"_w_{col}"].astype(str)
        if differ.any():
            i = int(np.flatnonzero(differ.to_numpy())[0])
            raise InputError(
                f"weights.parquet and respondents.parquet disagree on {col!r} for respondent "
                f"{frame['respondent_id'].iloc[i]!r} ({frame[f'_w_{col}'].iloc[i]!r} vs {frame[col].iloc[i]!r}); "
                "re-run the weighting stage."
            )
    return frame.drop(columns=["_w_stratum", "_w_psu"])


def _side_by_side(*tables: pd.DataFrame) -> pd.DataFrame | None:
    """The tables' columns side by side when they hold the same respondents in the same order (every stage
    writes its table sorted by respondent_id) and share no other column: the frame the merges would make,
    without hashing a million ids twice. None otherwise (the caller merges)."""
    import pyarrow as pa
    import pyarrow.compute as pc

    first = tables[0]
    names = [c for t in tables for c in t.columns if c != "respondent_id"]
    if len(names) != len(set(names)) or any(len(t) != len(first) for t in tables):
        return None
    ids = pa.array(first["respondent_id"], from_pandas=True)
    for t in tables[1:]:
        other = pa.array(t["respondent_id"], from_pandas=True)
        if ids.null_count or other.null_count or not pc.all(pc.equal(ids, other)).as_py():
            return None
    return pd.concat([first.reset_index(drop=True)] + [t.drop(columns="respondent_id").reset_index(drop=True)
                                                       for t in tables[1:]], axis=1)


def domain_partitions(frame: pd.DataFrame, spec: EstimandsSpec) -> list[tuple[str, Partition]]:
    """(domain_type, partition) pairs; each partition's labels carry a `domain` column ("/" joins crosses)."""
    out = []
    coded = column_codes(frame, [c for dt in spec.domains for c in dt.by])  # each column coded once
    for dt in spec.domains:
        for part in _partitions(frame, dt, spec.overall_label, coded):
            out.append((dt.name, part))
    return out


def _joined(labels: pd.DataFrame, cols) -> pd.Series:
    if not cols:
        return pd.Series([""] * len(labels))
    return labels[list(cols)].astype(str).agg("/".join, axis=1)


def _partitions(frame, dt: DomainType, overall: str, coded: dict) -> list[Partition]:
    if dt.name == "overall":
        p = partition_by(frame, None)
        return [Partition(p.codes, pd.DataFrame({"domain": [overall]}))]
    base = partition_by(frame, list(dt.by), coded) if dt.by else None
    if not dt.flags:
        return [Partition(base.codes, pd.DataFrame({"domain": _joined(base.labels, dt.by).to_numpy()}))]
    parts = []
    for label, col in dt.flags:
        if col not in frame.columns:
            raise InputError(f"group flag column {col!r} (domain {dt.name}, {label}) is not in respondents.parquet.")
        flag = frame[col].fillna(False).astype(bool).to_numpy()
        if base is None:
            parts.append(partition_flag(flag, {"domain": label}))
        else:
            names = (_joined(base.labels, dt.by) + "/" + label).to_numpy()
            r = restrict(base, flag, {})
            parts.append(Partition(r.codes, pd.DataFrame({"domain": names})))
    return parts


def estimand_values(frame: pd.DataFrame, spec: EstimandsSpec) -> dict[str, tuple[str, np.ndarray]]:
    vals = {}
    for e in spec.estimands:
        if e.variable not in frame.columns:
            raise InputError(f"estimand {e.id!r}: column {e.variable!r} is not in the scores/respondents tables.")
        s = frame[e.variable]
        if e.equals is not None:
            v = np.where(s.isna().to_numpy(), np.nan, (s.astype(str) == e.equals).to_numpy(dtype=float))
        elif e.statistic == "proportion":
            v = to_binary(s, e.variable)
        else:
            v = pd.to_numeric(s, errors="coerce").to_numpy(dtype=float)
        vals[e.id] = (e.statistic, v)
    return vals


def calibration_columns(frame: pd.DataFrame, record: DesignRecord) -> tuple[pd.DataFrame, list[list[str]]]:
    """One column per calibration margin holding the code of the cell each respondent was calibrated in,
    looked up in the design record (so the residuals use the margins the weights were made on)."""
    frame = frame.copy(deep=False)  # new columns beside the same data: no copy of the replicate weights
    cols = []
    for i, m in enumerate(record.margins):
        col = f"_calibration_cell_{i}"
        frame[col] = m.codes(frame, "the analysis frame (respondents ⋈ scores ⋈ weights)")
        cols.append([col])
    return frame, cols


def psu_replicate_factors(frame: pd.DataFrame, record: DesignRecord, blocks: ReplicateBlocks
                          ) -> tuple[np.ndarray, np.ndarray]:
    """(PSU of each row, PSU × replicate factors) when the weighting made every replicate weight the weight
    times a factor of the PSU: the factors are read off the first row of positive weight in each PSU, as
    the design would find them in the n × R matrix, without reading or checking the other rows."""
    h = pd.factorize(frame[record.stratum])[0].astype(np.int64)
    k, uniq = pd.factorize(frame[record.psu])
    psu = pd.factorize(h * (len(uniq) + 1) + k)[0].astype(np.int64)
    w = blocks.full
    pos = np.flatnonzero(w > 0)
    first = np.full(int(psu.max()) + 1 if len(psu) else 0, -1, dtype=np.int64)
    first[psu[pos][::-1]] = pos[::-1]
    table = np.ones((len(first), blocks.n_replicates))
    table[first < 0] = 0.0
    is_first = np.full(len(w), -1, dtype=np.int64)
    is_first[first[first >= 0]] = np.flatnonzero(first >= 0)
    for rows, cols, vals in zip(blocks.rows, blocks.cols, blocks.values, strict=True):
        at = np.flatnonzero(is_first[rows] >= 0)
        if len(at) and len(cols):
            table[np.ix_(is_first[rows[at]], cols)] = vals[at] / w[rows[at], None]
    return psu, table


def read_weights(paths: WavePaths, record: DesignRecord) -> tuple[pd.DataFrame, ReplicateBlocks]:
    """weights.parquet: the weight columns, and the replicate weights as blocks (never the n × R matrix)."""
    weights = read_table(paths.processed("weights.parquet"), WEIGHTS, columns=list(WEIGHTS.names))
    return weights, read_replicates(paths, record, weights)


def read_replicates(paths: WavePaths, record: DesignRecord, weights: pd.DataFrame) -> ReplicateBlocks:
    """replicate_weights.parquet as blocks, for the rows of weights.parquet (`weights`)."""
    return read_blocks(paths.processed(REPLICATE_FILE), record.replicate_blocks, len(record.replicate_columns),
                         weights[record.weight].to_numpy(dtype=float), weights[BLOCK_COLUMN].to_numpy(),
                         weights["respondent_id"].to_numpy())


def build_design(frame: pd.DataFrame, record: DesignRecord, level: float = 0.95,
                 blocks: ReplicateBlocks | None = None, weights: pd.DataFrame | None = None) -> Design:
    """The wave's design as the weighting made it: everything from the design record. `blocks`: the
    replicate weights as read (`read_weights`) in the row order of `weights`; without them the frame's
    replicate columns are used."""
    calibration = None
    if record.margins:
        frame, margins = calibration_columns(frame, record)
        calibration = {"margins": margins, "regression_weight": record.regression_weight}
    kwargs = {}
    rep = record.replicates
    if record.replicate_columns:
        kwargs = dict(replicate_method=record.replicate_method, scale=rep["scale"], rscales=rep["rscales"],
                      mse=bool(rep["mse"]))
        if blocks is None:
            names = list(record.replicate_columns)
            blocks = ReplicateBlocks.dense(frame[record.weight].to_numpy(dtype=float),
                                           frame[names].to_numpy(dtype=float))
        elif weights is not None:  # the frame's rows in the order of weights.parquet's
            at = pd.Index(weights["respondent_id"].astype(str)).get_indexer(frame["respondent_id"].astype(str))
            if not np.array_equal(at, np.arange(len(at))):
                blocks = blocks.take(at)
        if record.constant_within_psu:
            kwargs["replicate_factors"] = psu_replicate_factors(frame, record, blocks)
        else:
            kwargs["replicate_weights"] = blocks
        if rep.get("psu_group"):  # grouped jackknife: df counted on the groups of PSUs
            key = frame[record.stratum].astype(str) + "|" + frame[record.psu].astype(str)
            units = key.map(rep["psu_group"])
            if units.isna().any():
                raise InputError(f"the design record ({RECORD}) lacks the jackknife group of some PSUs; re-run the "
                                 "weighting stage.")
            kwargs["variance_units"] = units.to_numpy(np.int64)
    return Design(frame, stratum=record.stratum, psu=record.psu, weight=record.weight, fpc=record.fpc,
                  lonely_psu=record.lonely_psu, calibration=calibration, level=level, **kwargs)


def estimate_table(design: Design, frame, spec: EstimandsSpec, methods, wave: int, show=True,
                   parts: list[tuple[str, Partition]] | None = None) -> pd.DataFrame:
    """`parts`: the domain partitions (domain_partitions), when the caller has them already."""
    parts = domain_partitions(frame, spec) if parts is None else parts
    partitions = [p for _, p in parts]
    vals = estimand_values(frame, spec)
    jobs = [(m, stat) for m in methods for stat in ("proportion", "mean", "total")
            if any(s == stat for s, _ in vals.values())]
    frames = []
    for method, stat in progress(jobs, len(jobs), "estimates", enabled=show):
        chosen = {k: v for k, (s, v) in vals.items() if s == stat}
        r = design.estimate(chosen, stat, partitions, variance=method, ci_method=spec.ci_method)
        r["statistic"] = stat
        frames.append(r)
    res = pd.concat(frames, ignore_index=True)
    dtypes = np.array([t for t, _ in parts], dtype=object)
    labels = [p.labels["domain"].to_numpy() for _, p in parts]
    res["domain_type"] = dtypes[res["partition"].to_numpy()]
    res["domain"] = [labels[t][i] for t, i in zip(res["partition"], res["domain_index"], strict=True)]
    res["wave"] = int(wave)
    res = res.rename(columns={"variable": "estimand_id"})
    res["reason"] = res["reason"].replace("", pd.NA)
    return res[ESTIMATES.names]


def population_table(design: Design, frame: pd.DataFrame, spec: EstimandsSpec, method: str,
                     wave: int, parts: list[tuple[str, Partition]] | None = None) -> pd.DataFrame:
    """The weighted population (人数 base) of every domain: the design-based total of 1 over its respondents,
    with its standard error, in the same vectorised pass as every other estimate (populations.csv)."""
    parts = domain_partitions(frame, spec) if parts is None else parts
    r = design.estimate({"population": np.ones(len(frame))}, "total", [p for _, p in parts], variance=method)
    dtypes = np.array([t for t, _ in parts], dtype=object)
    labels = [p.labels["domain"].to_numpy() for _, p in parts]
    return pd.DataFrame({
        "wave": int(wave), "domain_type": dtypes[r["partition"].to_numpy()],
        "domain": [labels[t][i] for t, i in zip(r["partition"], r["domain_index"], strict=True)],
        "n": r["n"].astype(np.int64), "population": r["est"], "se": r["se"], "variance_method": method,
    })


def sae_table(estimates: pd.DataFrame, frame: pd.DataFrame, design: Design, spec: EstimandsSpec,
              primary: str, weight: str) -> pd.DataFrame | None:
    """Fay–Herriot estimates of every area (estimands.yaml `sae:`), from the direct estimates."""
    cfg = spec.sae
    if not cfg:
        return None
    area_type = cfg.get("area", "county")
    estimand = cfg.get("estimand", "literate")
    sel = (estimates["estimand_id"] == estimand) & (estimates["variance_method"] == primary)
    direct = estimates[sel & (estimates["domain_type"] == area_type)].sort_values("domain").reset_index(drop=True)
    w = frame[weight].to_numpy(float)
    area = frame[area_type].astype(str).to_numpy()
    pop = pd.Series(w).groupby(area).sum()
    covs = list(cfg.get("covariates", ["urban_share"]))
    unknown = [c for c in covs if c not in SAE_COVARIATES]
    if unknown:
        raise SpecError(f"estimands.yaml sae.covariates {unknown}: the county model knows {list(SAE_COVARIATES)}.")
    # area covariates: census shares, reproduced by the calibrated weights (pipeline.estimation.sae.COVARIATES)
    x = area_covariates(frame, area_type, weight, covs).reindex(direct["domain"])
    for c in covs:
        direct[c] = x[c].to_numpy()
    method = str(cfg.get("method", "REML"))
    if method not in SAE_METHODS:
        raise SpecError(f"estimands.yaml sae.method {method!r} is not one of {list(SAE_METHODS)}.")
    bench = cfg.get("benchmark", "none")
    if bench not in ("none", "overall"):
        raise SpecError(f"estimands.yaml sae.benchmark {bench!r}: use none, or overall (the population-weighted "
                        "area estimates add up to the direct estimate of the whole population).")
    shares = (pop / pop.sum()).reindex(direct["domain"]).to_numpy()
    total = None
    if bench == "overall":
        total = float(estimates.loc[sel & (estimates["domain_type"] == "overall"), "est"].iloc[0])
    d = pd.DataFrame({"area": direct["domain"], "n": direct["n"], "est": direct["est"], "se": direct["se"],
                      **{c: direct[c] for c in covs}})
    out = area_estimates(d, covs, method, spec.level, shares, total, str(cfg.get("variances", "direct")))
    out["population_share"] = shares
    return out


def run_estimate(paths: WavePaths, progress: bool = True) -> EstimateResult:
    timer = Timer()
    stages.begin("estimate", paths)
    spec = load_estimands(paths.estimands)
    record = read_record(paths.processed(RECORD))
    respondents = read_table(paths.processed("respondents.parquet"), RESPONDENTS)
    scores = read_table(paths.processed("scores.parquet"), SCORES)
    weights = read_table(paths.processed("weights.parquet"), WEIGHTS, columns=list(WEIGHTS.names))
    frame = analysis_frame(respondents, scores, weights)  # a respondent without weights is named first
    blocks = read_replicates(paths, record, weights)
    design = build_design(frame, record, spec.level, blocks, weights)
    # the primary method is the record's (decided once, by the weighting stage, from design.yaml); it is
    # always estimated, first, whatever estimands.yaml lists beside it
    primary = record.primary
    methods = [primary] + [m for m in spec.variance_methods if m != primary
                           and (m != "replicate" or design.replicates is not None)]
    parts = domain_partitions(frame, spec)  # one set of domains: the design builds its cell matrices once
    est = estimate_table(design, frame, spec, methods, paths.wave, show=progress, parts=parts)
    checked = gates.evaluate(paths, frame, est, spec.target.estimand, spec.overall_label,
                             gates.load_gate_spec(paths.estimands), record.weight, primary)
    try:
        gates.enforce(checked, paths.wave)
    except gates.GateError:
        for name in stages.OUTPUTS["estimate"]:  # no stale result stays published
            paths.processed(name).unlink(missing_ok=True)
        raise
    tsel = est[(est["estimand_id"] == spec.target.estimand) & (est["variance_method"] == primary)
               & est["domain_type"].isin(spec.target.domain_types)]
    targets = verdicts(tsel, spec.target.value, spec.level, spec.target.suppressed)
    sae = sae_table(est, frame, design, spec, primary, record.weight)
    populations = population_table(design, frame, spec, primary, paths.wave, parts)
    with stage_commit("estimate", stages.target("estimate", paths)):
        write_json(gates.as_json(checked), paths.processed("gates.json"))
        write_table(populations, paths.processed("populations.csv"), POPULATIONS)
        write_table(est, paths.processed("estimates.csv"), ESTIMATES)
        write_table(targets, paths.processed("targets.csv"), TARGETS)
        if sae is not None:
            write_table(sae, paths.processed("sae.csv"), SAE)
    if sae is None:  # an sae.csv from a run whose spec still asked for it would otherwise pass for current
        paths.processed("sae.csv").unlink(missing_ok=True)
    overall = targets.loc[targets["domain_type"] == "overall", "verdict"]
    counts = targets["verdict"].value_counts()
    return EstimateResult(paths.wave, len(frame), len(est), int(est.groupby(["domain_type", "domain"]).ngroups),
                          tuple(methods), str(overall.iloc[0]) if len(overall) else "n/a",
                          int(counts.get("met", 0)), int(counts.get("not met", 0)),
                          int(counts.get("undetermined", 0)), 0 if sae is None else int(sae["model_est"].notna().sum()),
                          timer.seconds)
