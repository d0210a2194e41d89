"""Multi-wave assessment: trend tables, the mid-term check and the final evaluation of the plan, and the
plan's activity indicators. `run_assess` (pipeline.assessment.run) is the entry point; imports are left to
the modules so that `python -m pipeline` starts without loading the plotting stack."""
