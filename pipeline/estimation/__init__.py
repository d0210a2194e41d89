"""Estimation stage: design-based estimates per domain, reliability, the 16% verdict, SAE, wave differences."""

from pipeline.estimation.design import Design

__all__ = ["Design"]
