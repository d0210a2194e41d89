"""What the report says about the delivery itself: the publication gates of the estimate stage, the
delivery mode (which weighting steps the delivery allowed) and the checks a delivery could not support."""

from __future__ import annotations

from typing import Any

from pipeline.publishing.document import Section, Table

GATE_STATUS = {"passed": "通过", "failed": "未通过", "accepted": "未通过，经说明后接受", "not_evaluated": "未检查"}
SKIPPED_CHECKS = {
    "short_interview": "交付数据没有访问开始和结束时间，访问时长核查（过短访问）未执行，无法排除过短或虚假访问。",
}


def gate_items(gates: dict[str, Any] | None) -> list:
    if not gates:
        return ["未提供发布检查记录。"]
    names = {g["gate"]: g.get("name_zh") or g["gate"] for g in gates.get("gates", [])}
    rows = tuple((names[g["gate"]], GATE_STATUS.get(g["status"], g["status"]), g.get("message") or "")
                 for g in gates.get("gates", []))
    items: list = [Table("表Q3 发布检查", ("检查", "结果", "说明"), rows,
                         "任何一项未通过时不发布估计结果，除非本轮调查的规格文件写明理由予以接受。")]
    accepted = gates.get("accepted") or []
    if accepted:
        items.append("以下发布检查未通过，但经本轮规格文件说明理由后接受，读者应据此理解结果的局限：" + "；".join(
            f"{names.get(a['gate'], a['gate'])}——{a['reason']}" for a in accepted) + "。")
    return items


def skipped_check_items(ingest: dict[str, Any] | None) -> list[str]:
    out = []
    for check in (ingest or {}).get("skipped_checks") or []:
        out.append("注意：" + SKIPPED_CHECKS.get(str(check), "有一项核查因交付数据缺少所需变量而未执行。"))
    return out


def delivery_quality_items(inputs) -> list:
    return skipped_check_items(inputs.ingest) + gate_items(inputs.gates)


MODE_NAMES = {
    "full": "完整交付（调查数据含三阶段入样概率和访问时间，另附联系记录表）",
    "no_contacts": "无联系记录表（调查数据含三阶段入样概率）",
    "design_weight": "只提供设计权数（代替三阶段入样概率），无联系记录表",
    "final_weight": "只提供调查公司的最终权数",
}


def _nonresponse_text(d: dict) -> str:
    source = d.get("nonresponse")
    if source == "contacts":
        return "无回答调整依据联系记录表中每户的最终处置代码（AAPOR）按加权类别进行，并在每套重复权数中重新计算。"
    if source == "class_table":
        return ("无回答调整依据调查公司提供的各加权类别完成数与合格数："
                "类别内调整系数 = 合格数 ÷ 接收的受访者数。这些计数是固定数字，调整系数在各套重复权数中不变，"
                "其抽样变异没有反映在标准误中。")
    return ("没有进行无回答调整：交付数据既没有联系记录表，也没有各类别的完成数与合格数，"
            "无回答偏差只能通过校准到人口控制总数部分纠正。")


def delivery_section(inputs):
    """The methods section's statement of the delivery mode and what it implies for the estimates."""
    d = (inputs.weights_meta or {}).get("delivery") or {}
    mode = d.get("mode") or (inputs.ingest or {}).get("delivery_mode") or "full"
    items = [f"交付方式：{MODE_NAMES.get(mode, mode)}。"]
    if mode in ("full", "no_contacts"):
        items.append("基础权数 = 户内18—69岁常住成年人数 ÷（乡镇入样概率 × 村居入样概率 × 住户入样概率）。")
    elif mode == "design_weight":
        items.append("基础权数即调查公司交付的设计权数；其由哪些入样概率算出无法在本流程中核查。")
    if mode == "final_weight":
        if d.get("calibrated"):
            items.append("以调查公司的最终权数为起点，重新校准到人口控制总数（并按规格截尾）。")
        else:
            items.append("调查公司的最终权数按原样使用，没有再校准。")
        items.append("标准误由分层和初级抽样单位（重复权数）估计。调查公司此前的加权步骤（基础权数、无回答调整、"
                     "校准）没有反映在方差中，标准误可能偏小；其加权方法应向调查公司索取并在解读时说明。")
    else:
        items.append(_nonresponse_text(d))
    if d.get("interview_times") is False or (inputs.ingest or {}).get("interview_times") is False:
        items.append("交付数据没有访问开始和结束时间，访问时长核查未执行（见数据质量部分）。")
    return Section("交付方式", tuple(items))
