"""Draft a wave's specification from the delivery's own metadata.

`python -m pipeline instrument draft --wave W --delivery FILE` writes survey_instruments/W/: scoring,
design and estimands copied from the nearest existing wave, and an instrument.yaml drafted from the
file's variable labels, value labels and SPSS user-missing definitions:

- admin, design and demographic columns are matched to the standard fields by label (and sex / urban
  also by their value labels), and their codes mapped onto the reference wave's codebooks by label;
- direct identifiers are recognised by label and by content (ID numbers with a valid check digit,
  mobile numbers) and listed to be dropped;
- test items are recognised (true/false, single, one 0/1 column per option of a multiple-answer item),
  with options from the value labels and the user-missing codes as 不知道 / 拒答 / 跳过;
- what a file cannot say (answer keys, points, dimensions, benchmarks, unmatched codes) is written as an
  explicit TODO, which the loader refuses until every one is resolved (the key sheet fills the keys).
"""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import yaml

from pipeline.errors import InputError, PipelineError
from pipeline.instruments.load import read_yaml
from pipeline.paths import WavePaths, project_paths
from pipeline.vocabulary import MISSING_REASONS
from pipeline.vocabulary import counties as vocabulary_counties

TODO = "TODO"
IDENTIFIER_LABELS = (("name", ("姓名",)), ("phone", ("手机", "电话", "联系方式")), ("id_number", ("身份证",)),
                     ("address", ("住址", "地址")), ("gps", ("定位", "GPS", "经纬度", "坐标")))
ADMIN_LABELS = (("questionnaire_id", ("问卷编号", "问卷号", "样本编号")), ("interviewer_id", ("访问员", "调查员")),
                ("start_time", ("开始时间",)), ("end_time", ("结束时间",)))
DESIGN_LABELS = (("p_psu", ("乡镇（街道）入样概率", "乡镇入样概率", "街道入样概率")),
                 ("p_ssu", ("村（居）入样概率", "村居入样概率", "村入样概率", "社区入样概率")),
                 ("p_hh", ("住户入样概率", "户入样概率")),
                 ("design_weight", ("设计权数", "设计权重", "基础权数")),
                 ("final_weight", ("最终权数", "最终权重", "加权权数", "权重", "权数")))
DEMOGRAPHIC_LABELS = (("county", ("县（市、区）", "区县", "县区", "县市区")), ("township", ("乡镇", "街道")),
                      ("village", ("村（居）", "村居", "社区", "村委")), ("sex", ("性别",)),
                      ("birth_year", ("出生年",)), ("age", ("年龄", "周岁")),
                      ("education", ("文化程度", "学历", "受教育")),
                      ("occupation", ("职业",)), ("urban", ("城乡",)), ("hukou", ("户口", "户籍")),
                      ("n_adults", ("成员人数", "成年人数", "18—69", "18-69")))
VALUE_SIGNATURES = {"sex": {"男", "女"}, "urban": {"城镇", "乡村"}}
MISSING_LABELS = {"dont_know": ("不知道", "不清楚", "不了解"), "refused": ("拒答", "拒绝回答"), "skipped": ("跳过", "不适用")}
ID_WEIGHTS = np.array([7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2])
ID_CHECK = "10X98765432"
MOBILE = re.compile(r"^1[3-9]\d{9}$")
ID18 = re.compile(r"^\d{17}[\dX]$")


@dataclass
class FileMeta:
    columns: list[str]
    labels: dict[str, str]
    value_labels: dict[str, dict]
    missing: dict[str, set[float]]  # column → user-missing values
    title: str
    data: pd.DataFrame  # a sample of rows, for the content checks
    notes: list[str] = field(default_factory=list)


