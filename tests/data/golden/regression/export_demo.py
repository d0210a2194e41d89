"""Write the demo-wave analysis columns that make_golden.R fits (run from the checkout after
`make survey-2024`):  .venv/bin/python tests/data/golden/regression/export_demo.py

demo_wave.csv: every respondent, design and model columns only (no identifiers).
demo_jkn.csv: the respondents of two counties with the JKn replicate weights of their PSUs, and
demo_jkn_rscales.csv their rscales. The whole wave's 161 replicate columns would make a 20 MB fixture;
the two counties form a complete design of their own (all their strata, all their replicates), which is
what the replicate fit needs to be compared with R.
"""

from pathlib import Path

import numpy as np
import pandas as pd

from pipeline.estimation.run import analysis_frame
from pipeline.paths import wave_paths
from pipeline.survey_design.record import RECORD, read_record

HERE = Path(__file__).resolve().parent
COLS = ["stratum", "psu", "county_code", "w_final", "literate", "education", "age_band", "sex", "urban"]
JKN_COUNTIES = ["350504", "QZKF"]

paths = wave_paths(2024)
wpath = paths.processed("weights.parquet")
frame = analysis_frame(pd.read_parquet(paths.processed("respondents.parquet")),
                       pd.read_parquet(paths.processed("scores.parquet")), pd.read_parquet(wpath))
frame = frame.sort_values(["stratum", "psu", "respondent_id"]).reset_index(drop=True)
out = frame[COLS].copy()
out["literate"] = out["literate"].astype("Float64")
out.to_csv(HERE / "demo_wave.csv", index=False, float_format="%.12g")

record = read_record(paths.processed(RECORD))  # the weight stage's design record: replicate columns and scales
rep = record.replicates
rep_cols = list(record.replicate_columns)
sel = frame["county_code"].isin(JKN_COUNTIES).to_numpy()
mat = frame.loc[sel, rep_cols].to_numpy(float)
w = frame.loc[sel, "w_final"].to_numpy(float)
# a replicate belongs to the two counties when it changes their respondents' weights and nobody else's
# (calibration margins are nested in counties, so the other replicates leave these rows as they are)
outside = frame.loc[~sel, rep_cols].to_numpy(float)
mine = np.flatnonzero(np.isclose(outside, frame.loc[~sel, "w_final"].to_numpy(float)[:, None], rtol=1e-6).all(0)
                      & ~np.isclose(mat, w[:, None], rtol=1e-12).all(0))
others = np.setdiff1d(np.arange(len(rep_cols)), mine)
assert np.isclose(mat[:, others], w[:, None], rtol=1e-6).all(), "replicates of other counties move these weights"
jkn = out[sel].reset_index(drop=True)
for k, j in enumerate(mine):
    jkn[f"rep_{k + 1:03d}"] = mat[:, j]
jkn.to_csv(HERE / "demo_jkn.csv", index=False, float_format="%.12g")
pd.DataFrame({"rscales": np.asarray(rep["rscales"], float)[mine]}).to_csv(
    HERE / "demo_jkn_rscales.csv", index=False, float_format="%.12g")
print(len(out), "rows;", int(sel.sum()), "rows and", len(mine), "replicates in the JKn extract; scale",
      rep.get("scale"), "mse", rep.get("mse"))
