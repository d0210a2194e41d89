# The only place that knows the order of the stages. Every stage is a real file target whose
# prerequisites are its code, its spec and `.<stage>.inputs`: the sha256 of every file the stage reads,
# rewritten (by `pipeline inputs`, run on every make) only when one of them changes. So a stage reruns
# when the content of what it reads changes, whatever the files' modification times (an edited control
# table, a deleted frame.csv, a corrected survey file restored by `cp -p` with an older date), and an
# unchanged rerun does nothing. Each stage writes its outputs under temporary names and renames them, its
# target last; a killed or failed stage leaves no target, so the next make reruns it.
.DELETE_ON_ERROR:
.SUFFIXES:
# No intermediate file is ever deleted (the stage files are the results). Unlike .PRECIOUS, this keeps
# .DELETE_ON_ERROR in force.
.SECONDARY:
.SECONDEXPANSION:
SHELL := /bin/bash
# score and weight run side by side. Output is not synchronised: each stage writes whole lines as it
# goes (progress shows while it runs), and lines of the two never interleave mid-line.
MAKEFLAGS += --jobs=2

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
	pipeline/manifest.py pipeline/stages.py pipeline/faults.py $(call src,instruments) $(call src,survey_design) $(SPEC)/frameworks.yaml
WAVES := $(patsubst $(SPEC)/%/instrument.yaml,%,$(wildcard $(SPEC)/*/instrument.yaml))
# the survey file a wave's instrument names (`source_file:`; survey.sav when it names none)
source_name = $(or $(shell sed -nE 's/^source_file:[[:space:]]*["'"'"']?([^"'"'"'#[:space:]]+).*/\1/p' $(SPEC)/$(1)/instrument.yaml 2>/dev/null),survey.sav)
source = $(RAW)/$(1)/$(call source_name,$(1))
inputs = $(OUT)/$(1)/.$(2).inputs

.PHONY: help test bench lint clean lab midterm final venv FORCE
FORCE:

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

# Demo data only when the survey file the instrument names is absent, and only into an empty folder
# (or one the generator wrote itself): simulate refuses a partial real delivery with a message. The rule
# is per wave because the file's name comes from the wave's instrument.
define demo_rule
$(call source,$(1)): | $(STAMP)
	@echo "!! ==================================================================="
	@echo "!!  No $(call source,$(1)): generating SYNTHETIC DEMO DATA for wave $(1)."
	@echo "!!  Results are not Quanzhou's. Put the real delivery in $(RAW)/$(1)/."
	@echo "!! ==================================================================="
	$(PY) -m pipeline simulate --wave $(1) --out $(RAW)/$(1) --root . $(if $(SEED),--seed $(SEED))
.PRECIOUS: $(call source,$(1))
endef
$(foreach w,$(WAVES),$(eval $(call demo_rule,$(w))))

# A wave without a specification folder: say how to start one, instead of make's "No rule to make target".
# Checked when make reads this file, because every rule of a wave needs the wave's spec to exist.
define no_spec
$(info !! survey_instruments/$(1)/ has no instrument.yaml: wave $(1) has no specification yet. Start one from the delivery:)
$(info !!   $(PY) -m pipeline instrument draft --wave $(1) --delivery $(RAW)/$(1)/survey.sav)
$(info !!   $(PY) -m pipeline instrument keys --wave $(1) --template key.xlsx   (fill in the answer keys, then --from key.xlsx))
$(info !!   $(PY) -m pipeline check --wave $(1)   (lists every problem of the delivery), then make survey-$(1))
$(info !! See survey_instruments/README.md ("Onboarding a delivery").)
$(error wave $(1) has no specification)
endef
$(foreach w,$(patsubst survey-%,%,$(filter survey-%,$(MAKECMDGOALS))),$(if $(filter $(w),$(WAVES)),,$(call no_spec,$(w))))

# content stamps: run on every make, after the stage that writes the processed files they hash
$(OUT)/%/.ingest.inputs: $$(call source,$$*) FORCE | $(STAMP)
	@$(PY) -m pipeline inputs --stage ingest --wave $* --root .
$(OUT)/%/.score.inputs: $(OUT)/%/ingest_report.json FORCE | $(STAMP)
	@$(PY) -m pipeline inputs --stage score --wave $* --root .
$(OUT)/%/.weight.inputs: $(OUT)/%/ingest_report.json FORCE | $(STAMP)
	@$(PY) -m pipeline inputs --stage weight --wave $* --root .
$(OUT)/%/.estimate.inputs: $(OUT)/%/scores.parquet $(OUT)/%/weights.parquet FORCE | $(STAMP)
	@$(PY) -m pipeline inputs --stage estimate --wave $* --root .
$(OUT)/%/.export.inputs: $(OUT)/%/estimates.csv FORCE | $(STAMP)
	@$(PY) -m pipeline inputs --stage export --wave $* --root .
$(OUT)/%/.report.inputs: $(OUT)/%/estimates.csv $(OUT)/%/export/export.json FORCE | $(STAMP)
	@$(PY) -m pipeline inputs --stage report --wave $* --root .

$(OUT)/%/ingest_report.json: $$(call inputs,$$*,ingest) $(SPEC)/%/instrument.yaml $(SPEC)/%/design.yaml $(CORE_SRC) $(call src,ingest) | $(STAMP)
	$(PY) -m pipeline ingest --wave $* --root .

$(OUT)/%/scores.parquet: $$(call inputs,$$*,score) $(SPEC)/%/instrument.yaml $(SPEC)/%/scoring.yaml $(CORE_SRC) $(call src,scoring) | $(STAMP)
	$(PY) -m pipeline score --wave $* --root .

$(OUT)/%/weights.parquet: $$(call inputs,$$*,weight) $(SPEC)/%/design.yaml $(CORE_SRC) $(call src,weighting) | $(STAMP)
	$(PY) -m pipeline weight --wave $* --root .

$(OUT)/%/estimates.csv: $$(call inputs,$$*,estimate) $(SPEC)/%/estimands.yaml $(SPEC)/%/design.yaml $(CORE_SRC) $(call src,estimation) | $(STAMP)
	$(PY) -m pipeline estimate --wave $* --root .

$(OUT)/%/report/manifest.json: $$(call inputs,$$*,report) $(OUT)/%/export/export.json $(CORE_SRC) $(call src,reporting) | $(STAMP)
	$(PY) -m pipeline report --wave $* --root .

# labelled analysis file, codebook and R/Stata/SPSS design syntax (pipeline/export); the questionnaire-number
# crosswalk only on request: python -m pipeline export --wave W --with-questionnaire-id. The report's manifest
# hashes every output of the wave, the export's too, so the report runs after it.
$(OUT)/%/export/export.json: $$(call inputs,$$*,export) $(CORE_SRC) $(call src,export) | $(STAMP)
	$(PY) -m pipeline export --wave $* --root . --format sav,dta,csv,parquet

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

test: $(STAMP) ## run the test suite on both cores (skips the slow studies that `make bench` runs)
	$(PY) -m pytest -q -n 2 --dist loadfile

bench: $(STAMP) ## scale and speed benchmarks and Monte Carlo studies; results in benchmarks/results/
	$(PY) -m benchmarks.run
	QZ_BENCH_RESULTS=benchmarks/results $(PY) -m pytest -q -m slow

lint: $(STAMP) ## ruff over the package, tests and benchmarks
	$(PY) -m ruff check pipeline tests benchmarks

lab: $(STAMP) ## start JupyterLab on the project's environment
	$(PY) -m pip install --quiet -e '.[dev,lab]'
	$(PY) -m jupyter lab --notebook-dir=notebooks

clean: ## remove processed outputs and the virtual environment (raw data is never touched)
	rm -rf $(OUT)/*/ $(VENV) .pytest_cache .ruff_cache