def read_meta(path: Path) -> FileMeta:
    from pipeline.ingest.readers import read_raw

    suffix = path.suffix.lower()
    title = ""
    missing: dict[str, set[float]] = {}
    if suffix in (".sav", ".zsav"):
        import pyreadstat

        try:
            _, meta = pyreadstat.read_sav(str(path), metadataonly=True, user_missing=True)
        except Exception as err:
            raise InputError(f"{path}: cannot be read ({type(err).__name__}: {err}).") from None
        title = meta.file_label or ""
        for col, ranges in (meta.missing_ranges or {}).items():
            vals = set()
            for r in ranges:
                lo, hi = float(r["lo"]), float(r["hi"])
                vals |= {float(v) for v in range(int(np.ceil(lo)), int(np.floor(hi)) + 1)}
            missing[col] = vals
        for col, vals in (getattr(meta, "missing_user_values", None) or {}).items():
            missing.setdefault(col, set()).update(float(v) for v in vals if isinstance(v, int | float))
    raw = read_raw(path, None, check_text=False)
    data = raw.data.head(2000)
    return FileMeta(list(raw.data.columns), {k: v or "" for k, v in raw.column_labels.items()},
                    {k: {float(c): str(lab) for c, lab in v.items()} for k, v in raw.value_labels.items()},
                    missing, title, data)


def _valid_id(s: str) -> bool:
    if not ID18.match(s):
        return False
    digits = np.frombuffer(s[:17].encode(), dtype=np.uint8) - 48
    return ID_CHECK[int((digits * ID_WEIGHTS).sum() % 11)] == s[17]


def identifier_by_content(s: pd.Series) -> str | None:
    """id_number / phone when most non-empty values have that shape (checked on a sample)."""
    v = s.dropna().astype(str).str.strip()
    v = v[v != ""]
    if len(v) < 5:
        return None
    if v.map(_valid_id).mean() > 0.8:
        return "id_number"
    if v.str.match(MOBILE).mean() > 0.8:
        return "phone"
    return None


def looks_like_age(s: pd.Series) -> bool:
    """Whole numbers of years, nearly all in 15–100 and most within the survey's 18–69: an age, not a
    birth year, a count or a code."""
    v = pd.to_numeric(s, errors="coerce").dropna()
    v = v[v < 90]  # user-missing codes such as 97–99
    return bool(len(v) >= 5 and (v == v.round()).all() and v.between(15, 100).mean() > 0.95
                and v.between(18, 69).mean() > 0.8)


def _match(label: str, words: tuple[str, ...]) -> bool:
    return any(w.lower() in label.lower() for w in words)


def nearest_wave(root: Path, wave: int) -> int:
    waves = sorted(int(p.name) for p in project_paths(root).spec_root.iterdir()
                   if p.is_dir() and p.name.isdigit() and (p / "instrument.yaml").exists() and int(p.name) != wave)
    if not waves:
        raise PipelineError("no existing wave in survey_instruments/ to copy scoring, design and estimands from.")
    earlier = [w for w in waves if w < wave]
    return earlier[-1] if earlier else waves[0]


def _map_codes(file_codes: dict[float, str], ref_codes: dict[Any, str], field_name: str) -> dict:
    """File code → label, with labels taken from the reference codebook when they match (exactly, or
    closely enough); a label that matches none is a TODO naming the allowed labels."""
    ref_labels = [str(v) for v in ref_codes.values()]
    out = {}
    for code, lab in sorted(file_codes.items()):
        if lab in ref_labels or not ref_labels:
            out[int(code)] = lab
            continue
        close = difflib.get_close_matches(lab, ref_labels, n=1, cutoff=0.6)
        if close:
            out[int(code)] = close[0]
        else:
            out[int(code)] = f"{TODO}：文件标签“{lab}”对不上参考编码表（{'、'.join(ref_labels)}），请改为其中之一"
    return out


def _translate(codes: list, ref: dict[Any, str], mapped: dict[int, str]) -> list:
    """Reference codes → file codes through their labels."""
    by_label = {v: k for k, v in mapped.items()}
    out = []
    for c in codes:
        lab = ref.get(c, ref.get(int(c)) if isinstance(c, float | int) else None)
        out.append(by_label.get(lab, f"{TODO}：参考代码 {c}（{lab}）在新文件中找不到"))
    return out


