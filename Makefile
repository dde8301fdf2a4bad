# `make test` and `make demo` work on a fresh machine: each creates .venv and installs what it needs.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP_DEV := $(VENV)/.installed-dev
STAMP_DEMO := $(VENV)/.installed-demo
STAMP_BENCH := $(VENV)/.installed-bench

.PHONY: test demo bench lint clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(STAMP_DEV): $(BIN)/python pyproject.toml
	$(BIN)/python -m pip install --quiet -e ".[dev]"
	touch $@

$(STAMP_DEMO): $(BIN)/python pyproject.toml
	$(BIN)/python -m pip install --quiet -e ".[demo]"
	touch $@

$(STAMP_BENCH): $(BIN)/python pyproject.toml
	$(BIN)/python -m pip install --quiet -e ".[bench]"
	touch $@

lint: $(STAMP_DEV)
	$(BIN)/ruff check src tests bench examples scripts
	$(BIN)/mypy

test: lint
	OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 $(BIN)/python -m pytest

demo: $(STAMP_DEMO)
	$(BIN)/chainrule demo

# every workload in every installed library, one process each, single-threaded (bench/suite.py sets the threads too)
bench: $(STAMP_BENCH)
	OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 MKL_NUM_THREADS=1 $(BIN)/python bench/suite.py

clean:
	rm -rf $(VENV) build .pytest_cache .mypy_cache .ruff_cache
