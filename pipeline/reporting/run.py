"""`python -m pipeline report --wave W`: figures, workbook, CSV tables, HTML bulletin, then the manifest."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from pipeline import stages
from pipeline.manifest import prehash, write_manifest
from pipeline.paths import WavePaths
from pipeline.progress import Timer, log
from pipeline.progress import progress as progress_bar
from pipeline.publishing import labels as L
from pipeline.publishing.figures import save_figure
from pipeline.publishing.fonts import FontFaceAhead
from pipeline.reporting.figures import FIGURES, render
from pipeline.reporting.html import build_html, font_text_ahead
from pipeline.reporting.inputs import load_inputs
from pipeline.reporting.office import office_sheets
from pipeline.reporting.tables import build_tables, write_csvs, write_workbook
from pipeline.reporting.word import write_docx
from pipeline.tableio import stage_commit, write_text


@dataclass(frozen=True)
class ReportResult:
    wave: int
    report_dir: Path
    figures: tuple[Path, ...]
    tables: tuple[Path, ...]
    html: Path
    manifest: Path
    headline: str
    interval: str
    verdict: str
    is_demo: bool
    seconds: float
    docx: Path | None = None
    ci: str = "95%"

    def summary(self) -> str:
        demo = "【演示数据】" if self.is_demo else ""
        verdict = L.VERDICT_LABELS.get(self.verdict, self.verdict)
        return (f"{self.wave}年公报：图{len(self.figures) // 2}幅，表{len(self.tables) - 1}张；具备科学素质的公民比例 "
                f"{self.headline}（{self.ci}置信区间 {self.interval}），对照目标：{verdict}{demo}；HTML 与 Word 公报 → {self.report_dir}")


def run_report(paths: WavePaths, progress: bool = True) -> ReportResult:
    timer = Timer()
    say = log if progress else (lambda _msg: None)
    stages.begin("report", paths)
    inputs = load_inputs(paths)
    say(f"   reading {inputs.sources['estimates']} (variance: {inputs.variance_method})")
    if inputs.is_demo:
        say(f"   !! demo wave (data/raw/{paths.wave}/truth.json present): the report is marked as synthetic")
    out = paths.report_dir
    titles = {s.stem: s.title for s in FIGURES}
    # The font subset and the hashing of the files this stage does not write are the slow parts that do
    # not need the figures: they run on the other core while the figures are drawn.
    with FontFaceAhead(font_text_ahead(inputs, titles)) as font, prehash(paths) as digests:
        # every file of the report in place first, the manifest (the make target, which hashes them) last
        with stage_commit("report", stages.target("report", paths)):
            figures: dict[str, Path] = {}
            written: list[Path] = []
            for spec in progress_bar(FIGURES, label="figures", enabled=progress):
                files = save_figure(render(spec, inputs), out / "figures", spec.stem)
                figures[spec.stem] = files["png"]
                written += [files["png"], files["svg"]]
            tables = build_tables(inputs)
            table_files = write_csvs(tables, out / "tables") + [write_workbook(tables, out / "tables.xlsx",
                                                                               office_sheets(inputs))]
            say(f"   {len(tables)} tables -> {out / 'tables.xlsx'} and {out / 'tables'}/")
        with stage_commit("report", stages.target("report", paths)):  # the page reads the figures in place
            docx_path = write_docx(inputs, figures, titles, out / "report.docx")
            page, verdict = build_html(inputs, figures, titles, font_css=font.css)
            html_path = write_text(page, out / "report.html")
        with stage_commit("report", stages.target("report", paths)):
            manifest = write_manifest(paths, digests=digests)
    stages.clear_stale(paths)
    head = inputs.cell(L.HEADLINE)
    return ReportResult(
        wave=paths.wave, report_dir=out, figures=tuple(written), tables=tuple(table_files), html=html_path,
        manifest=manifest, headline=L.fmt_pct(head["est"], head["reliability"]),
        interval=L.fmt_interval(head["lci"], head["uci"], "proportion", head["reliability"]),
        verdict=verdict, is_demo=inputs.is_demo, seconds=timer.seconds, docx=docx_path, ci=inputs.ci,
    )
