"""`python -m pipeline check --wave W`: every problem of a delivery, listed before anything is run."""

from pipeline.check.delivery import Problem, check_delivery
from pipeline.check.run import CheckResult, run_check

__all__ = ["CheckResult", "Problem", "check_delivery", "run_check"]
