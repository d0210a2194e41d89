"""Workbook sheets for the office, laid out as a statistical bulletin prints a table: a title row, a unit
row, the column headings, the body and a note row (注). They sit in tables.xlsx after the analysis sheets.

- 公报表1/公报表2: the share literate beside the number of literate residents (人数, 万人) and the
  population of the domain, for the counties and for the key groups and subgroups. 人数 = share × the
  domain's weighted population (populations.csv: the design-based total of the final weights); a
  withheld cell shows the dash in every column from which its share could be recovered.
- 回答率: AAPOR response and cooperation rates by county (weighting_diagnostics.csv).
- 加权概况: the weighting summary — margins achieved against the census controls, weights trimmed by
  county, and the design effects (Kish's effect of weighting per step, the headline's design effect).
"""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from pipeline.publishing import labels as L
from pipeline.reporting.inputs import ReportInputs
from pipeline.reporting.methods import STEP_LABELS, VARIABLE_LABELS, Table, response_table, weighting_section
from pipeline.vocabulary import OVERALL_LABEL

WAN = 1e4  # 万人


@dataclass(frozen=True)
class BulletinBlock:
    title: str
    unit: str
    headers: tuple[str, ...]
    rows: tuple[tuple, ...]
    note: str = ""
    formats: tuple[str | None, ...] = ()  # per column: an Excel number format for numeric cells


@dataclass(frozen=True)
class BulletinSheet:
    sheet: str
    blocks: tuple[BulletinBlock, ...]


def _population(inputs: ReportInputs, domain_type: str, domain: str) -> float | None:
    p = inputs.populations
    if p is None:
        return None
    row = p[(p["domain_type"] == domain_type) & (p["domain"] == domain)]
    return None if row.empty else float(row["population"].iloc[0])


def _share_rows(inputs: ReportInputs, rows: pd.DataFrame, label_of) -> list[tuple]:
    out = []
    for _, r in rows.iterrows():
        rel = r["reliability"]
        pop = _population(inputs, r["domain_type"], r["domain"])
        shown = rel != L.SUPPRESSED
        share = round(100 * float(r["est"]), 1) if shown and pd.notna(r["est"]) else L.DASH
        ci = L.fmt_interval(r["lci"], r["uci"], "proportion", rel).replace("%", "")
        count = round(float(r["est"]) * pop / WAN, 2) if shown and pop is not None else L.DASH
        out.append((label_of(r), int(r["n"]), share, ci, count,
                    round(pop / WAN, 2) if pop is not None else L.NOT_PROVIDED, L.RELIABILITY_LABELS[rel]))
    return out


SHARE_HEADERS = ("样本量（人）", "比例（%）", "95%置信区间（%）", "具备科学素质人数（万人）", "18–69岁常住人口（万人）",
                 "可靠性")
SHARE_FORMATS = (None, "#,##0", "0.0", None, "#,##0.00", "#,##0.00", None)


def _share_headers(inputs: ReportInputs) -> tuple[str, ...]:
    return tuple(h.replace("95%", inputs.ci) for h in SHARE_HEADERS)  # the wave's ci.level


def _share_note(inputs: ReportInputs) -> str:
    base = ("注：比例为按最终权数计算的加权比例；人数＝比例×该人群18–69岁常住人口（按最终权数加总，已校准到"
            f"人口普查控制数），四舍五入到百分位万人；“{L.DASH}”为样本不足、不予发布。")
    if inputs.populations is None:
        base += "本次未提供各组的加权人口数，人数未提供。"
    return base + ("本表为演示数据（模拟生成）。" if inputs.is_demo else "")


def county_block(inputs: ReportInputs) -> BulletinBlock:
    rows = pd.concat([inputs.cells(L.HEADLINE, "overall"), inputs.cells(L.HEADLINE, "county")], ignore_index=True)
    return BulletinBlock(f"表1 {inputs.wave}年各县（市、区）具备科学素质的公民比例和人数", "单位：人、%、万人",
                         ("县（市、区）", *_share_headers(inputs)), tuple(_share_rows(inputs, rows, lambda r: r["domain"])),
                         _share_note(inputs), SHARE_FORMATS)


