"""Estimation stage: design-based estimates per domain, reliability, the 16% verdict, SAE, wave differences."""

from pipeline.estimation.design import Design
from pipeline.estimation.run import EstimateResult, run_estimate
from pipeline.estimation.sae import fay_herriot
from pipeline.estimation.targets import verdicts, wave_difference

__all__ = ["Design", "EstimateResult", "fay_herriot", "run_estimate", "verdicts", "wave_difference"]