def draft_instrument(meta: FileMeta, ref: dict, wave: int, source_file: str) -> tuple[dict, list[str]]:
    """The instrument.yaml content and notes for the person running the draft."""
    notes: list[str] = []
    claimed: set[str] = set()
    labels = meta.labels

    identifiers = []
    for col in meta.columns:
        lab = labels.get(col, "")
        if meta.value_labels.get(col):  # a coded answer (e.g. an option that mentions a phone) is no identity
            continue
        kind = next((k for k, words in IDENTIFIER_LABELS if _match(lab, words)), None)
        if kind is None and col in meta.data.columns and (meta.data[col].dtype == object):
            kind = identifier_by_content(meta.data[col])
            if kind:
                notes.append(f"列 {col}（{lab or '无标签'}）的内容像{'身份证号码' if kind == 'id_number' else '手机号码'}，"
                             "已列为直接身份信息。")
        if kind:
            identifiers.append({"column": col, "kind": kind, "label_zh": lab or kind})
            claimed.add(col)

    def find(table) -> dict[str, str]:
        found = {}
        for role, words in table:
            for col in meta.columns:
                if col in claimed:
                    continue
                lab = labels.get(col, "")
                sig = VALUE_SIGNATURES.get(role)
                if role == "age" and (found.get("birth_year") or not (col in meta.data.columns
                                                                      and looks_like_age(meta.data[col]))):
                    continue  # a birth year wins; an "age" column must hold ages (not 年龄段 codes)
                if _match(lab, words) or (sig and set(meta.value_labels.get(col, {}).values()) == sig):
                    found[role] = col
                    claimed.add(col)
                    break
        return found

    admin = find(ADMIN_LABELS)
    design = find(DESIGN_LABELS)
    if {"p_psu", "p_ssu", "p_hh"} <= set(design):
        design = {k: design[k] for k in ("p_psu", "p_ssu", "p_hh")}
    elif "design_weight" in design:
        design = {"design_weight": design["design_weight"]}
    elif "final_weight" in design:
        design = {"final_weight": design["final_weight"]}
    else:
        design = {"p_psu": TODO, "p_ssu": TODO, "p_hh": TODO}
        notes.append("没有找到入样概率或权数列：design_columns 需要手工填写。")
    for role in ("questionnaire_id", "interviewer_id"):
        admin.setdefault(role, TODO)
    demo_cols = find(DEMOGRAPHIC_LABELS)

    ref_demo = {d["field"]: d for d in ref.get("demographics") or []}
    demographics = []
    counties = []
    for fld, _ in DEMOGRAPHIC_LABELS:
        col = demo_cols.get(fld)
        if fld == "age" and col is None or fld == "birth_year" and col is None and "age" in demo_cols:
            continue  # one of the two: age (completed years at interview) or birth year
        if fld == "age":
            notes.append(f"列 {col}（{labels.get(col, '')}）是年龄（周岁）而不是出生年份：资格条件 18–69 岁直接用访问时的"
                         "年龄判断。")
        r = ref_demo.get(fld, {})
        entry: dict[str, Any] = {"field": fld, "column": col or TODO,
                                 "label_zh": labels.get(col, "") if col else r.get("label_zh", fld)}
        vl = meta.value_labels.get(col, {}) if col else {}
        if fld == "county":
            by_name = {u.name_zh: u.code for u in vocabulary_counties().units}
            for code, name in sorted(vl.items()):
                known = by_name.get(name)
                # the name stays beside the code for the reader; the loader checks it against counties.yaml
                counties.append({"raw": int(code), "code": known or f"{TODO}：{name} 在 counties.yaml 中的县级单位代码",
                                 "name_zh": name})
        elif fld not in ("age", "birth_year") and (r.get("codes") or vl):  # years are numbers, not codes
            ref_codes = r.get("codes") or {}
            mapped = _map_codes({k: v for k, v in vl.items() if k not in meta.missing.get(col, set())}, ref_codes, fld)
            entry["codes"] = mapped
            if r.get("bands"):
                bands = {}
                used = set()
                for band, codes in r["bands"].items():
                    fc = [c for c in _translate(codes, ref_codes, mapped) if not isinstance(c, str)]
                    bands[band] = fc
                    used |= set(fc)
                left = [c for c in mapped if c not in used]
                if left:
                    bands[f"{TODO} 未归入任何分组的代码"] = left
                entry["bands"] = bands
        if r.get("range") and fld != "county":
            entry["range"] = list(r["range"])
        if col is None:
            notes.append(f"没有找到人口学变量 {fld}（{r.get('label_zh', fld)}）：column 写成了 TODO。")
        demographics.append(entry)

    key_groups = {}
    coded = {d["field"]: d for d in demographics}
    for flag, rules in (ref.get("key_groups") or {}).items():
        key_groups[flag] = {}
        for fld, vals in rules.items():
            if fld == "age":
                key_groups[flag][fld] = list(vals)
            else:
                key_groups[flag][fld] = _translate(list(vals), ref_demo.get(fld, {}).get("codes") or {},
                                                   coded.get(fld, {}).get("codes") or {})

    missing_codes = _missing_codes(meta, ref)
    miss_values = {float(m["code"]) for m in missing_codes if not isinstance(m["code"], str)}
    items = _items(meta, claimed, miss_values)
    if not items:
        notes.append("没有识别出任何测试题：items 为空。")
    for it in items:
        if it.get("one_column"):
            notes.append(f"列 {it['column']} 的多选答案写在一列中（{it['one_column']}），选项 {list(it['options'])} 是由数据中"
                         "出现过的答案推断的：请按问卷补全选项及其文字（没人选过的选项不会出现在数据里）。")
    spare = [c for c in meta.columns if c not in claimed and not any(c in it["_columns"] for it in items)]
    for it in items:
        it.pop("_columns")
    if spare:
        notes.append("以下列没有归入任何字段，运行时将被忽略：" + "、".join(f"{c}（{labels.get(c, '') or '无标签'}）"
                                                          for c in spare))
    instrument = {
        "schema_version": 1, "wave": wave,
        "title_zh": meta.title or f"{wave}年公民科学素质调查问卷",
        "source_file": source_file, "encoding": None,
        "missing_codes": missing_codes, "identifiers": identifiers,
        "admin": admin, "design_columns": design, "counties": counties, "key_groups": key_groups,
        "demographics": demographics, "checks": ref.get("checks") or [], "items": items,
    }
    return instrument, notes