def group_block(inputs: ReportInputs) -> BulletinBlock:
    types = ("overall", "group", *L.SUBGROUP_TYPES)
    rows = pd.concat([inputs.cells(L.HEADLINE, t) for t in types], ignore_index=True)

    def label(r):
        return r["domain"] if r["domain_type"] == "overall" else f"{L.DOMAIN_TYPE_LABELS[r['domain_type']]}：{r['domain']}"

    return BulletinBlock(f"表2 {inputs.wave}年重点人群和不同群体具备科学素质的公民比例和人数", "单位：人、%、万人",
                         ("人群", *_share_headers(inputs)), tuple(_share_rows(inputs, rows, label)), _share_note(inputs),
                         SHARE_FORMATS)


def _from_table(t: Table, title: str, unit: str) -> BulletinBlock:
    return BulletinBlock(title, unit, t.headers, t.rows, ("注：" + t.note) if t.note else "")


def response_block(inputs: ReportInputs) -> BulletinBlock:
    return _from_table(response_table(inputs), f"表3 {inputs.wave}年各县（市、区）入户调查回答率", "单位：%")


def weighting_blocks(inputs: ReportInputs) -> list[BulletinBlock]:
    diag = inputs.diagnostics
    tables = [i for i in weighting_section(inputs).items if isinstance(i, Table)]
    blocks = []
    cal = (inputs.weights_meta or {}).get("calibration") or {}
    margin_names = {str(t): "×".join(VARIABLE_LABELS.get(str(v), str(v)) for v in m)
                    for t, m in zip(cal.get("control_tables") or [], cal.get("margins") or [], strict=False)}
    for t in tables:
        if t.caption.startswith("表M3"):
            rows = tuple((margin_names.get(str(r[0]), r[0]), *r[1:]) for r in t.rows)
            blocks.append(BulletinBlock("表4 校准边际达成情况（加权总数与人口普查控制总数）", "单位：个、人、%",
                                        t.headers, rows, "注：校准边际为人口普查18–69岁常住人口；稀疏的格已与相邻"
                                        "年龄段或文化程度合并。"))
    names = inputs.county_names
    if diag is not None:
        tr = diag[(diag["step"] == "trimming") & (diag["metric"] == "trimmed")]
        rounds = diag[(diag["step"] == "trimming") & (diag["metric"] == "rounds")]["value"]
        if len(tr):
            order = sorted(tr["level"].astype(str), key=lambda c: (c != OVERALL_LABEL, L.category_rank("county", names.get(c, c))))
            value = dict(zip(tr["level"].astype(str), tr["value"], strict=True))
            meta = (inputs.weights_meta or {}).get("trimming") or {}
            bounds = (f"每个县（市、区）内权数限定在中位数的{meta.get('lower')}至{meta.get('upper')}倍之间，"
                      if meta else "")
            blocks.append(BulletinBlock(
                "表5 极端权数截尾", "单位：个", ("县（市、区）", "被截尾的权数"),
                tuple((names.get(c, c), int(value[c])) for c in order),
                f"注：{bounds}截尾后重新校准，共{int(rounds.iloc[0]) if len(rounds) else L.NOT_PROVIDED}轮。",
                (None, "#,##0")))
        kish = diag[(diag["metric"] == "kish_deff") & (diag["level"].astype(str) == OVERALL_LABEL)]
        ess = diag[(diag["metric"] == "ess") & (diag["level"].astype(str) == OVERALL_LABEL)]
        steps = [s for s in ("base", "nonresponse", "calibration", "final") if s in set(kish["step"])]
        e = dict(zip(ess["step"], ess["value"], strict=False))
        k = dict(zip(kish["step"], kish["value"], strict=False))
        head = inputs.cell(L.HEADLINE)
        rows = [(STEP_LABELS.get(s, s), round(float(k[s]), 2), round(float(e.get(s, float("nan"))))) for s in steps]
        note = "注：Kish加权设计效应＝1＋权数变异系数的平方，只反映权数不等的影响。"
        if head is not None and head["reliability"] != L.SUPPRESSED and pd.notna(head["deff"]):
            note += (f"{OVERALL_LABEL}{L.HEADLINE_LABEL}的设计效应（复杂抽样方差与同样本量简单随机抽样方差之比，含分层、"
                     f"整群和加权）为{float(head['deff']):.2f}，有效样本量{float(head['n_eff']):,.0f}。")
        blocks.append(BulletinBlock(f"表6 加权的设计效应（{OVERALL_LABEL}）", "单位：倍、人", ("加权步骤", "Kish加权设计效应",
                                    "有效样本量"), tuple(rows), note, (None, "0.00", "#,##0")))
    return blocks


