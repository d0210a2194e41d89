"""Wave specifications: YAML → frozen dataclasses with cross-checks."""

from pipeline.instruments.load import (
           dimension_estimands,
           load_frameworks,
           load_instrument,
           load_scoring,
           read_yaml,
)
from pipeline.instruments.model import Frameworks, Instrument, Item, ScoringRule

__all__ = ["Frameworks", "Instrument", "Item", "ScoringRule", "dimension_estimands", "load_frameworks", "load_instrument",
           "load_scoring", "read_yaml"]
