"""Weighting stage: base weights, non-response adjustment, calibration, trimming, replicate weights."""

from pipeline.weighting.calibration import CALIBRATION_METHODS, Margin, calibrate
from pipeline.weighting.run import WeightResult, run_weight, weight_wave
from pipeline.weighting.steps import WEIGHTING_STEPS

__all__ = ["CALIBRATION_METHODS", "WEIGHTING_STEPS", "Margin", "WeightResult", "calibrate", "run_weight",
           "weight_wave"]
