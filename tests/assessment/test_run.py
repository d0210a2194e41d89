"""run_assess end to end on a synthetic project: five waves, demo indicator submissions, both kinds."""

from __future__ import annotations

import re

import pandas as pd
import pytest
from openpyxl import load_workbook

from pipeline.assessment.run import run_assess
from pipeline.cli import main
from pipeline.errors import PipelineError
from pipeline.plan.targets import load_plan
from pipeline.simulate.indicators import run_indicator_simulate
from tests.assessment.synth import make_root, rising


def _png_only(fig, out_dir, stem):
    import matplotlib.pyplot as plt

    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / f"{stem}.png"
    fig.savefig(path, dpi=40)
    plt.close(fig)
    return {"png": path}


@pytest.fixture(scope="module")
def project(tmp_path_factory):
    waves = rising(2021, 2025)
    waves[2022]["suppressed"] = ["老年人"]
    root = make_root(tmp_path_factory.mktemp("run"), waves)
    run_indicator_simulate(load_plan(root / "survey_instruments" / "plan" / "targets.yaml"),
                           root / "data" / "raw" / "indicators")
    with pytest.MonkeyPatch.context() as mp:
        # the mid-term run skips the slow font subsetting and SVG export (both exercised by the final run
        # below and by tests/reporting); every table, figure drawing and sentence is still produced
        mp.setattr("pipeline.assessment.report.embedded_font_css", lambda text: "")
        mp.setattr("pipeline.assessment.run.save_figure", _png_only)
        mid = run_assess("midterm", 2023, root)
    fin = run_assess("final", None, root)
    return root, mid, fin


def _text(path):
    html = path.read_text(encoding="utf-8")
    html = re.sub(r"<style>.*?</style>", "", html, flags=re.S)
    return re.sub(r"<[^>]+>", " ", html)


def test_midterm_outputs(project):
    root, mid, _ = project
    out = root / "data" / "processed" / "assessment" / "midterm"
    for name in ("trend", "changes", "projection", "position", "indicator_status", "indicator_issues"):
        raw = (out / "tables" / f"{name}.csv").read_bytes()
        assert raw.startswith(b"\xef\xbb\xbf"), name  # BOM so that Excel reads the Chinese
    proj = pd.read_csv(out / "tables" / "projection.csv", encoding="utf-8-sig")
    assert set(proj["waves"]) - {"2021–2023"} <= {"2022、2023", "2021、2023", "2021、2022"}
    assert set(pd.read_csv(out / "tables" / "trend.csv", encoding="utf-8-sig")["wave"]) == {2021, 2022, 2023}
    status = pd.read_csv(out / "tables" / "indicator_status.csv", encoding="utf-8-sig")
    assert status["year"].max() == 2023  # later submissions exist but are outside the mid-term
    trend = pd.read_csv(out / "tables" / "trend.csv", encoding="utf-8-sig")
    sup = trend[trend["reliability"] == "suppressed"]
    assert len(sup) == 1 and sup[["est", "se", "lci", "uci"]].isna().all(axis=None)  # never a number
    # the domain with a withheld wave is projected from its usable waves, and the table says which
    s = sup.iloc[0]
    row = proj[(proj["domain_type"] == s["domain_type"]) & (proj["domain"] == s["domain"])].iloc[0]
    usable = [w for w in (2021, 2022, 2023) if w != s["wave"]]
    assert row["waves"] == "、".join(map(str, usable)) and row["k"] == 2 and row["status"] != "undetermined"
    assert f"{s['wave']}年" in row["reason"] and "未用于外推" in row["reason"]
    assert {p.stem for p in (out / "figures").glob("*.png")} == {"fig1_city_trend", "fig2_counties", "fig3_groups",
                                                                  "fig4_indicators"}
    sheets = load_workbook(out / "tables.xlsx").sheetnames
    assert {"趋势", "变化", "中期研判", "指标完成情况", "报送问题"} <= set(sheets)
    text = _text(out / "report.html")
    city = proj[proj["domain_type"] == "overall"].iloc[0]
    assert f"{100 * city['projection']:.1f}%" in text and city["status_zh"] in text
    assert "2021年12.1%" in text and "2023年14.3%" in text  # the synthetic city trend
    assert "中期评估报告" in text and "状态规则" in text
    assert "中期评估（调查至2023年）" in mid.summary()


