# Two commands (README): `make repro` sets up and runs the whole DAG on the embedded
# sample; `make test` sets up and runs the tests (.ci/run calls it).
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
SETUP := $(VENV)/.setup-done
export PATH := $(abspath $(BIN)):$(PATH)

.PHONY: setup repro test

$(SETUP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --upgrade pip
	$(BIN)/pip install -e '.[test]'
	touch $@

setup: $(SETUP)

repro: setup
	dvc repro

test: setup
	python -m pytest -q