def office_sheets(inputs: ReportInputs) -> list[BulletinSheet]:
    return [BulletinSheet("公报表1 县区人数", (county_block(inputs),)),
            BulletinSheet("公报表2 人群人数", (group_block(inputs),)),
            BulletinSheet("回答率", (response_block(inputs),)),
            BulletinSheet("加权概况", tuple(weighting_blocks(inputs)))]


def add_to_workbook(wb, sheets: list[BulletinSheet]) -> None:
    """Append the bulletin sheets to an openpyxl workbook: title, unit, headings, body, note per block."""
    from openpyxl.styles import Alignment, Border, Font, Side
    from openpyxl.utils import get_column_letter

    thin, thick = Side(style="thin"), Side(style="medium")
    for s in sheets:
        ws = wb.create_sheet(s.sheet)
        row = 1
        width = max((len(b.headers) for b in s.blocks), default=1)
        longest = [8] * width
        for b in s.blocks:
            n = len(b.headers)
            ws.cell(row=row, column=1, value=b.title).font = Font(bold=True, size=13)
            ws.merge_cells(start_row=row, start_column=1, end_row=row, end_column=n)
            ws.cell(row=row, column=1).alignment = Alignment(horizontal="center")
            ws.cell(row=row + 1, column=n, value=b.unit).alignment = Alignment(horizontal="right")
            row += 2
            for j, h in enumerate(b.headers, start=1):
                c = ws.cell(row=row, column=j, value=h)
                c.font = Font(bold=True)
                c.alignment = Alignment(horizontal="center", vertical="center", wrap_text=True)
                c.border = Border(top=thick, bottom=thin)
                longest[j - 1] = max(longest[j - 1], min(len(str(h)), 14))
            for r in b.rows:
                row += 1
                for j, v in enumerate(r, start=1):
                    c = ws.cell(row=row, column=j, value=v)
                    fmt = b.formats[j - 1] if j - 1 < len(b.formats) else None
                    if isinstance(v, (int, float)) and fmt:
                        c.number_format = fmt
                    if j > 1:
                        c.alignment = Alignment(horizontal="right")
                    longest[j - 1] = max(longest[j - 1], len(str(v)))
            for j in range(1, n + 1):
                ws.cell(row=row, column=j).border = Border(bottom=thick)
            row += 1
            if b.note:
                ws.cell(row=row, column=1, value=b.note).alignment = Alignment(wrap_text=True, vertical="top")
                ws.merge_cells(start_row=row, start_column=1, end_row=row, end_column=n)
                ws.row_dimensions[row].height = 15 * (1 + len(b.note) // 60)
            row += 2
        for j, w in enumerate(longest, start=1):
            ws.column_dimensions[get_column_letter(j)].width = min(max(10, 1.9 * w + 2), 36)
        ws.page_setup.orientation = "landscape"
        ws.page_setup.fitToWidth = 1
        ws.sheet_properties.pageSetUpPr.fitToPage = True
        ws.page_setup.fitToHeight = 0