def test_final_outputs(project):
    root, _, fin = project
    out = root / "data" / "processed" / "assessment" / "final"
    ver = pd.read_csv(out / "tables" / "verdicts.csv", encoding="utf-8-sig")
    assert set(ver["domain_type"]) == {"overall", "county", "group"}
    rank = pd.read_csv(out / "tables" / "ranking.csv", encoding="utf-8-sig")
    assert rank["rank"].tolist() == [1, 2, 3] and (rank["rank_lo"] <= rank["rank_hi"]).all()
    text = _text(out / "report.html")
    city = ver[ver["domain_type"] == "overall"].iloc[0]
    assert f"2025年全市具备科学素质的公民比例为{100 * city['est']:.1f}%" in text
    assert city["verdict_zh"] in text and "终期评估报告" in text and "名次区间" in text
    # the final report restates the mid-term check (waves through 2023) beside the outcome
    proj = pd.read_csv(out / "tables" / "projection.csv", encoding="utf-8-sig")
    assert proj.loc[proj["domain_type"] == "overall", "waves"].iloc[0] == "2021–2023"
    mid_city = proj[proj["domain_type"] == "overall"].iloc[0]
    assert "中期研判回顾" in text and f"状态“{mid_city['status_zh']}”" in text
    html = (out / "report.html").read_text(encoding="utf-8")
    assert "http://" not in html and "https://" not in html and "@font-face" in html  # self-contained
    assert "演示数据" in html
    assert (out / "figures" / "fig3_ranking.png").exists() and (out / "figures" / "fig5_indicators.png").exists()
    assert "终期评估（调查至2025年）" in fin.summary()


def test_final_needs_the_final_wave(tmp_path):
    root = make_root(tmp_path, rising(2021, 2023))
    with pytest.raises(PipelineError, match="2025"):
        run_assess("final", 2023, root)


def test_cli_template_and_validate(project, capsys):
    root = project[0]
    assert main(["indicators", "template", "--year", "2024", "--root", str(root)]) == 0
    assert (root / "data" / "processed" / "indicators" / "templates" / "指标填报模板_2024.xlsx").exists()
    assert main(["indicators", "validate", "--year", "2024", "--root", str(root)]) == 2  # planted faults
    assert main(["indicators", "template", "--year", "2019", "--root", str(root)]) == 2
    err = capsys.readouterr().err
    assert "conflict" in err or "workers_trained" in err


@pytest.mark.parametrize("kind", ["midterm", "final"])
def test_rendered_assessment_passes_the_public_text_scan(project, kind):
    from pipeline.reporting.scan import scan

    out = project[0] / "data" / "processed" / "assessment" / kind
    found = scan([out / "report.html", out / "tables.xlsx"])
    assert found == [], "\n".join(map(str, found))


def test_final_summary_agrees_with_the_verdict_tables_for_every_group(project):
    """Each county and group is named in the summary under the conclusion its table row prints."""
    import re

    root = project[0]
    page = (root / "data" / "processed" / "assessment" / "final" / "report.html").read_text(encoding="utf-8")
    summary = page[page.index("评估结论摘要"):page.index("</ul>", page.index("评估结论摘要"))]
    ver = pd.read_csv(root / "data" / "processed" / "assessment" / "final" / "tables" / "verdicts.csv",
                      encoding="utf-8-sig")
    for scope, dtype in (("县（市、区）", "county"), ("重点人群", "group")):
        line = next(li for li in re.findall(r"<li>(.*?)</li>", summary) if li.startswith(f"{scope}："))
        rows = ver[ver["domain_type"] == dtype]
        for word, g in rows.groupby("verdict_zh"):
            assert f"{word}{len(g)}个" in line, (word, line)
            for name in g["domain"]:
                assert name in line.split(word, 1)[1].split("）", 1)[0], (name, word)
        # and the table the reader sees prints the same word in each row
        for r in rows.itertuples(index=False):
            assert re.search(rf"<td[^>]*>{re.escape(r.domain)}</td>(?:<td[^>]*>[^<]*</td>)*?<td[^>]*>{r.verdict_zh}</td>",
                             page), r.domain

