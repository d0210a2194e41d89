"""`python -m pipeline export --wave W --format sav,dta,csv,parquet [--out DIR]`: one labelled analysis file
per wave with its codebook, replicate scale factors and design syntax for R, Stata and SPSS.

Everything is written into a temporary folder beside the destination and moved in only when all of it
is ready, export.json (names and sha256 of every file) last: a failed export leaves the previous one
untouched, and export.json is the make target.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from pipeline.errors import InputError
from pipeline.estimation.run import analysis_frame, read_weights
from pipeline.estimation.spec import load_estimands
from pipeline.export import crosswalk as cw
from pipeline.export.published import published
from pipeline.export.syntax_r import r_script
from pipeline.export.syntax_spss import spss_syntax
from pipeline.export.syntax_stata import stata_do
from pipeline.export.variables import AnalysisFile, build_variables, replicate_table
from pipeline.export.writers import FORMATS, WRITERS, codebook, write_codebook_xlsx
from pipeline.instruments import load_frameworks, load_instrument
from pipeline.manifest import sha256_file
from pipeline.paths import WavePaths
from pipeline.progress import Timer, log
from pipeline.schemas import ESTIMATES, RESPONDENTS, SCORES
from pipeline.survey_design.record import RECORD, read_record
from pipeline.survey_design.replicate_blocks import BLOCK_COLUMN, replicate_columns
from pipeline.tableio import CSV_ENCODING, read_table, write_json

MARGIN_NAMES = {"county_code": "县（市、区）", "county": "县（市、区）", "sex": "性别", "age_band": "年龄段",
                "urban": "城乡", "education": "文化程度"}


@dataclass(frozen=True)
class ExportResult:
    wave: int
    out: Path
    files: tuple[Path, ...]
    respondents: int
    variables: int
    replicates: int
    crosswalk: Path | None
    seconds: float

    def summary(self) -> str:
        cw_note = f"；问卷编号对照表（限定范围） → {self.crosswalk}" if self.crosswalk else ""
        return (f"{self.wave}年分析文件：受访者 {self.respondents} 人 × 变量 {self.variables} 个（重复权数 "
                f"{self.replicates} 套），文件 {len(self.files)} 个 → {self.out}{cw_note}；用时 {self.seconds:.1f} 秒")


def export_dir(paths: WavePaths) -> Path:
    return paths.out / "export"


def data_name(wave: int) -> str:
    return f"literacy_{wave}"


def analysis_file(paths: WavePaths) -> AnalysisFile:
    """The labelled analysis file of a wave, from the processed tables (pure apart from reading them)."""
    frameworks = load_frameworks(paths.frameworks)
    instrument = load_instrument(paths.instrument, frameworks)
    spec = load_estimands(paths.estimands)
    record = read_record(paths.processed(RECORD))
    rep_cols = list(record.replicate_columns)
    weights, blocks = read_weights(paths, record)
    # the exported file carries every replicate weight as a column of its own
    weights = replicate_columns(weights, blocks, rep_cols).drop(columns=[BLOCK_COLUMN])
    frame = analysis_frame(read_table(paths.processed("respondents.parquet"), RESPONDENTS),
                           read_table(paths.processed("scores.parquet"), SCORES), weights)
    if not rep_cols:
        raise InputError(f"{paths.processed(RECORD)} names no replicate weights; the export carries the published "
                         "replicate design: re-run the weighting stage.")
    described = []
    for i, m in enumerate(record.margins):
        col = f"_calibration_cell_{i}"
        frame[col] = m.cell_labels(frame, "the analysis frame (respondents ⋈ scores ⋈ weights)")
        described.append((col, "×".join(MARGIN_NAMES.get(v, v) for v in m.by)))
    frame = frame.sort_values(["stratum", "psu", "respondent_id"], kind="mergesort").reset_index(drop=True)
    flags = next((dt.flags for dt in spec.domains if dt.name == "group"), ())
    af = build_variables(frame, instrument, flags, described, record,
                         replicate_table(frame, rep_cols, record.replicates["rscales"]))
    dropped = {i.column for i in instrument.identifiers} | {c for _, c in instrument.admin}
    leaked = sorted(dropped & set(af.data.columns))
    if leaked:  # the allow-list makes this impossible; the check keeps it so
        raise InputError(f"export would carry raw identifier or admin column(s) {leaked}; refusing to write.")
    return af


def run_export(paths: WavePaths, formats=("sav",), out: Path | None = None, with_questionnaire_id: bool = False,
               progress: bool = True) -> ExportResult:
    timer = Timer()
    say = log if progress else (lambda _m: None)
    formats = tuple(dict.fromkeys(formats))
    unknown = [f for f in formats if f not in FORMATS]
    if unknown or not formats:
        raise InputError(f"--format {','.join(formats)}: choose one or more of {', '.join(FORMATS)} "
                         "(comma-separated, e.g. --format sav,dta).")
    out = Path(out) if out else export_dir(paths)
    if out.resolve().is_relative_to(paths.project.raw_root.resolve()):
        raise InputError(f"--out {out}: exports never go under data/raw/ (raw data is only read).")
    if with_questionnaire_id and not cw.secret_present():
        raise InputError(cw.NO_KEY)
    af = analysis_file(paths)
    estimates = read_table(paths.processed("estimates.csv"), ESTIMATES)
    primary = read_record(paths.processed(RECORD)).primary
    if primary not in set(estimates["variance_method"]):
        raise InputError(f"estimates.csv has no {primary!r} rows (the primary variance method of the design record "
                         f"{RECORD}); re-run estimate.")
    pub = published(estimates, primary)
    links = None
    if with_questionnaire_id:  # before anything is written: a wrong key leaves no export behind either
        links = cw.build_crosswalk(paths, load_instrument(paths.instrument, load_frameworks(paths.frameworks)), af.data["respondent_id"])
    name = data_name(paths.wave)
    title = f"{paths.wave}年泉州市公民科学素质调查分析文件（18—69岁常住居民，含最终权数与复制权数）"
    say(f"   {len(af.data)} respondents, {len(af.variables)} variables, formats {', '.join(formats)}")

    out.parent.mkdir(parents=True, exist_ok=True)
    stage = Path(tempfile.mkdtemp(prefix=f".{out.name}.", dir=out.parent))
    try:
        for fmt in formats:
            WRITERS[fmt](af, stage / f"{name}.{fmt}", title)
        codebook(af).to_csv(stage / "codebook.csv", index=False, encoding=CSV_ENCODING, lineterminator="\n")
        write_codebook_xlsx(af, stage / "codebook.xlsx", title)
        af.replicates.to_csv(stage / "replicates.csv", index=False, encoding=CSV_ENCODING, lineterminator="\n",
                             float_format="%.17g")
        syntax = {f"design_{paths.wave}.R": r_script(af, f"{name}.csv", "replicates.csv", paths.wave, pub),
                  f"design_{paths.wave}.do": stata_do(af, f"{name}.dta", paths.wave, pub),
                  f"design_{paths.wave}.sps": spss_syntax(af, f"{name}.sav", paths.wave, pub)}
        for fname, text in syntax.items():
            (stage / fname).write_text(text, encoding="utf-8")
        files = sorted(p.name for p in stage.iterdir())
        out.mkdir(parents=True, exist_ok=True)
        # the make target goes first and comes back last: a run killed while renaming leaves no export.json
        # vouching for a mixture of old and new files
        (out / "export.json").unlink(missing_ok=True)
        for fname in files:
            os.chmod(stage / fname, 0o644)
            os.replace(stage / fname, out / fname)
    finally:
        shutil.rmtree(stage, ignore_errors=True)
    manifest = {"wave": paths.wave, "respondents": len(af.data), "variables": [v.name for v in af.variables],
                "design": af.design, "files": {f: sha256_file(out / f) for f in files},
                "published": _shown(pub).to_dict("records")}
    write_json(manifest, out / "export.json")
    crosswalk = None
    if links is not None:
        crosswalk = cw.write_crosswalk(paths, links)
        log(f"!! {cw.WARNING_ZH}")
        log(f"!! crosswalk written to {crosswalk} (owner-only permissions, outside data/processed/)")
    return ExportResult(paths.wave, out, tuple(out / f for f in files + ["export.json"]), len(af.data),
                        len(af.variables), af.design["n_replicates"], crosswalk, timer.seconds)


def _shown(pub: pd.DataFrame) -> pd.DataFrame:
    """The published rows with the numbers of withheld cells blanked, as every output shows them."""
    pub = pub.copy()
    hide = pub["reliability"] == "suppressed"
    pub[["est", "se"]] = pub[["est", "se"]].astype(object).where(~hide, None)
    return pub


def read_export_csv(path: Path) -> pd.DataFrame:
    return pd.read_csv(path, encoding=CSV_ENCODING, dtype={"respondent_id": str, "county_code": str})
