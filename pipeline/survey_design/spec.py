"""survey_instruments/<wave>/design.yaml, loaded once into one frozen design spec.

This is the only reader of design.yaml: the sampling design (strata, PSUs, FPC, lonely-PSU policy),
the delivery mode (parsed by pipeline/instruments/delivery.py), every weighting choice (classes,
margins, calibration method, tolerances, trimming bounds), the replicate method and seed, and the
primary variance method, whose spellings are normalised here and nowhere else. Every choice the
weighting makes comes from this file, so a wave's weights are reproducible from its spec; what the
weighting then did is written to the design record (pipeline/survey_design/record.py), which is what
the later stages read.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pipeline.errors import SpecError
from pipeline.instruments.delivery import Delivery, parse_delivery
from pipeline.instruments.load import read_yaml

LONELY_PSU = ("fail", "remove", "certainty", "adjust", "average")
REPLICATE_METHODS = ("JKn", "bootstrap")
# The variance methods and the spellings design.yaml and estimands.yaml may use for them.
VARIANCE_METHODS = ("replicate", "taylor")
_SPELLINGS = {"replicate": "replicate", "replicates": "replicate", "taylor": "taylor",
              "linearisation": "taylor", "linearization": "taylor"}


def variance_method(name: object, where: str, path: Path) -> str:
    """The variance method a spec names, in its one spelling (replicate | taylor)."""
    method = _SPELLINGS.get(str(name).lower())
    if method is None:
        raise SpecError(f"{path}: {where} {name!r} is not a variance method; write replicate (replicate weights) "
                        "or linearisation (Taylor linearisation).")
    return method


@dataclass(frozen=True)
class DesignColumns:
    stratum: str
    psu: str
    ssu: str | None
    fpc: str | None
    lonely_psu: str


@dataclass(frozen=True)
class ControlTable:
    name: str
    file: str
    by: tuple[str, ...]
    total: str = "population"
    source_zh: str | None = None  # where the totals come from, as the report cites it


@dataclass(frozen=True)
class CollapseRule:
    """Merge a category of `margin` with fewer than `min_count` respondents (0 = only empty ones are
    merged when min_count is 1) with its neighbour along `variable` (ordered by `order`)."""

    margin: str
    variable: str
    order: tuple[str, ...]
    min_count: int = 1
    min_psu: int = 1  # 2 keeps every category alive in each delete-one-PSU replicate


@dataclass(frozen=True)
class CalibrationSpec:
    method: str
    margins: tuple[str, ...]
    tolerance: float
    max_iter: int
    bounds: tuple[float, float] | None
    collapse: tuple[CollapseRule, ...]
    strict_replicates: bool = False  # a replicate that cannot meet its margins is an error, not a report


@dataclass(frozen=True)
class TrimmingSpec:
    by: str
    upper: float | None  # multiple of the median weight within `by`
    lower: float | None
    max_rounds: int
    slack: float  # relative tolerance on the bounds after the last re-calibration


@dataclass(frozen=True)
class ReplicateSpec:
    method: str
    replicates: int  # bootstrap only; JKn has one per PSU
    seed: int
    mse: bool
    groups: int | None = None  # JKn only: delete-a-group jackknife with this many groups per stratum


@dataclass(frozen=True)
class DesignSpec:
    path: Path
    design: DesignColumns
    nr_classes: tuple[str, ...]
    controls: dict[str, ControlTable]
    frame_check: str  # name of the control table whose county totals check the base weights
    calibration: CalibrationSpec
    trimming: TrimmingSpec | None
    replicates: ReplicateSpec
    primary: str  # replicate | taylor: the published variance method (variance.primary)
    delivery: Delivery = Delivery()


def _need(d: dict, key: str, where: str, path: Path) -> Any:
    if not isinstance(d, dict) or key not in d:
        raise SpecError(f"{path}: `{where}{key}` is missing. Add it (see survey_instruments/2024/design.yaml).")
    return d[key]


def _num(x: Any, where: str, path: Path, lo: float | None = None) -> float:
    try:
        v = float(x)
    except (TypeError, ValueError):
        raise SpecError(f"{path}: `{where}` must be a number, found {x!r}.") from None
    if lo is not None and not v > lo:
        raise SpecError(f"{path}: `{where}` must be > {lo}, found {v}.")
    return v


def _read(path: Path) -> dict:
    raw = read_yaml(path)
    if not isinstance(raw, dict):
        raise SpecError(f"{path}: design.yaml must be a mapping of sections (design, weighting, variance, delivery).")
    return raw


def load_delivery(path: str | Path) -> Delivery:
    """Only the `delivery:` section (ingest needs no more); absent file or section = a full delivery."""
    path = Path(path)
    return parse_delivery(_read(path).get("delivery") if path.exists() else None, path)


def simulation_seed(path: str | Path) -> int | None:
    """Only `simulation: {seed}` (the demo generator's seed for the wave); None without one."""
    path = Path(path)
    sim = (_read(path).get("simulation") if path.exists() else None) or {}
    if "seed" not in sim:
        return None
    try:
        return int(sim["seed"])
    except (TypeError, ValueError):
        raise SpecError(f"{path}: simulation.seed must be a whole number, found {sim['seed']!r}.") from None


def load_design_spec(path: str | Path) -> DesignSpec:
    path = Path(path)
    raw = _read(path)
    delivery = parse_delivery(raw.get("delivery"), path)

    d = _need(raw, "design", "", path)
    lonely = str(d.get("lonely_psu", "fail"))
    if lonely not in LONELY_PSU:
        raise SpecError(f"{path}: design.lonely_psu = {lonely!r}; choose one of {LONELY_PSU}.")
    design = DesignColumns(str(_need(d, "stratum", "design.", path)), str(_need(d, "psu", "design.", path)),
                           d.get("ssu"), d.get("fpc"), lonely)

    w = _need(raw, "weighting", "", path)
    controls = {}
    for name, c in (_need(w, "controls", "weighting.", path) or {}).items():
        controls[name] = ControlTable(name, str(_need(c, "file", f"weighting.controls.{name}.", path)),
                                      tuple(_need(c, "by", f"weighting.controls.{name}.", path)),
                                      str(c.get("total", "population")),
                                      None if c.get("source_zh") is None else str(c["source_zh"]))
    frame_check = str(w.get("frame_check", next(iter(controls), "")))
    if frame_check not in controls:
        raise SpecError(f"{path}: weighting.frame_check = {frame_check!r} is not one of the controls {list(controls)}.")

    nr = _need(w, "nonresponse", "weighting.", path)
    classes = tuple(_need(nr, "classes", "weighting.nonresponse.", path))

    c = _need(w, "calibration", "weighting.", path)
    margins = tuple(_need(c, "margins", "weighting.calibration.", path))
    unknown = [m for m in margins if m not in controls]
    if unknown:
        raise SpecError(f"{path}: calibration margins {unknown} are not in weighting.controls {list(controls)}.")
    bounds = c.get("bounds")
    if bounds is not None:
        if not (isinstance(bounds, list | tuple) and len(bounds) == 2):
            raise SpecError(f"{path}: weighting.calibration.bounds must be [lower, upper], found {bounds!r}.")
        lo, hi = (_num(b, "weighting.calibration.bounds", path) for b in bounds)
        if not (0 <= lo < 1 < hi):
            raise SpecError(f"{path}: calibration bounds must satisfy 0 <= lower < 1 < upper, found {bounds}.")
        bounds = (lo, hi)
    rules = []
    for r in c.get("collapse") or []:
        m = str(_need(r, "margin", "weighting.calibration.collapse[].", path))
        if m not in margins:
            raise SpecError(f"{path}: collapse rule for margin {m!r}, which is not a calibration margin.")
        var = str(_need(r, "variable", "weighting.calibration.collapse[].", path))
        if var not in controls[m].by:
            raise SpecError(f"{path}: collapse variable {var!r} is not a column of margin {m!r} {controls[m].by}.")
        rules.append(CollapseRule(m, var, tuple(str(x) for x in _need(r, "order", "weighting.calibration.collapse[].", path)),
                                  int(r.get("min_count", 1)), int(r.get("min_psu", 1))))
    calibration = CalibrationSpec(
        str(_need(c, "method", "weighting.calibration.", path)), margins,
        _num(c.get("tolerance", 1e-8), "weighting.calibration.tolerance", path, 0.0),
        int(c.get("max_iter", 100)), bounds, tuple(rules),
        str(c.get("replicate_nonconvergence", "report")) == "error")
    if str(c.get("replicate_nonconvergence", "report")) not in ("report", "error"):
        raise SpecError(f"{path}: weighting.calibration.replicate_nonconvergence must be report or error.")

    t = w.get("trimming")
    trimming = None
    if t:
        upper = None if t.get("upper") is None else _num(t["upper"], "weighting.trimming.upper", path, 1.0)
        lower = None if t.get("lower") is None else _num(t["lower"], "weighting.trimming.lower", path, 0.0)
        if lower is not None and lower >= 1:
            raise SpecError(f"{path}: weighting.trimming.lower must be below 1 (a multiple of the median), found {lower}.")
        trimming = TrimmingSpec(str(t.get("by", "county_code")), upper, lower, int(t.get("max_rounds", 20)),
                                _num(t.get("slack", 1e-3), "weighting.trimming.slack", path, 0.0))

    v = _need(raw, "variance", "", path)
    rep = _need(v, "replicates", "variance.", path)
    method = str(rep.get("method", "JKn"))
    if method not in REPLICATE_METHODS:
        raise SpecError(f"{path}: variance.replicates.method = {method!r}; choose one of {REPLICATE_METHODS}.")
    groups = rep.get("groups")
    if groups is not None:
        if method != "JKn" or isinstance(groups, bool) or not isinstance(groups, int) or groups < 2:
            raise SpecError(f"{path}: variance.replicates.groups = {groups!r}: a whole number of at least 2, and only "
                            "with method JKn (the delete-a-group jackknife); leave it out for one replicate per PSU.")
    replicates = ReplicateSpec(method, int(rep.get("replicates", 200)), int(_need(rep, "seed", "variance.replicates.", path)),
                               bool(rep.get("mse", False)), groups)
    if method == "bootstrap" and replicates.replicates < 2:
        raise SpecError(f"{path}: variance.replicates.replicates must be at least 2 for the bootstrap.")
    primary = variance_method(v.get("primary", "replicate"), "variance.primary", path)
    return DesignSpec(path, design, classes, controls, frame_check, calibration, trimming, replicates, primary,
                      delivery)
