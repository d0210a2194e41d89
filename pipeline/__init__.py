"""Quanzhou civic science-literacy survey pipeline: ingest → score ∥ weight → estimate → report."""

__version__ = "0.1.0"
