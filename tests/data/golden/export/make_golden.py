"""Golden R output for the export tests: the test session's demo wave (tests/conftest.py: the 2024 demo at
DEMO_PER_STRATUM interviews per county unit) through the pipeline and `export`, then the exported R syntax
run by R's survey package on the exported CSV. Run from the checkout (needs Rscript with survey):

    PYTHONPATH=. .venv/bin/python tests/data/golden/export/make_golden.py

Writes design_2024.R (the script as exported) and r_output.txt (what it printed).

r_output_survey_2024.txt is the same script run on the export of the full demo wave (checked by the slow
test tests/export/test_full_demo.py):

    make survey-2024
    LANG=C.UTF-8 Rscript data/processed/2024/export/design_2024.R data/processed/2024/export \
        > tests/data/golden/export/r_output_survey_2024.txt
"""

import os
import shutil
import subprocess
import tempfile
from pathlib import Path

from pipeline.export import run_export
from pipeline.ingest import run_ingest
from pipeline.paths import WavePaths
from pipeline.simulate import run_simulate
from tests.conftest import DEMO_PER_STRATUM, make_project
from tests.export.build import estimated_copy

HERE = Path(__file__).resolve().parent

with tempfile.TemporaryDirectory() as tmp:
    tmp = Path(tmp)
    raw = WavePaths(2024, make_project(tmp / "raw"))
    run_simulate(2024, raw.raw, per_stratum=DEMO_PER_STRATUM, root=raw.root)
    run_ingest(raw, progress=False)
    paths = estimated_copy(raw, tmp / "wave")
    res = run_export(paths, ["csv"], progress=False)
    script = res.out / "design_2024.R"
    printed = subprocess.run(["Rscript", str(script), str(res.out)], check=True, capture_output=True, text=True,
                             env={**os.environ, "LANG": "C.UTF-8", "LC_ALL": "C.UTF-8"}).stdout
    shutil.copyfile(script, HERE / "design_2024.R")
    (HERE / "r_output.txt").write_text(printed, encoding="utf-8")
    print(printed)
