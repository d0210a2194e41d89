"""The methods and data-quality sections come from the run's records and say 未提供 for what is absent."""

from __future__ import annotations

from dataclasses import replace

from pipeline.publishing.document import Table
from pipeline.reporting.methods import data_quality_section, methods_sections


def _text(sections) -> str:
    out = []
    for s in sections:
        out.append(s.title)
        for item in s.items:
            if isinstance(item, Table):
                out += [item.caption, item.note, *item.headers, *(c for row in item.rows for c in row)]
            else:
                out.append(item)
    return "\n".join(out)


def test_city_values_not_county_values(inputs):
    text = _text(methods_sections(inputs))
    assert "54.1%" in text and "58.9%" in text and "73.4%" in text  # city response rates
    steps = next(i for s in methods_sections(inputs) for i in s.items
                 if isinstance(i, Table) and i.caption.startswith("各加权步骤的权数诊断"))
    first = dict(zip(steps.headers, steps.rows[0], strict=True))
    # one effective sample size (n ÷ deff): the weighting-only Kish figure is not given that name
    assert first["加权设计效应（Kish）"] == "1.18" and "有效样本量" not in steps.headers
    assert [r[0] for r in steps.rows] == ["基础权数（抽样设计权数）", "无回答调整", "校准", "最终权数"]
    # one set of calibration figures: the first calibration, then the re-calibration after trimming
    assert "校准迭代 9 次，截尾后重新校准迭代 6 次" in text and "被截尾的权数 17 个" in text and "0.9987" in text
    assert "e-" not in text
    assert "分层刀切法（JKn）" in text and "重复权数 20 套" in text
    assert "县（市、区）×性别×年龄段×城乡" in text


def test_county_codes_shown_as_names(inputs):
    rr = next(i for s in methods_sections(inputs) for i in s.items
              if isinstance(i, Table) and i.caption.startswith("回答率"))
    names = [r[0] for r in rr.rows]
    assert names[0] == "全市" and "泉州开发区" in names and "QZKF" not in names and len(names) == 14


def test_absent_records_say_not_provided(inputs):
    bare = replace(inputs, ingest=None, diagnostics=None, weights_meta=None, n_replicates=None)
    text = _text(methods_sections(bare)) + _text([data_quality_section(bare)])
    assert text.count("未提供") >= 5
    assert "54.1%" not in text


def test_absent_single_metric_says_not_provided(inputs):
    diag = inputs.diagnostics[inputs.diagnostics["metric"] != "trimmed"]
    text = _text(methods_sections(replace(inputs, diagnostics=diag)))
    assert "被截尾的权数 未提供" in text


def test_quarantine_by_reason(inputs):
    text = _text([data_quality_section(inputs)])
    # reasons in words, never the check's code or the file's name
    assert "age_out_of_range" not in text and "年龄不在18–69岁" in text and "31" in text and "10,006" in text
    assert "编号重复" in text and "地区代码无法识别" in text
    assert "survey.sav" not in text and "data/raw" not in text
    assert "不等于" not in text
    broken = dict(inputs.ingest, rows_read=10_007)
    assert "不等于" in _text([data_quality_section(replace(inputs, ingest=broken))])


def test_weighting_words_follow_the_steps_the_record_ran():
    """The methods text names the steps of the design record, not a fixed list: a final-weight delivery has
    no base weight from the probabilities and no non-response step; a count-table factor is fixed across
    replicates and the variance text says so."""
    from pipeline.reporting.methods import replicated_steps_text, steps_text
    from pipeline.weighting.steps import WEIGHTING_STEPS

    def rec(steps, mode):  # as the weighting writes it: each step with the slot it filled
        return {"steps": steps, "slots": {s: WEIGHTING_STEPS[s].slot for s in steps}, "delivery": {"mode": mode}}

    full = rec(["base", "replicates", "nonresponse", "calibration", "trimming"], "full")
    final = rec(["delivered_weight", "replicates", "calibration", "trimming"], "final_weight")
    as_delivered = rec(["delivered_weight", "replicates"], "final_weight")
    counts = rec(["base", "replicates", "nonresponse_counts", "calibration", "trimming"], "no_contacts")
    assert steps_text(full) == ("权数以基础权数（入样概率的倒数乘以户内合格成人数）为起点，依次经过无回答调整（按联系记录表"
                                "划分的加权组）、校准和极端权数截尾（截尾后重新校准）。")
    assert steps_text(final) == "权数以调查公司交付的最终权数为起点，依次经过校准和极端权数截尾（截尾后重新校准）。"
    assert steps_text(as_delivered) == "权数为调查公司交付的最终权数，未再调整。"
    assert replicated_steps_text(full) == "每套重复权数都重新经过无回答调整、校准和截尾，因此方差反映了无回答调整、校准和截尾的影响。"
    assert replicated_steps_text(final) == "每套重复权数都重新经过校准和截尾，因此方差反映了校准和截尾的影响。"
    assert "此后没有再调整的加权步骤" in replicated_steps_text(as_delivered)
    assert replicated_steps_text(counts).endswith("其不确定性未反映在方差中。")
    assert "无回答调整、校准和截尾" not in replicated_steps_text(counts)
