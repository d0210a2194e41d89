"""What the report says about the delivery itself: the publication gates of the estimate stage, the
delivery mode (which weighting steps the delivery allowed) and the checks a delivery could not support."""

from __future__ import annotations

from typing import Any

GATE_LABELS = {
    "missing_codes_lost": "缺失值代码丢失",
    "unscored_share": "无法计分的受访者比例",
    "wave_change": "与上一轮相比的变化幅度",
    "kish_deff": "最终权数的Kish设计效应",
    "plausible_share": "具备科学素质比例的合理范围",
}
GATE_STATUS = {"passed": "通过", "failed": "未通过", "accepted": "未通过，经说明后接受", "not_evaluated": "未检查"}
SKIPPED_CHECKS = {
    "short_interview": "交付数据没有访问开始和结束时间，访问时长核查（过短访问）未执行，无法排除过短或虚假访问。",
}


def gate_items(gates: dict[str, Any] | None) -> list:
    from pipeline.reporting.methods import Table

    if not gates:
        return ["发布检查记录（gates.json）未提供。"]
    rows = tuple((GATE_LABELS.get(g["gate"], g["gate"]), g["gate"], GATE_STATUS.get(g["status"], g["status"]),
                  g.get("message") or "")
                 for g in gates.get("gates", []))
    items: list = [Table("表Q3 发布检查", ("检查", "代码", "结果", "说明"), rows,
                         "任何一项未通过时不发布估计结果，除非本轮规格文件（estimands.yaml 的 gates.accept）写明理由予以接受。")]
    accepted = gates.get("accepted") or []
    if accepted:
        items.append("以下发布检查未通过，但经本轮规格文件说明理由后接受，读者应据此理解结果的局限：" + "；".join(
            f"{GATE_LABELS.get(a['gate'], a['gate'])}（{a['gate']}）——{a['reason']}" for a in accepted) + "。")
    return items


def skipped_check_items(ingest: dict[str, Any] | None) -> list[str]:
    out = []
    for check in (ingest or {}).get("skipped_checks") or []:
        out.append("注意：" + SKIPPED_CHECKS.get(str(check), f"核查 {check} 因交付数据缺少所需变量而未执行。"))
    return out


def delivery_quality_items(inputs) -> list:
    return skipped_check_items(inputs.ingest) + gate_items(inputs.gates)
