# The only place that knows the order of the stages. Every stage is a real file target whose
# prerequisites are its inputs, its code and its spec, so an unchanged rerun does nothing.
.DELETE_ON_ERROR:
.SUFFIXES:
SHELL := /bin/bash
# score and weight run side by side; lines are never interleaved mid-line, and progress shows as it happens
MAKEFLAGS += --jobs=2 --output-sync=line

PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-stamp
SEED ?=
THROUGH ?= 2023

RAW := data/raw
OUT := data/processed
SPEC := survey_instruments

src = $(shell find pipeline/$(1) -name '*.py' 2>/dev/null)
CORE_SRC := pipeline/__init__.py pipeline/cli.py pipeline/paths.py pipeline/tableio.py pipeline/schemas.py \
	pipeline/manifest.py $(call src,instruments) $(SPEC)/frameworks.yaml

.PHONY: help test bench lint clean lab midterm final venv
.PRECIOUS: $(RAW)/%/survey.sav $(OUT)/%/ingest_report.json $(OUT)/%/scores.parquet \
	$(OUT)/%/weights.parquet $(OUT)/%/estimates.csv $(OUT)/%/report/manifest.json

help: ## list every target with a one-line description
	@grep -E '^[a-zA-Z0-9_%-]+:.*## ' $(MAKEFILE_LIST) | sed -E 's/:.*## /\t/' | awk -F'\t' '{printf "  make %-14s %s\n", $$1, $$2}'

venv: $(STAMP) ## create .venv and install the project (done automatically by every other target)

$(STAMP): pyproject.toml
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	@echo ">> installing the project into $(VENV) (first run takes a few minutes)"
	@$(PY) -m pip install --quiet --upgrade pip
	@$(PY) -m pip install --quiet -e '.[dev]'
	@touch $@

survey-%: $(OUT)/%/report/manifest.json $(OUT)/%/export/export.json ## run the whole pipeline for a wave, e.g. make survey-2024 (demo data when no real data)
	@echo ">> wave $*: done. Report: $(OUT)/$*/report/report.html"

# Demo data only when no real file is present: an order-only prerequisite, so code changes never
# regenerate (and never overwrite) a raw file that exists.
$(RAW)/%/survey.sav: | $(STAMP)
	@echo "!! ==================================================================="
	@echo "!!  No $(RAW)/$*/survey.sav: generating SYNTHETIC DEMO DATA for wave $*."
	@echo "!!  Results are not Quanzhou's. Put the real delivery in $(RAW)/$*/."
	@echo "!! ==================================================================="
	$(PY) -m pipeline simulate --wave $* --out $(RAW)/$* $(if $(SEED),--seed $(SEED))

$(OUT)/%/ingest_report.json: $(RAW)/%/survey.sav $(SPEC)/%/instrument.yaml $(CORE_SRC) $(call src,ingest) | $(STAMP)
	$(PY) -m pipeline ingest --wave $*

$(OUT)/%/scores.parquet: $(OUT)/%/ingest_report.json $(SPEC)/%/instrument.yaml $(SPEC)/%/scoring.yaml $(CORE_SRC) $(call src,scoring) | $(STAMP)
	$(PY) -m pipeline score --wave $*

$(OUT)/%/weights.parquet: $(OUT)/%/ingest_report.json $(SPEC)/%/design.yaml $(CORE_SRC) $(call src,weighting) | $(STAMP)
	$(PY) -m pipeline weight --wave $*

$(OUT)/%/estimates.csv: $(OUT)/%/scores.parquet $(OUT)/%/weights.parquet $(SPEC)/%/estimands.yaml $(CORE_SRC) $(call src,estimation) | $(STAMP)
	$(PY) -m pipeline estimate --wave $*

$(OUT)/%/report/manifest.json: $(OUT)/%/estimates.csv $(OUT)/%/export/export.json $(CORE_SRC) $(call src,reporting) | $(STAMP)
	$(PY) -m pipeline report --wave $*

# labelled analysis file, codebook and R/Stata/SPSS design syntax (pipeline/export); the questionnaire-number
# crosswalk only on request: python -m pipeline export --wave W --with-questionnaire-id. The report's manifest
# hashes every output of the wave, the export's too, so the report runs after it.
.PRECIOUS: $(OUT)/%/export/export.json
$(OUT)/%/export/export.json: $(OUT)/%/estimates.csv $(CORE_SRC) $(call src,export) | $(STAMP)
	$(PY) -m pipeline export --wave $* --format sav,dta,csv,parquet

# ---- mid-term check and final evaluation (pipeline/assessment) ----
ASSESS_FIRST := 2021
ASSESS_FINAL := 2025
wave_estimates = $(foreach w,$(shell seq $(ASSESS_FIRST) $(1)),$(OUT)/$(w)/estimates.csv)

.PHONY: indicators-demo

indicators-demo: | $(STAMP) ## demo plan-indicator submissions in data/raw/indicators/ (only when the folder is absent)
	@if [ -d $(RAW)/indicators ]; then \
		echo ">> plan indicators: using the submissions in $(RAW)/indicators/"; \
	else \
		echo "!! ==================================================================="; \
		echo "!!  No $(RAW)/indicators/: generating SYNTHETIC DEMO indicator submissions."; \
		echo "!!  Put the real submissions in $(RAW)/indicators/<year>/."; \
		echo "!! ==================================================================="; \
		$(PY) -m pipeline indicators simulate --out $(RAW)/indicators; \
	fi

midterm: $(call wave_estimates,$(THROUGH)) indicators-demo | $(STAMP) ## mid-term check over waves 2021..THROUGH (default 2023) and the plan indicators
	$(PY) -m pipeline assess --kind midterm --through $(THROUGH)

final: $(call wave_estimates,$(ASSESS_FINAL)) indicators-demo | $(STAMP) ## final evaluation over waves 2021..2025 and the plan indicators
	$(PY) -m pipeline assess --kind final --through $(ASSESS_FINAL)

test: $(STAMP) ## run the test suite (skips the slow studies that `make bench` runs)
	$(PY) -m pytest -q

bench: $(STAMP) ## scale and speed benchmarks and Monte Carlo studies; results in benchmarks/results/
	$(PY) -m benchmarks.run
	$(PY) -m pytest -q -m slow

lint: $(STAMP) ## ruff over the package, tests and benchmarks
	$(PY) -m ruff check pipeline tests benchmarks

lab: $(STAMP) ## start JupyterLab on the project's environment
	$(PY) -m pip install --quiet -e '.[dev,lab]'
	$(PY) -m jupyter lab --notebook-dir=notebooks

clean: ## remove processed outputs and the virtual environment (raw data is never touched)
	rm -rf $(OUT)/*/ $(VENV) .pytest_cache .ruff_cache
