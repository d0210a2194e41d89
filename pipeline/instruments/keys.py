"""The answer-key sheet: offices keep the test's key as a table, not as YAML.

`instrument keys --wave W --template key.xlsx` writes one row per item of instrument.yaml (题号, 题干,
题型, 选项, 正确答案, 多选计分, 分值, 维度, 基准), filled with what the instrument already knows;
`--from key.xlsx` reads it back into instrument.yaml. Every bad row is reported (row, column, value,
what is allowed) before anything is written.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import yaml

from pipeline.errors import SpecError
from pipeline.instruments.load import load_frameworks, load_instrument, read_yaml
from pipeline.instruments.todos import TODO, find_todos
from pipeline.paths import FRAMEWORKS, WavePaths

COLUMNS = ("题号", "题干", "题型", "选项", "正确答案", "多选计分", "分值", "维度", "基准")
TYPE_ZH = {"true_false": "判断题", "single": "单选题", "multiple": "多选题"}
SCORING_ZH = {"all_or_nothing": "全对得分", "partial": "按选项得分"}
SHEET = "答案"
SPLIT = re.compile(r"[,，、;；\s]+")


def _known(v) -> bool:
    return v is not None and not (isinstance(v, str) and v.startswith(TODO))


def _frameworks(paths: WavePaths):
    fw = paths.frameworks
    return load_frameworks(fw if fw.exists() else FRAMEWORKS)


def template_rows(instrument: dict, frameworks) -> pd.DataFrame:
    names = {d.id: d.name_zh for d in frameworks.dimensions}
    rows = []
    for it in instrument.get("items") or []:
        key = it.get("key")
        rows.append({
            "题号": str(it["id"]), "题干": str(it.get("text_zh", "")), "题型": TYPE_ZH.get(it.get("type"), it.get("type")),
            "选项": "；".join(f"{k}={v}" for k, v in (it.get("options") or {}).items()),
            "正确答案": ",".join(str(k) for k in key) if isinstance(key, list) else (str(key) if _known(key) else ""),
            "多选计分": SCORING_ZH.get(it.get("scoring", "all_or_nothing"), "") if it.get("type") == "multiple" else "",
            "分值": it["points"] if _known(it.get("points")) else None,
            "维度": names.get(it.get("dimension"), "") if _known(it.get("dimension")) else "",
            "基准": ",".join(str(b) for b in it["benchmarks"]) if isinstance(it.get("benchmarks"), list) else "",
        })
    return pd.DataFrame(rows, columns=list(COLUMNS))


def write_template(paths: WavePaths, out: Path) -> Path:
    from openpyxl import Workbook
    from openpyxl.styles import Alignment, Font

    frameworks = _frameworks(paths)
    rows = template_rows(read_yaml(paths.instrument), frameworks)
    dim_names = "、".join(d.name_zh for d in frameworks.dimensions)
    wb = Workbook()
    ws = wb.active
    ws.title = SHEET
    ws.append(list(COLUMNS))
    for r in rows.itertuples(index=False):
        ws.append([None if (isinstance(v, float) and pd.isna(v)) else v for v in r])
    for cell in ws[1]:
        cell.font = Font(bold=True)
    for col, width in zip("ABCDEFGHI", (8, 60, 8, 50, 10, 10, 6, 10, 8), strict=True):
        ws.column_dimensions[col].width = width
    for row in ws.iter_rows(min_row=2):
        for cell in row:
            cell.alignment = Alignment(wrap_text=True, vertical="top")
    ws.freeze_panes = "A2"
    notes = wb.create_sheet("说明")
    for line in ("每道题一行：填写正确答案（选项代码，多选题用逗号分隔，如 1,3,5）、分值（正数，0.25 的倍数）、维度（"
                 f"{dim_names}，或 knowledge / methods / spirit / ability）和基准（1—26 的编号，可多个，用逗号分隔）。",
                 "多选计分：全对得分（只有恰好选中全部正确选项才得分）或按选项得分（按判对的选项比例给分）；单选题和判断题留空。",
                 "题号、题干、题型和选项来自 instrument.yaml，请勿修改；填好后运行 "
                 f"python -m pipeline instrument keys --wave {paths.wave} --from 本文件。"):
        notes.append([line])
    notes.column_dimensions["A"].width = 120
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    wb.save(out)
    return out


def _cell(v) -> str:
    if v is None or (isinstance(v, float) and pd.isna(v)):
        return ""
    if isinstance(v, float) and v.is_integer():
        return str(int(v))
    return str(v).strip()


def parse_sheet(path: Path, instrument: dict, frameworks) -> tuple[dict[str, dict], list[str]]:
    """(item id → fields to set, errors). Each error names the sheet row, column and value."""
    try:
        df = pd.read_excel(path, sheet_name=SHEET, dtype=object, engine="openpyxl")
    except ValueError:
        raise SpecError(f"{path}: no sheet named {SHEET!r}; write the sheet with `instrument keys --template`.") from None
    except Exception as err:
        raise SpecError(f"{path}: cannot be read as an Excel workbook ({type(err).__name__}: {err}).") from None
    lack = [c for c in ("题号", "正确答案", "分值", "维度", "基准") if c not in df.columns]
    if lack:
        raise SpecError(f"{path}: sheet {SHEET!r} lacks column(s) {lack}; it has {list(df.columns)}.")
    items = {str(it["id"]): it for it in instrument.get("items") or []}
    dims = {d.id: d.id for d in frameworks.dimensions} | {d.name_zh: d.id for d in frameworks.dimensions}
    bench_ids = set(frameworks.benchmark_ids)
    errors: list[str] = []
    out: dict[str, dict] = {}
    seen: dict[str, int] = {}
    for i, r in df.iterrows():
        row = int(i) + 2

        def bad(col, value, allowed, row=row):
            errors.append(f"{path.name} 第{row}行，{col}列：{value!r} {allowed}")

        item_id = _cell(r.get("题号"))
        if not item_id:
            if any(_cell(r.get(c)) for c in ("正确答案", "分值", "维度", "基准")):
                bad("题号", "", "为空；每行须写 instrument.yaml 中的题号。")
            continue
        if item_id not in items:
            bad("题号", item_id, f"不是 instrument.yaml 中的题号（例如 {', '.join(list(items)[:5])}）。")
            continue
        if item_id in seen:
            bad("题号", item_id, f"与第{seen[item_id]}行重复；每道题只写一行。")
            continue
        seen[item_id] = row
        it = items[item_id]
        options = [int(k) for k in (it.get("options") or {})]
        fields: dict = {}
        raw_key = _cell(r.get("正确答案"))
        try:
            key = [int(float(x)) for x in SPLIT.split(raw_key) if x] if raw_key else []
        except ValueError:
            key = None
        if not key:
            bad("正确答案", raw_key, f"须为选项代码（可选 {options}）。")
        elif any(k not in options for k in key) or len(set(key)) != len(key):
            bad("正确答案", raw_key, f"须为不重复的选项代码，可选 {options}。")
        elif it.get("type") != "multiple" and len(key) != 1:
            bad("正确答案", raw_key, f"{TYPE_ZH.get(it.get('type'))}只有一个正确答案。")
        else:
            fields["key"] = key if it.get("type") == "multiple" else key[0]
        raw_pts = _cell(r.get("分值"))
        try:
            pts = float(raw_pts)
        except ValueError:
            pts = None
        if pts is None or not pts > 0 or abs(pts * 4 - round(pts * 4)) > 1e-9:
            bad("分值", raw_pts, "须为正数，且为 0.25 的倍数（如 1、1.25、2.5）。")
        else:
            fields["points"] = int(pts) if pts.is_integer() else pts
        raw_dim = _cell(r.get("维度"))
        if raw_dim not in dims:
            bad("维度", raw_dim, f"须为 {'、'.join(d.name_zh for d in frameworks.dimensions)} 之一"
                f"（或 {', '.join(d.id for d in frameworks.dimensions)}）。")
        else:
            fields["dimension"] = dims[raw_dim]
        raw_b = _cell(r.get("基准"))
        try:
            benches = [int(float(x)) for x in SPLIT.split(raw_b) if x]
        except ValueError:
            benches = []
        if not benches or any(b not in bench_ids for b in benches):
            bad("基准", raw_b, "须为 1—26 的基准编号，可多个，用逗号分隔。")
        else:
            fields["benchmarks"] = benches
        raw_s = _cell(r.get("多选计分")) if "多选计分" in df.columns else ""
        if it.get("type") == "multiple":
            by_zh = {v: k for k, v in SCORING_ZH.items()} | {k: k for k in SCORING_ZH}
            if raw_s and raw_s not in by_zh:
                bad("多选计分", raw_s, "须为 全对得分 或 按选项得分。")
            else:
                fields["scoring"] = by_zh.get(raw_s, "all_or_nothing")
        elif raw_s:
            bad("多选计分", raw_s, "只用于多选题；单选题和判断题请留空。")
        out[item_id] = fields
    absent = [k for k in items if k not in seen]
    if absent:
        errors.append(f"{path.name}：没有以下题目的行：{', '.join(absent)}（每道题都须有一行）。")
    return out, errors


@dataclass(frozen=True)
class KeysResult:
    wave: int
    path: Path
    items: int
    todos_left: int
    text: str

    def summary(self) -> str:
        return self.text


def read_keys(paths: WavePaths, sheet: Path) -> KeysResult:
    text = paths.instrument.read_text(encoding="utf-8")
    header = "".join(line for line in text.splitlines(keepends=True)[:20] if line.startswith("#"))
    instrument = read_yaml(paths.instrument)
    fields, errors = parse_sheet(Path(sheet), instrument, _frameworks(paths))
    if errors:
        raise SpecError(f"{sheet}: {len(errors)} problem(s); instrument.yaml was not changed:\n  " + "\n  ".join(errors))
    for it in instrument["items"]:
        f = fields[str(it["id"])]
        it.update(f)
    body = yaml.safe_dump(instrument, allow_unicode=True, sort_keys=False, width=110, default_flow_style=None)
    paths.instrument.write_text(header + body, encoding="utf-8")
    left = find_todos(instrument)
    if left:
        return KeysResult(paths.wave, paths.instrument, len(fields), len(left),
                          f"答案表已写入 {paths.instrument}（{len(fields)} 道题）；还有 {len(left)} 处 TODO 须手工填写："
                          + "；".join(left[:10]))
    load_instrument(paths.instrument, _frameworks(paths))  # totals per dimension, coverage of the 26 benchmarks
    return KeysResult(paths.wave, paths.instrument, len(fields), 0,
                      f"答案表已写入 {paths.instrument}（{len(fields)} 道题），规格完整。下一步：python -m pipeline check "
                      f"--wave {paths.wave}")