def _missing_codes(meta: FileMeta, ref: dict) -> list[dict]:
    found: dict[str, tuple[float, str]] = {}
    for col, vl in meta.value_labels.items():
        user = meta.missing.get(col, set())
        for code, lab in vl.items():
            reason = next((r for r, words in MISSING_LABELS.items() if lab in words), None)
            if reason and (code in user or not meta.missing) and reason not in found:
                found[reason] = (code, lab)
    out = []
    ref_missing = {m["reason"]: m for m in ref.get("missing_codes") or []}
    for reason in MISSING_REASONS:
        if reason in found:
            code, lab = found[reason]
            out.append({"reason": reason, "code": int(code), "label_zh": lab})
        else:
            r = ref_missing.get(reason, {})
            out.append({"reason": reason, "code": f"{TODO}：文件没有标注{MISSING_LABELS[reason][0]}的代码"
                        + (f"（参考波次为 {r['code']}）" if r else ""), "label_zh": MISSING_LABELS[reason][0]})
    return out


LIST_CELL = re.compile(r"^\d+(?:[\s,;，；、/|]+\d+)*$")
LETTER_CELL = re.compile(r"^[A-Za-z](?:[\s,;，；、/|]*[A-Za-z])*$")


def one_column_layout(s: pd.Series, label: str, missing: set[float]) -> tuple[str, list[int]] | None:
    """(layout, option codes) when a column holds multiple answers in one cell: "1,3" (list), "A,C" or
    "AC" (letters), or, in a numeric column labelled 多选, 13 for options 1 and 3 (digits)."""
    if pd.api.types.is_numeric_dtype(s):
        v = s.dropna()
        v = v[~v.isin(list(missing))]
        if "多选" not in label or len(v) < 5 or not (v == v.round()).all() or not (v >= 10).any():
            return None
        digits = v.astype(np.int64).astype(str)
        if not digits.map(lambda d: "0" not in d and len(set(d)) == len(d)).all():
            return None
        return "digits", sorted({int(c) for d in digits for c in d})
    v = s.dropna().astype(str).str.strip()
    v = v[(v != "") & ~v.isin([f"{m:g}" for m in missing])]
    if len(v) < 5:
        return None
    if v.str.match(LIST_CELL).all() and v.str.contains(r"\D").any():
        return "list", sorted({int(x) for cell in v for x in re.split(r"\D+", cell) if x})
    if v.str.match(LETTER_CELL).all():
        letters = {c.upper() for cell in v for c in cell if c.isalpha()}
        return "letters", list(range(1, ord(max(letters)) - ord("A") + 2))
    return None


