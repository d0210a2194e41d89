"""run_report end to end: the manifest covers every output, the result line, verdict wording, demo flag."""

from __future__ import annotations

import hashlib
import json
from dataclasses import replace

import pytest

from pipeline.publishing.html import DEMO_BANNER
from pipeline.reporting.html import build_html, headline_html


def test_manifest_lists_every_output_with_its_sha(built):
    manifest_path = built.dir / "manifest.json"
    m = json.loads(manifest_path.read_text(encoding="utf-8"))
    out_dir = built.paths.out
    on_disk = {p.relative_to(built.paths.root).as_posix() for p in out_dir.rglob("*") if p.is_file()}
    on_disk.discard(manifest_path.relative_to(built.paths.root).as_posix())
    assert set(m["outputs"]) == on_disk
    for rel, digest in m["outputs"].items():
        assert hashlib.sha256((built.paths.root / rel).read_bytes()).hexdigest() == digest, rel
    assert "data/processed/2024/report/report.html" in m["outputs"]
    assert "data/processed/2024/estimates.csv" in m["outputs"]
    assert "data/raw/2024/survey.sav" in m["inputs"]["raw"]
    assert m["seeds"] == {"survey_instruments/2024/design.yaml:variance.replicates.seed": 20240917}
    assert m["demo_data"] is True


def test_result_summary(built):
    line = built.result.summary()
    assert "14.2%" in line and "未达到目标" in line and "演示数据" in line
    assert len(built.result.figures) == 12 and built.result.html.name == "report.html"


@pytest.mark.parametrize("verdict, word", [("met", "已达到目标"), ("not met", "未达到目标"),
                                          ("undetermined", "尚不能判定")])
def test_headline_states_each_verdict(inputs, verdict, word):
    t = inputs.targets.copy()
    t.loc[t["domain_type"] == "overall", "verdict"] = verdict
    box, key = headline_html(replace(inputs, targets=t))
    box = box[:box.index("判定规则")]  # the rule itself names all three outcomes
    assert key == verdict and word in box
    others = {"已达到目标", "未达到目标", "尚不能判定"} - {word}
    assert not any(o in box for o in others)


def test_real_wave_has_no_demo_banner(inputs):
    page, _ = build_html(replace(inputs, is_demo=False), {}, {}, embed_font=False)
    assert DEMO_BANNER not in page
    assert "演示数据" not in page


def test_suppressed_headline_withholds_number(inputs):
    e = inputs.estimates.copy()
    mask = (e["estimand_id"] == "literate") & (e["domain_type"] == "overall")
    e.loc[mask, "reliability"] = "suppressed"
    t = inputs.targets.copy()
    t.loc[t["domain_type"] == "overall", "reliability"] = "suppressed"
    box, _ = headline_html(replace(inputs, estimates=e, targets=t))
    est = float(e.loc[mask, "est"].iloc[0])
    assert f"{100 * est:.1f}" not in box
    assert "不予发布" in box


def test_headline_only_estimates_still_report(inputs):
    """An estimate stage that wrote only the headline share: every figure, table and the page still build."""
    import matplotlib.pyplot as plt

    from pipeline.reporting.figures import FIGURES, render
    from pipeline.reporting.tables import build_tables

    e = inputs.estimates
    slim = replace(inputs, estimates=e[(e["estimand_id"] == "literate") & e["domain_type"].isin(["overall", "county"])])
    for spec in FIGURES:
        plt.close(render(spec, slim))
    tables = build_tables(slim)
    assert len(tables) == 8 and len(tables[1].frame) == 13 and tables[5].frame.empty
    page, verdict = build_html(slim, {}, {}, embed_font=False)
    assert verdict == "not met" and "基准" in page
