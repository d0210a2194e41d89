"""Small synthetic project roots for assessment tests: per-wave estimates.csv, targets.csv and specs.

Each wave gets the headline estimand for the city, three counties and two groups, with both variance
methods (the taylor rows carry a distinctive SE so a test can tell which method was read), and a
scoring.yaml whose rule is chosen by the test: a Miller-style wave (all_dimensions) breaks the series.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pandas as pd
from scipy import stats

from pipeline.estimation import verdicts
from pipeline.paths import ROOT
from pipeline.survey_design.record import write_record
from pipeline.tableio import write_table, write_text
from tests.design_records import record

COUNTIES = ("鲤城区", "丰泽区", "安溪县")
GROUPS = ("农民", "老年人")
TAYLOR_SE = 0.0777
THRESHOLD = "rule: threshold_total\nparams: {cutoff: 70}\n"
MILLER = "rule: all_dimensions\nparams: {pass_share: 0.6}\n"


def scoring_yaml(rule_text: str) -> str:
    return ("schema_version: 1\n" + rule_text + "levels:\n  - {label: 具备, min: 70}\n  - {label: 较低, min: 0}\n"
            "max_missing_items: 6\n")


def _row(wave, dtype, domain, est, se, method, df=40.0, reliability="ok", level=0.95):
    lo, hi = stats.t.ppf([0.5 - level / 2, 0.5 + level / 2], df)
    lg = np.log(est / (1 - est))
    sl = se / (est * (1 - est))
    return {"wave": wave, "estimand_id": "literate", "statistic": "proportion", "domain_type": dtype,
            "domain": domain, "n": 800, "n_eff": 400.0, "est": est, "se": se,
            "lci": 1 / (1 + np.exp(-(lg + lo * sl))), "uci": 1 / (1 + np.exp(-(lg + hi * sl))), "ci_method": "logit",
            "df": df, "cv": se / est, "deff": 2.0, "variance_method": method, "reliability": reliability,
            "reason": None}


def make_root(tmp: Path, waves: dict[int, dict], copy_specs: bool = True) -> Path:
    """waves: wave → {"rule": THRESHOLD|MILLER, "city": (est, se), "counties": [(est, se)…],
    "groups": [(est, se)…], optional "suppressed": [domain…], optional "level" (ci.level, 0.95: the
    wave's estimands.yaml says it and its intervals are made at it)}."""
    root = tmp / "proj"
    if copy_specs:
        (root / "survey_instruments" / "plan").mkdir(parents=True, exist_ok=True)
        shutil.copy(ROOT / "survey_instruments" / "assessment.yaml", root / "survey_instruments" / "assessment.yaml")
        shutil.copy(ROOT / "survey_instruments" / "plan" / "targets.yaml",
                    root / "survey_instruments" / "plan" / "targets.yaml")
    for wave, w in waves.items():
        spec = root / "survey_instruments" / str(wave)
        spec.mkdir(parents=True, exist_ok=True)
        write_text(scoring_yaml(w.get("rule", THRESHOLD)), spec / "scoring.yaml")
        write_text("schema_version: 1\nvariance:\n  primary: replicate\n", spec / "design.yaml")
        level = w.get("level", 0.95)
        estimands = (ROOT / "survey_instruments" / "2024" / "estimands.yaml").read_text(encoding="utf-8")
        estimands = estimands.replace("level: 0.95", f"level: {level}").replace("wave: 2024", f"wave: {wave}")
        write_text(estimands, spec / "estimands.yaml")
        cells = [("overall", "全市", *w["city"])]
        cells += [("county", c, *v) for c, v in zip(COUNTIES, w["counties"], strict=True)]
        cells += [("group", g, *v) for g, v in zip(GROUPS, w["groups"], strict=True)]
        sup = set(w.get("suppressed", ()))
        rows = []
        for dtype, dom, est, se in cells:
            rel = "suppressed" if dom in sup else "ok"
            rows.append(_row(wave, dtype, dom, est, se, "replicate", reliability=rel, level=level))
            rows.append(_row(wave, dtype, dom, est, TAYLOR_SE, "taylor", reliability=rel, level=level))
        est = pd.DataFrame(rows)
        est["reason"] = est["reason"].astype("string")
        out = root / "data" / "processed" / str(wave)
        write_table(est, out / "estimates.csv", "estimates")
        rep = est[est["variance_method"] == "replicate"]
        write_table(verdicts(rep, 0.16, level), out / "targets.csv", "targets")
        write_record(record([f"w_rep_{i:03d}" for i in range(1, 3)], [0.5, 0.5]), out / "design.json")
    return root


def rising(first: int = 2021, last: int = 2025, rule_of=None) -> dict[int, dict]:
    """A city rising 1.1 points a year from 12.1%, counties spread around it; SEs of real-wave size."""
    out = {}
    for i, wave in enumerate(range(first, last + 1)):
        c = 0.121 + 0.011 * i
        out[wave] = {"rule": (rule_of or {}).get(wave, THRESHOLD), "city": (c, 0.006),
                     "counties": [(c + 0.08, 0.02), (c + 0.01, 0.02), (c - 0.06, 0.012)],
                     "groups": [(0.03 + 0.002 * i, 0.007), (0.04 + 0.003 * i, 0.012)]}
    return out
