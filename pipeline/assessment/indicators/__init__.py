"""Plan activity indicators: the yearly template, validation of submissions, and status against targets."""

from pipeline.assessment.indicators.status import MET, NOT_MET, NOT_REPORTED, status_table, summary_table
from pipeline.assessment.indicators.submissions import Validation, validate_year
from pipeline.plan.form import write_template

__all__ = ["MET", "NOT_MET", "NOT_REPORTED", "Validation", "status_table", "summary_table", "validate_year",
           "write_template"]
