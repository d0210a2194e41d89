"""What the fieldwork company hands over: one record per completed interview, with the direct
identifiers, interviewer ids and timings real files have, and a few of the faults real files have.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from pipeline.instruments.model import Instrument
from pipeline.simulate.literacy import Answers
from pipeline.vocabulary import counties

SURNAMES = list("王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘蔡蒋余于杜叶程苏魏吕丁任沈姚卢姜崔钟谭陆汪范金石廖贾夏韦付方白邹孟熊秦邱江尹薛闫段雷侯龙史陶黎贺顾毛郝龚邵万钱严覃武戴莫孔向汤")
GIVEN = list("伟芳娜敏静丽强磊军洋勇艳杰娟涛明超秀霞平刚桂英华玉兰萍红建国志文辉鹏斌宇浩凯晨阳雪梅琳婷颖佳欣怡泽轩睿哲彬荣生海燕春")
ID_WEIGHTS = np.array([7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2])
ID_CHECK = "10X98765432"

# Faults planted in every demo delivery: (fault, count, the ingest reason code that must catch it)
FAULTS = (
    ("duplicate_identical", 2, "duplicate_identical"),
    ("duplicate_conflict", 3, "duplicate_id"),
    ("age_out_of_range", 4, "age_out_of_range"),
    ("short_interview", 5, "short_interview"),
    ("straightlining", 4, "straightlining"),
    ("unknown_county", 2, "unknown_area"),
    ("unknown_village", 1, "unknown_area"),
    ("code_outside_codebook", 2, "code_outside_codebook"),
)


def _id_number(rng, region: np.ndarray, birth: pd.Series, sex: np.ndarray) -> list[str]:
    """Fake 18-digit resident ID numbers with a valid GB 11643 check digit (never real people)."""
    seq = rng.integers(0, 50, size=len(sex)) * 2 + np.where(sex == 1, 1, 0)  # odd for men
    serial = rng.integers(100, 999, size=len(sex)) // 10 * 10 + seq % 10
    body = [f"{r}{b:%Y%m%d}{s:03d}" for r, b, s in zip(region, birth, serial)]
    out = []
    for b in body:
        digits = np.frombuffer(b.encode(), dtype=np.uint8) - 48
        out.append(b + ID_CHECK[int((digits * ID_WEIGHTS).sum() % 11)])
    return out


def _names(rng, n: int) -> list[str]:
    s = rng.choice(SURNAMES, n)
    g1 = rng.choice(GIVEN, n)
    g2 = np.where(rng.random(n) < 0.7, rng.choice(GIVEN, n), "")
    return [a + b + c for a, b, c in zip(s, g1, g2)]


@dataclass(frozen=True)
class Delivery:
    records: pd.DataFrame  # the survey file's rows, raw column names, in delivery order
    faults: list[dict]  # one entry per spoiled row: source_row (1-based), questionnaire_id, fault, reason


def build_records(rng: np.random.Generator, wave: int, inst: Instrument, completes: pd.DataFrame,
                  persons: pd.DataFrame, answers: Answers, county_names: dict[str, str]) -> pd.DataFrame:
    """Raw records for the completed interviews (rows of `completes`, answers aligned with them)."""
    n = len(completes)
    adm = dict(inst.admin)
    person = completes["person"].to_numpy()
    p = persons.iloc[person]
    age = p["age"].to_numpy().astype(int)
    sex = p["sex"].to_numpy()
    county_raw = completes["county_raw"].to_numpy()
    start = pd.Timestamp(f"{wave}-06-01 08:30") + pd.to_timedelta(
        rng.integers(0, 120, n), unit="D") + pd.to_timedelta(rng.integers(0, 11 * 60, n), unit="m")
    minutes = np.clip(rng.gamma(9.0, 4.0, n), 14.5, 120).round(1)
    seq = completes.groupby("county_code", sort=False).cumcount().to_numpy() + 1
    # age is recorded as the wave year minus the birth year, as the questionnaire asks it
    birth = pd.to_datetime(pd.DataFrame({"year": wave - age, "month": 1, "day": 1})) + pd.to_timedelta(
        rng.integers(0, 365, n), unit="D")
    # ID regions: the two zones issue IDs under their parent county
    parent = {u.code: u.parent or u.code for u in counties().units}
    region = np.array([parent[c] for c in completes["county_code"]])
    rec = pd.DataFrame({
        adm["questionnaire_id"]: [f"{wave}{c:02d}{s:05d}" for c, s in zip(county_raw, seq)],
        adm["interviewer_id"]: [f"F{c:02d}{i:02d}" for c, i in zip(county_raw, rng.integers(1, 16, n))],
        "XM": _names(rng, n),
        "SJHM": [f"1{a}{b:09d}" for a, b in zip(rng.choice(list("3589"), n), rng.integers(0, 10**9, n))],
        "SFZH": _id_number(rng, region, birth, sex),
        "ZZ": [f"福建省泉州市{county_names[c]}{v[-6:-3]}号村{int(d)}号" for c, v, d in
               zip(completes["county_code"], completes["village"], completes["dwelling"])],
        "GPS": [f"{24.5 + x:.5f},{118.2 + y:.5f}" for x, y in zip(rng.random(n) * 0.9, rng.random(n) * 0.9)],
    })
    demo = {d.field: d for d in inst.demographics}
    rec[demo["county"].column] = county_raw.astype(float)
    rec[demo["township"].column] = completes["township"].to_numpy()
    rec[demo["village"].column] = completes["village"].to_numpy()
    rec[demo["sex"].column] = sex.astype(float)
    rec[demo["birth_year"].column] = (birth.dt.year).astype(float)
    rec[demo["education"].column] = p["education_raw"].to_numpy().astype(float)
    rec[demo["occupation"].column] = p["occupation"].to_numpy().astype(float)
    rec[demo["urban"].column] = np.where(completes["urban"].to_numpy() == 1, 1.0, 2.0)
    rec[demo["hukou"].column] = p["hukou"].to_numpy().astype(float)
    rec[demo["n_adults"].column] = completes["n_adults"].to_numpy().astype(float)
    rec[adm["p_psu"]] = completes["p_psu"].to_numpy()
    rec[adm["p_ssu"]] = completes["p_ssu"].to_numpy()
    rec[adm["p_hh"]] = completes["p_hh"].to_numpy()
    rec[adm["start_time"]] = start
    rec[adm["end_time"]] = start + pd.to_timedelta(minutes, unit="m")
    code_of = {m.reason: float(m.code) for m in inst.missing_codes}
    miss_codes = np.array([np.nan, code_of["dont_know"], code_of["refused"], code_of["skipped"]])
    cols = {}
    for j, it in enumerate(inst.items):
        reason = answers.reason[:, j]
        if it.type == "multiple":
            for i, _code in enumerate(it.option_codes):
                bit = ((answers.mask[:, j] >> i) & 1).astype(float)
                cols[f"{it.column}_{it.option_codes[i]}"] = np.where(reason == 0, bit, miss_codes[reason])
        else:
            codes = np.array(it.option_codes, dtype=float)
            chosen = codes[np.maximum(answers.choice[:, j], 0)]
            cols[it.column] = np.where(reason == 0, chosen, miss_codes[reason])
    rec = pd.concat([rec, pd.DataFrame(cols)], axis=1)
    return rec


def plant_faults(rng: np.random.Generator, rec: pd.DataFrame, inst: Instrument, wave: int) -> Delivery:
    """Spoil a few records the way real deliveries are spoiled, and say exactly which."""
    adm = dict(inst.admin)
    demo = {d.field: d for d in inst.demographics}
    qid = adm["questionnaire_id"]
    n = len(rec)
    total = sum(c for _, c, _ in FAULTS) + sum(c for f, c, _ in FAULTS if f == "duplicate_conflict")
    victims = list(rng.choice(n, size=total, replace=False))
    rec = rec.copy()
    log: list[tuple[int, str, str]] = []  # (row index before appends, fault, reason)
    appended = []
    single_cols = [it.column for it in inst.items if it.type != "multiple"]
    multi_cols = [c for it in inst.items if it.type == "multiple" for c in it.raw_columns]
    for fault, count, reason in FAULTS:
        for _ in range(count):
            r = int(victims.pop())
            if fault == "duplicate_identical":
                appended.append((rec.iloc[[r]].copy(), fault, reason))
                continue
            if fault == "duplicate_conflict":
                other = int(victims.pop())
                rec.at[other, qid] = rec.at[r, qid]
                log += [(r, fault, reason), (other, fault, reason)]
                continue
            if fault == "age_out_of_range":
                rec.at[r, demo["birth_year"].column] = float(wave - (16 if rng.random() < 0.5 else 74))
            elif fault == "short_interview":
                rec.at[r, adm["end_time"]] = rec.at[r, adm["start_time"]] + pd.Timedelta(minutes=float(rng.uniform(4, 9)))
            elif fault == "straightlining":
                for c in single_cols:
                    rec.at[r, c] = 1.0
                for c in multi_cols:
                    rec.at[r, c] = 1.0
            elif fault == "unknown_county":
                rec.at[r, demo["county"].column] = float(len(inst.counties) + 2)
            elif fault == "unknown_village":
                rec.at[r, demo["village"].column] = str(rec.at[r, demo["village"].column])[:-3] + "999"
            elif fault == "code_outside_codebook":
                rec.at[r, demo["sex"].column] = 3.0
            log.append((r, fault, reason))
    faults = [{"source_row": r + 1, "questionnaire_id": str(rec.at[r, qid]), "fault": f, "reason": rs}
              for r, f, rs in log]
    for i, (row, fault, reason) in enumerate(appended):
        faults.append({"source_row": n + i + 1, "questionnaire_id": str(row[qid].iloc[0]), "fault": fault,
                       "reason": reason})
    if appended:
        rec = pd.concat([rec] + [a for a, _, _ in appended], ignore_index=True)
    faults.sort(key=lambda f: f["source_row"])
    return Delivery(rec, faults)
