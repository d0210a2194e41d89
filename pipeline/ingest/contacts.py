"""The contact sheet: every sampled household with its AAPOR disposition, the base of the non-response
adjustment. Read and checked before any output is written, so a bad sheet stops ingest cleanly."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from pipeline.errors import InputError
from pipeline.ingest.columns import text_column
from pipeline.ingest.design import design_units

DISPOSITIONS = ("1.1", "1.2", "2.10", "2.11", "2.12", "2.20", "2.30", "3.10", "3.20", "3.90", "4.10", "4.50", "4.70")
NEED = ("household_id", "county_code", "township", "village", "urban", "p_psu", "p_ssu", "p_hh", "disposition",
        "questionnaire_id")
PROBABILITIES = ("p_psu", "p_ssu", "p_hh")


def described(value: str, number: bool = False) -> str:
    """A contact-sheet cell as an error may show it: as it is only when it has the shape its column
    expects (`number`: a short number such as a probability; otherwise a short disposition-like code), else
    only its kind and length. A sheet whose columns shifted carries phone numbers, ID numbers and addresses
    in the wrong columns, and no message repeats those."""
    text = str(value).strip()
    if text == "":
        return "空白"
    try:
        v = float(text)
        is_number = bool(re.fullmatch(r"[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?", text))
    except ValueError:
        v, is_number = float("nan"), False
    if is_number and abs(v) < 1000 and (number or len(text) <= 5):
        return f"“{text}”"
    if number and re.fullmatch(r"[+-]?\d{1,3},\d{1,8}", text):  # a decimal comma (European-locale spreadsheet)
        return f"“{text}”（小数点写成了逗号？）"
    if not number and re.fullmatch(r"\d{1,2}\.\d{1,2}", text):
        return f"“{text}”"
    if text.isdigit():
        return f"一个 {len(text)} 位的数字（不显示）"
    return f"一个{'数值' if is_number else '非数字的值'}，长 {len(text)} 个字符（不显示）"


def _bad_row(src: Path, width: int) -> str:
    """Where a CSV breaks: the first record whose number of fields is not the header's (the reader's own
    message quotes the whole record, which may hold names and phone numbers)."""
    import csv

    i = 0
    try:
        with open(src, encoding="utf-8-sig", newline="") as fh:
            for i, rec in enumerate(csv.reader(fh)):
                if i and len(rec) != width:
                    return f"第 {i + 1} 行有 {len(rec)} 个字段，表头有 {width} 个"
    except (csv.Error, UnicodeDecodeError) as err:
        return f"第 {i + 2} 行附近无法解析（{type(err).__name__}）"
    return "文件格式不对"


def read_contacts(src: Path) -> pd.DataFrame:
    """The raw sheet, text columns as delivered and probabilities as floats; fatal problems raise. Messages
    name the file, row and column, and quote a cell only when it has the shape the column expects."""
    if not src.exists():
        raise InputError(f"{src}: 缺少联系记录表（每个抽中住户及其 AAPOR 最终结果代码）。无回答调整需要它："
                         "请向调查公司索取 contacts.csv；若本轮交付确实没有联系记录表，请在 design.yaml 的 delivery: "
                         "中声明。")
    try:
        c = pd.read_csv(src, dtype=str, encoding="utf-8-sig", keep_default_na=False, engine="pyarrow")
    except UnicodeDecodeError as err:
        raise InputError(f"{src}: 第 {err.start} 个字节起不是 UTF-8 文字（多半是 GBK/GB18030 编码）。请调查公司把联系记录表"
                         "以 UTF-8 CSV 重新导出（Excel：另存为“CSV UTF-8”）。") from None
    except Exception:  # the Arrow reader's message quotes the broken record: say where, not what
        with open(src, encoding="utf-8-sig", errors="replace") as fh:
            width = len(fh.readline().split(","))
        raise InputError(f"{src}: 不能按 CSV 读取：{_bad_row(src, width)}（常见原因：某一栏含逗号或引号未闭合，"
                         "或多出一栏）。请调查公司重新导出联系记录表（UTF-8 CSV，每行字段数与表头相同）。") from None
    missing = [k for k in NEED if k not in c.columns]
    if missing:
        raise InputError(f"{src}: 缺少列 {missing}；现有列 {list(c.columns)}。请调查公司按约定的联系记录表格式重新交付。")
    dup = c["household_id"].duplicated(keep=False).to_numpy()
    if dup.any():
        first = c["household_id"].iloc[int(np.flatnonzero(dup)[0])]
        rows = np.flatnonzero((c["household_id"] == first).to_numpy()) + 2
        raise InputError(f"{src}: 第 {'、'.join(map(str, rows[:5]))} 行的 household_id 相同（共 {int(dup.sum())} 行与别的行"
                         "共用一个 household_id）。每个抽中住户只能出现一次：请向调查公司确认哪一行是该住户的最终结果。")
    bad = ~c["disposition"].isin(DISPOSITIONS)
    if bad.any():
        i = int(np.flatnonzero(bad.to_numpy())[0])
        raise InputError(f"{src} 第 {i + 2} 行：disposition 列是 {described(c['disposition'].iloc[i])}，不是本流程认识的 "
                         f"AAPOR 结果代码（{', '.join(DISPOSITIONS)}）。请与调查公司核对后改为其中之一"
                         f"（共 {int(bad.sum())} 行如此）。")
    for col in PROBABILITIES:
        try:  # Arrow's number parser is ten times faster than pandas'; pandas finds the bad cell for the message
            p = pd.Series(pc.cast(pa.array(c[col], from_pandas=True), pa.float64()).to_numpy(zero_copy_only=False))
        except (pa.ArrowInvalid, pa.ArrowTypeError):
            p = pd.to_numeric(c[col], errors="coerce")
        bad = (p.isna() | ~np.isfinite(p) | (p <= 0) | (p > 1)).to_numpy()
        if bad.any():
            i = int(np.flatnonzero(bad)[0])
            raise InputError(f"{src} 第 {i + 2} 行：{col} 列是 {described(c[col].iloc[i], number=True)}；入样概率必须是 "
                             f"(0, 1] 之内的数（共 {int(bad.sum())} 行不符）。请向调查公司索取记录的原值；若多行的值像电话"
                             "或地址，多半是某一行多了或少了一栏。")
        c[col] = p.astype(float)
    return c


def contacts_table(c: pd.DataFrame, questionnaire_ids: np.ndarray, respondent_ids: np.ndarray) -> pd.DataFrame:
    """The sheet in the contacts schema; a household links to its respondent only if that interview was
    accepted (questionnaire_ids/respondent_ids are the accepted ones)."""
    stratum, psu = design_units(c["county_code"], c["township"], c["village"], c["p_psu"].to_numpy())
    link = pd.Index(questionnaire_ids).get_indexer(c["questionnaire_id"])
    return pd.DataFrame({
        "household_id": c["household_id"], "stratum": stratum, "county_code": c["county_code"],
        "psu": psu, "ssu": c["village"], "urban": c["urban"],
        "p_psu": c["p_psu"], "p_ssu": c["p_ssu"], "p_hh": c["p_hh"],
        "disposition": c["disposition"],
        "respondent_id": text_column(link, respondent_ids),
    })
