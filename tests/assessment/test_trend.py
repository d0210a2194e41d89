"""Trend tables, wave differences and the break-in-series rule: waves with another scoring rule are never
joined, in tables, projections or figures."""

from __future__ import annotations

import math

import numpy as np
import pytest

from pipeline.assessment import figures as F
from pipeline.assessment.projection import project
from pipeline.assessment.spec import load_assessment
from pipeline.assessment.trend import changes_table, trend_table
from pipeline.assessment.waves import assign_series, load_wave, stack
from pipeline.errors import InputError
from tests.assessment.synth import MILLER, TAYLOR_SE, make_root, rising

DOMAINS = ("overall", "county", "group")


def _load(root, waves):
    spec = load_assessment(root / "survey_instruments" / "assessment.yaml")
    return spec, stack([load_wave(w, root, "literate", DOMAINS) for w in waves])


def test_primary_variance_method_is_read(tmp_path):
    root = make_root(tmp_path, rising(2021, 2022))
    _, st = _load(root, [2021, 2022])
    assert not np.isclose(st["se"], TAYLOR_SE).any()  # the replicate rows, not the taylor ones
    assert set(st["variance_method"]) == {"replicate"}


def test_difference_se_df_and_test_hand_worked(tmp_path):
    # city 12% (se 0.3 points) → 15% (se 0.4 points), each on 40 df:
    # diff 0.03, se = sqrt(0.003² + 0.004²) = 0.005, t = 6;
    # Satterthwaite df = (9e-6 + 16e-6)² / ((9e-6)²/40 + (16e-6)²/40) = 625e-12·40 / 337e-12 = 74.18
    waves = rising(2021, 2022)
    waves[2021]["city"], waves[2022]["city"] = (0.12, 0.003), (0.15, 0.004)
    root = make_root(tmp_path, waves)
    spec, st = _load(root, [2021, 2022])
    ch = changes_table(st, spec.baseline, 0.95)
    row = ch[(ch["comparison"] == "consecutive") & (ch["domain"] == "全市")].iloc[0]
    assert row["diff"] == pytest.approx(0.03)
    assert row["se"] == pytest.approx(0.005)
    assert row["t"] == pytest.approx(6.0)
    assert row["df"] == pytest.approx(625 * 40 / 337)
    assert row["p_value"] < 1e-6 and bool(row["significant"])
    from scipy import stats
    tq = stats.t.ppf(0.975, 625 * 40 / 337)
    assert row["lci"] == pytest.approx(0.03 - tq * 0.005)


def test_baseline_with_another_rule_is_descriptive_only(tmp_path):
    root = make_root(tmp_path, rising(2021, 2023))
    spec, st = _load(root, [2021, 2022, 2023])
    ch = changes_table(st, spec.baseline, 0.95)
    base = ch[ch["comparison"] == "since_baseline"]
    assert len(base) == 3 and not base["comparable"].any()
    assert base["se"].isna().all() and base["p_value"].isna().all()
    assert base["note"].str.contains("口径不同").all()
    assert base["diff"].iloc[0] == pytest.approx(0.121 - 0.112)


def test_baseline_with_the_same_rule_and_se_is_tested(tmp_path):
    # a baseline declared under the waves' rule with se 0.008: 2021 city 12.1% (se 0.6 points)
    # diff 0.009, se = sqrt(0.006² + 0.008²) = 0.01, z = 0.9
    root = make_root(tmp_path, rising(2021, 2021))
    spec_path = root / "survey_instruments" / "assessment.yaml"
    text = spec_path.read_text(encoding="utf-8").replace("se: null", "se: 0.008").replace(
        "rule: provincial_2020_unpublished", "rule: threshold_total")
    spec_path.write_text(text, encoding="utf-8")
    spec, st = _load(root, [2021])
    row = changes_table(st, spec.baseline, 0.95).iloc[0]
    assert bool(row["comparable"])
    assert row["se"] == pytest.approx(0.01)
    assert row["t"] == pytest.approx(0.9)
    assert row["p_value"] == pytest.approx(2 * (1 - 0.8159399), abs=1e-6)


