"""Deliveries as real fieldwork companies send them, made from the demo delivery, and the stages run on them."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pyreadstat

from pipeline.estimation import run_estimate
from pipeline.ingest import run_ingest
from pipeline.paths import WavePaths
from pipeline.reporting import run_report
from pipeline.scoring import run_score
from pipeline.weighting import run_weight
from tests.conftest import make_project


def copy_wave(demo: WavePaths, root: Path) -> WavePaths:
    make_project(root)
    shutil.copytree(demo.raw, root / "data" / "raw" / str(demo.wave))
    return WavePaths(demo.wave, root)


def read_sav(path: Path) -> tuple[pd.DataFrame, object]:
    return pyreadstat.read_sav(str(path), user_missing=True, apply_value_formats=False)


def resave(paths: WavePaths, data: pd.DataFrame, meta, keep_missing: bool = True) -> None:
    """Write survey.sav again, as a statistician re-saving it would (labels kept; the declared
    user-missing ranges kept or lost), and drop the now stale checksum list."""
    ranges = {}
    if keep_missing:
        ranges = {c: v for c, v in (meta.missing_ranges or {}).items() if c in data.columns}
    labels = dict(zip(meta.column_names, meta.column_labels, strict=True))
    values = {c: meta.value_labels[n] for c, n in meta.variable_to_label.items()
              if n in meta.value_labels and c in data.columns}
    pyreadstat.write_sav(data, str(paths.survey), column_labels={c: labels.get(c) for c in data.columns},
                         variable_value_labels=values, missing_ranges=ranges)
    paths.checksums.unlink(missing_ok=True)


def item_columns(data: pd.DataFrame) -> list[str]:
    return [c for c in data.columns if c.startswith("Q")]


def blank_missing_codes(paths: WavePaths) -> None:
    """The re-save that loses the declared missing codes: 97/98/99 become blanks."""
    data, meta = read_sav(paths.survey)
    cols = item_columns(data)
    data[cols] = data[cols].where(~data[cols].isin([97, 98, 99]))
    resave(paths, data, meta, keep_missing=False)


def refuse_items(paths: WavePaths, share: float, n_items: int, seed: int = 5) -> int:
    """`share` of the records refuse `n_items` single-column items (code 98): more than scoring allows."""
    data, meta = read_sav(paths.survey)
    rng = np.random.default_rng(seed)
    rows = rng.random(len(data)) < share
    single = [c for c in item_columns(data) if "_" not in c][:n_items]
    data.loc[rows, single] = 98.0
    resave(paths, data, meta)
    return int(rows.sum())


def run_through_estimate(paths: WavePaths) -> None:
    run_ingest(paths, progress=False)
    run_score(paths, progress=False)
    run_weight(paths, progress=False)
    run_estimate(paths, progress=False)


def run_all(paths: WavePaths):
    run_through_estimate(paths)
    return run_report(paths, progress=False)


def report_text(paths: WavePaths) -> str:
    """The report's page as run_report writes it, without drawing the figures (which take most of the
    stage's time and say nothing about the delivery)."""
    from pipeline.reporting.html import build_html
    from pipeline.reporting.inputs import load_inputs

    page, _ = build_html(load_inputs(paths), {}, {}, embed_font=False)
    return page


def fewer_domains(paths: WavePaths) -> None:
    """Estimate overall, per county and per key group only: the delivery-mode tests compare weighting
    steps, and the 100-odd domains of the full spec multiply their time."""
    import yaml

    spec = yaml.safe_load(paths.estimands.read_text(encoding="utf-8"))
    spec["domains"] = {k: v for k, v in spec["domains"].items() if k in ("overall", "county", "group")}
    spec["target"]["domain_types"] = ["overall", "county", "group"]
    spec["variance"]["methods"] = ["replicate"]
    paths.estimands.write_text(yaml.safe_dump(spec, allow_unicode=True, sort_keys=False), encoding="utf-8")
