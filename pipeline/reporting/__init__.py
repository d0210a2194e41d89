"""Reporting stage: figures, the Excel workbook and CSV tables, the HTML bulletin and the manifest.

Reads only the estimate stage's outputs (and the run records of ingest and weighting for the methods
section); see run.run_report.
"""

from pipeline.reporting.run import ReportResult, run_report

__all__ = ["ReportResult", "run_report"]
