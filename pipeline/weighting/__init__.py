"""Weighting stage: base weights, non-response adjustment, calibration, trimming, replicate weights."""

from pipeline.weighting.calibration import WEIGHTING_STEPS, Margin, calibrate
from pipeline.weighting.run import WeightResult, run_weight, weight_wave

__all__ = ["WEIGHTING_STEPS", "Margin", "WeightResult", "calibrate", "run_weight", "weight_wave"]
