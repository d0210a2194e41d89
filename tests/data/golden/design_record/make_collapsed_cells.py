# Made once against commit 897e9bd (before the design record), whose estimation replayed the
# weighting log of merges: `python make_collapsed_cells.py collapsed_cells.csv` run from that checkout.
# There the wave came from tests/weighting/synthetic.py, make_wave(seed=5, counties=COUNTIES[:6],
# psu_per_county=6); pipeline/simulate/synthetic.py now builds it with the same draws in the same order
# (draw_wave + weighting_tables below), so running this at 897e9bd takes the old import instead.
"""Expected calibration cells of a wave with collapsed cells, from the replay of the weighting log
(the code before the design record: pipeline/estimation/run.py calibration_cells)."""
import sys
import tempfile
from pathlib import Path

import pandas as pd

sys.path.insert(0, ".")
from pipeline.estimation.run import calibration_cells
from pipeline.paths import ROOT, WavePaths
from pipeline.simulate.synthetic import draw_wave, weighting_tables, write_weighting_inputs
from pipeline.tableio import read_metadata
from pipeline.vocabulary import counties
from pipeline.weighting import run_weight

design = (ROOT / "survey_instruments" / "2024" / "design.yaml").read_text(encoding="utf-8")
design = design.replace("min_count: 10 ", "min_count: 15 ")
tables = weighting_tables(draw_wave(seed=5, counties=counties().codes[:6], psu_per_county=6))
root = Path(tempfile.mkdtemp())
write_weighting_inputs(root, tables, design)
paths = WavePaths(2024, root=root)
run_weight(paths, progress=False)
meta = read_metadata(paths.processed("weights.parquet"))
cal = meta["calibration"]
print(len(cal["collapsed"]), "merges", file=sys.stderr)
frame = tables["respondents"].copy()
out, cols = calibration_cells(frame, cal["margins"], cal["control_tables"], cal["collapsed"])
res = pd.DataFrame({"respondent_id": out["respondent_id"].astype(str)})
for name, (c,) in zip(cal["control_tables"], cols):
    res[name] = out[c].astype(str)
    res[name + "_code"] = pd.factorize(out[c].astype(str), sort=True)[0]
res.sort_values("respondent_id").to_csv(sys.argv[1], index=False, encoding="utf-8-sig", lineterminator="\n")