def _items(meta: FileMeta, claimed: set[str], missing: set[float]) -> list[dict]:
    items = []
    one: dict[str, tuple[str, list[int]]] = {}
    stems: dict[str, list[tuple[int, str]]] = {}
    order: list[tuple[str, str]] = []  # (kind, name) in file order
    for col in meta.columns:
        if col in claimed:
            continue
        vl = {k: v for k, v in meta.value_labels.get(col, {}).items() if k not in missing}
        m = re.match(r"^(.+)_(\d+)$", col)
        if m and set(vl) <= {0.0, 1.0} and vl:
            stem = m.group(1)
            if stem not in stems:
                stems[stem] = []
                order.append(("multiple", stem))
            stems[stem].append((int(m.group(2)), col))
        elif len(vl) >= 2:
            order.append(("single", col))
        elif not vl and col in meta.data.columns and (
                found := one_column_layout(meta.data[col], meta.labels.get(col, ""), missing)) is not None:
            one[col] = found
            order.append(("one_column", col))
    for kind, name in order:
        if kind == "one_column":
            layout, codes = one[name]
            options = {c: (f"选项{chr(ord('A') + c - 1)}" if layout == "letters" else f"选项{c}") for c in codes}
            items.append({"id": name, "column": name, "type": "multiple", "one_column": layout,
                          "text_zh": meta.labels.get(name, "") or name, "options": options, "key": TODO,
                          "scoring": "all_or_nothing", "points": TODO, "dimension": TODO, "benchmarks": TODO,
                          "_columns": [name]})
            continue
        if kind == "multiple":
            cols = sorted(stems[name])
            if len(cols) < 2:
                continue
            first = meta.labels.get(cols[0][1], "")
            text = first.split("——")[0] if "——" in first else first
            options = {}
            for code, col in cols:
                lab = meta.labels.get(col, "")
                options[code] = lab.split("——", 1)[1] if "——" in lab else lab or f"选项{code}"
            items.append({"id": name, "column": name, "type": "multiple", "text_zh": text, "options": options,
                          "key": TODO, "scoring": "all_or_nothing", "points": TODO, "dimension": TODO,
                          "benchmarks": TODO, "_columns": [c for _, c in cols]})
        else:
            vl = {int(k): v for k, v in sorted(meta.value_labels[name].items()) if k not in missing}
            typ = "true_false" if set(vl.values()) == {"对", "错"} else "single"
            items.append({"id": name, "column": name, "type": typ, "text_zh": meta.labels.get(name, "") or name,
                          "options": vl, "key": TODO, "points": TODO, "dimension": TODO, "benchmarks": TODO,
                          "_columns": [name]})
    return items


