"""The survey design as one value: design.yaml loaded once (`spec`), and the record of the design the
weighting made (`record`, data/processed/<wave>/design.json) that every later stage reads."""

from pipeline.survey_design.record import RECORD, DesignRecord, MarginCells, read_record, write_record
from pipeline.survey_design.spec import (
           DesignSpec,
           load_delivery,
           load_design_spec,
           simulation_seed,
           variance_method,
)

__all__ = ["RECORD", "DesignRecord", "DesignSpec", "MarginCells", "load_delivery", "load_design_spec",
           "read_record", "simulation_seed", "variance_method", "write_record"]