def test_series_start_at_every_rule_change():
    assert assign_series({2021: "a", 2022: "a", 2023: "b", 2024: "b"}) == {2021: 1, 2022: 1, 2023: 2, 2024: 2}
    # a rule that comes back after another is a third series, not a return to the first
    assert assign_series({2021: "a", 2022: "b", 2023: "a"}) == {2021: 1, 2022: 2, 2023: 3}


def test_miller_wave_is_never_joined(tmp_path):
    root = make_root(tmp_path, rising(2021, 2024, rule_of={2022: MILLER}))
    spec, st = _load(root, [2021, 2022, 2023, 2024])
    assert dict(zip(st["wave"], st["series"], strict=True)) == {2021: 1, 2022: 2, 2023: 3, 2024: 3}
    ch = changes_table(st, spec.baseline, 0.95)
    tested = ch[ch["comparison"] != "since_baseline"]
    spans = {(a, b) for a, b in zip(tested["wave_from"], tested["wave_to"], strict=True)}
    assert spans == {(2023, 2024)}  # 2021→2022, 2022→2023 and 2021→2023 all cross a break
    proj = project(trend_table(st), 2025, 0.16, ">", 0.8, 2)
    assert set(proj["waves"]) == {"2023–2024"} and (proj["k"] == 2).all()


def test_figure_lines_do_not_cross_a_break(tmp_path):
    root = make_root(tmp_path, rising(2021, 2024, rule_of={2021: MILLER, 2022: MILLER}))
    spec, st = _load(root, [2021, 2022, 2023, 2024])
    fig = F.render(F.fig_city_trend, trend_table(st), spec, None, 2024)
    ax = fig.axes[0]
    survey_lines = [ln for ln in ax.get_lines() if ln.get_marker() == "o"]
    assert sorted(tuple(int(x) for x in ln.get_xdata()) for ln in survey_lines) == [(2021, 2022), (2023, 2024)]
    assert any(t.get_text() == "口径变化" for t in ax.texts)
    baseline = [ln for ln in ax.get_lines() if ln.get_marker() == "D"]
    assert len(baseline) == 1 and list(baseline[0].get_xdata()) == [2020]  # a lone marker, not joined


def test_figure_lines_stop_at_a_suppressed_wave(tmp_path):
    waves = rising(2021, 2023)
    waves[2022]["suppressed"] = ["全市"]
    root = make_root(tmp_path, waves)
    spec, st = _load(root, [2021, 2022, 2023])
    ax = F.render(F.fig_city_trend, trend_table(st), spec, None, 2023).axes[0]
    survey_lines = [ln for ln in ax.get_lines() if ln.get_marker() == "o"]
    assert sorted(tuple(int(x) for x in ln.get_xdata()) for ln in survey_lines) == [(2021,), (2023,)]


def test_suppressed_cells_show_no_number_in_changes(tmp_path):
    waves = rising(2021, 2023)
    waves[2022]["suppressed"] = ["安溪县"]
    root = make_root(tmp_path, waves)
    spec, st = _load(root, [2021, 2022, 2023])
    ch = changes_table(st, spec.baseline, 0.95)
    rows = ch[ch["domain"] == "安溪县"].set_index(["wave_from", "wave_to"])
    assert np.isnan(rows.loc[(2021, 2022), "est_to"]) and np.isnan(rows.loc[(2021, 2022), "diff"])
    assert np.isnan(rows.loc[(2022, 2023), "est_from"]) and not np.isnan(rows.loc[(2022, 2023), "est_to"])
    assert not np.isnan(rows.loc[(2021, 2023), "diff"])  # the waves either side are still compared


def test_missing_wave_output_is_a_clear_error(tmp_path):
    root = make_root(tmp_path, rising(2021, 2021))
    (root / "survey_instruments" / "2022").mkdir()
    with pytest.raises(InputError, match=r"2022.*make survey-2022"):
        load_wave(2022, root, "literate", DOMAINS)


def test_trend_values_carry_over_unchanged(tmp_path):
    root = make_root(tmp_path, rising(2021, 2022))
    _, st = _load(root, [2021, 2022])
    t = trend_table(st)
    city = t[t["domain_type"] == "overall"].sort_values("wave")
    assert city["est"].tolist() == pytest.approx([0.121, 0.132])
    assert city["se"].tolist() == pytest.approx([0.006, 0.006])
    assert math.isclose(float(city["lci"].iloc[0]), float(st.loc[st["domain"] == "全市", "lci"].iloc[0]))