def _delivery_block(design_text: str, instrument: dict, raw_dir: Path) -> str:
    roles = set(instrument["design_columns"])
    mode = ("design_weight" if "design_weight" in roles else "final_weight" if "final_weight" in roles
            else "full" if (raw_dir / "contacts.csv").exists() else "no_contacts")
    times = "start_time" in instrument["admin"]
    block = f"delivery:\n  mode: {mode}\n  interview_times: {'true' if times else 'false'}\n"
    if re.search(r"^delivery:\n(?:  .*\n)*", design_text, flags=re.M):
        return re.sub(r"^delivery:\n(?:  .*\n)*", block, design_text, count=1, flags=re.M)
    return design_text.rstrip("\n") + "\n\n" + block


def dump_instrument(instrument: dict, header: str) -> str:
    body = yaml.safe_dump(instrument, allow_unicode=True, sort_keys=False, width=110, default_flow_style=None)
    return header + body


@dataclass(frozen=True)
class DraftResult:
    wave: int
    folder: Path
    reference: int
    items: int
    todos: int
    notes: tuple[str, ...]

    def summary(self) -> str:
        return (f"{self.wave}年规格草稿写入 {self.folder}（评分、设计、估计量复制自 {self.reference} 年）：{self.items} 道题，"
                f"{self.todos} 处 TODO 待填写。下一步：python -m pipeline instrument keys --wave {self.wave} "
                "--template key.xlsx")


def run_draft(paths: WavePaths, delivery: Path, force: bool = False, reference: int | None = None) -> DraftResult:
    from pipeline.instruments.todos import find_todos
    from pipeline.progress import log
    from pipeline.survey_design import load_design_spec

    delivery = Path(delivery)
    if paths.spec.exists() and any(paths.spec.iterdir()) and not force:
        raise PipelineError(f"{paths.spec} already holds a specification; pass --force to overwrite it with a new draft.")
    ref_wave = reference or nearest_wave(paths.root, paths.wave)
    ref = WavePaths(ref_wave, paths.root)
    meta = read_meta(delivery)
    instrument, notes = draft_instrument(meta, read_yaml(ref.instrument), paths.wave, delivery.name)
    header = (f"# {paths.wave}年问卷规格：由 `python -m pipeline instrument draft` 根据 {delivery.name} 的变量标签和值标签起草。\n"
              "# 每个 TODO 都须填写（答案、分值、维度和基准可用 `instrument keys` 的答案表填写），否则规格不会被读取。\n")
    paths.spec.mkdir(parents=True, exist_ok=True)
    for name in ("scoring.yaml", "design.yaml", "estimands.yaml"):
        text = (ref.spec / name).read_text(encoding="utf-8")
        text = re.sub(r"^wave: \d+", f"wave: {paths.wave}", text, count=1, flags=re.M)
        if name == "design.yaml":
            text = _delivery_block(text, instrument, delivery.parent)
        (paths.spec / name).write_text(text, encoding="utf-8")
    # the drafted design must load as the weighting stage will load it (a mistake is named now, not later)
    load_design_spec(paths.design)
    (paths.spec / "CHANGES.md").write_text(
        f"# {paths.wave} 年规格的来历\n\n由 `instrument draft` 根据 {delivery.name} 起草；评分规则、抽样设计与加权、估计量复制自 "
        f"{ref_wave} 年。与 {ref_wave} 年问卷的差别请在此记录。\n", encoding="utf-8")
    (paths.spec / "instrument.yaml").write_text(dump_instrument(instrument, header), encoding="utf-8")
    todos = find_todos(instrument)
    for n in notes:
        log(f"   注意：{n}")
    return DraftResult(paths.wave, paths.spec, ref_wave, len(instrument["items"]), len(todos), tuple(notes))
