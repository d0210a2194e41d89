"""Ingest: readers, identity removal, codebook and quality checks, quarantine."""

from pipeline.ingest.run import IngestResult, run_ingest

__all__ = ["IngestResult", "run_ingest"]
