"""The authorised crosswalk: questionnaire number ↔ pseudonymous respondent_id.

Only on request (`export --with-questionnaire-id`), only when the linkage key already exists (it is never
created here: without the key that made the pseudonyms there is nothing to link), and only into
data/restricted/<wave>/, which is outside data/processed/, git-ignored and readable by its owner only.
Whoever holds the crosswalk and the fieldwork file can re-identify respondents.
"""

from __future__ import annotations

import os
from pathlib import Path

import pandas as pd

from pipeline.errors import InputError
from pipeline.ingest.columns import text
from pipeline.ingest.identities import DEFAULT_SECRET_FILE, link_secret, pseudonymise
from pipeline.ingest.readers import read_raw
from pipeline.paths import WavePaths
from pipeline.tableio import CSV_ENCODING, atomic_path

WARNING_ZH = ("警告：对照表可把假名还原为问卷编号，与调查公司的原始文件合用即可识别受访者。"
              "只有经授权的项目负责人可以持有；不得复制到 data/processed/、共享盘、邮件或报告中，用毕删除。")

NO_KEY = ("export --with-questionnaire-id needs the linkage key that made the pseudonyms (QZ_LINK_SECRET, "
          f"QZ_LINK_SECRET_FILE or {DEFAULT_SECRET_FILE}); none is present, so nothing is written. Run it on "
          "the machine and account that ran ingest.")


def secret_present() -> bool:
    """Whether the linkage key exists (environment or key file), without creating one."""
    if os.environ.get("QZ_LINK_SECRET"):
        return True
    return Path(os.environ.get("QZ_LINK_SECRET_FILE", DEFAULT_SECRET_FILE)).exists()


def restricted_dir(paths: WavePaths) -> Path:
    return paths.restricted


def build_crosswalk(paths: WavePaths, instrument, respondent_ids: pd.Series) -> pd.DataFrame:
    """questionnaire_id ↔ respondent_id for every exported respondent, re-made from the raw delivery's
    questionnaire numbers with the present key; a key other than ingest's stops here."""
    if not secret_present():
        raise InputError(NO_KEY)
    raw = read_raw(paths.raw / instrument.source_file, instrument.encoding,
                   skip=[i.column for i in instrument.identifiers])
    qcol = instrument.admin_column("questionnaire_id")
    qid = text(raw.data[qcol])
    ok = pd.notna(qid)
    pseudo = pseudonymise(paths.wave, qid[ok], link_secret())
    table = pd.DataFrame({"questionnaire_id": qid[ok], "respondent_id": pseudo}).drop_duplicates()
    wanted = set(respondent_ids.astype(str))
    table = table[table["respondent_id"].isin(wanted)].sort_values("respondent_id").reset_index(drop=True)
    missing = len(wanted) - table["respondent_id"].nunique()
    if missing:
        raise InputError(
            f"{missing} respondent(s) of the export have no questionnaire number under the present linkage key: "
            "the key is not the one ingest used. Use the key of the ingest run, or re-run ingest."
        )
    return table


def write_crosswalk(paths: WavePaths, table: pd.DataFrame) -> Path:
    out = restricted_dir(paths)
    out.mkdir(parents=True, exist_ok=True)
    os.chmod(out, 0o700)
    path = out / f"crosswalk_{paths.wave}.csv"
    with atomic_path(path) as tmp:
        table.to_csv(tmp, index=False, encoding=CSV_ENCODING, lineterminator="\n")
    os.chmod(path, 0o600)
    (out / "README.txt").write_text(WARNING_ZH + "\n", encoding="utf-8")
    return path

