"""Results back to the tools people use: a labelled analysis file per wave (.sav, .dta, .csv, .parquet),
its codebook, and design syntax for R, Stata and SPSS that reproduces the published numbers."""

from pipeline.export.run import ExportResult, run_export

__all__ = ["ExportResult", "run_export"]
