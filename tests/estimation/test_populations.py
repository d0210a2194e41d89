"""populations.csv: the weighted population of every domain (the base of the bulletin's 人数)."""

import numpy as np
import pandas as pd
import pytest

from pipeline.estimation import run_estimate
from pipeline.schemas import POPULATIONS
from pipeline.tableio import read_table
from tests.estimation.conftest import write_wave


@pytest.fixture(scope="module")
def wave(tmp_path_factory):
    paths = write_wave(tmp_path_factory.mktemp("pop"))
    run_estimate(paths, progress=False)
    return paths


def test_populations_are_the_weight_sums_of_every_domain(wave):
    pop = read_table(wave.processed("populations.csv"), POPULATIONS).set_index(["domain_type", "domain"])
    r = pd.read_parquet(wave.processed("respondents.parquet"))
    w = pd.read_parquet(wave.processed("weights.parquet"))
    m = r.merge(w[["respondent_id", "w_final"]], on="respondent_id")
    assert pop.loc[("overall", "全市"), "population"] == pytest.approx(m["w_final"].sum(), rel=1e-12)
    for county, s in m.groupby("county")["w_final"].sum().items():
        assert pop.loc[("county", county), "population"] == pytest.approx(s, rel=1e-12)
    farmers = m.loc[m["is_farmer"], "w_final"].sum()
    assert pop.loc[("group", "农民"), "population"] == pytest.approx(farmers, rel=1e-12)
    assert (pop["n"] > 0).all() and np.isfinite(pop["se"]).all() and (pop["variance_method"] == "replicate").all()
    # a county's population is the sum of its urban and rural populations
    both = pop.xs("county_urban", level="domain_type")["population"]
    for county in m["county"].unique():
        parts = both[[d for d in both.index if d.startswith(county + "/")]].sum()
        assert parts == pytest.approx(pop.loc[("county", county), "population"], rel=1e-12)
