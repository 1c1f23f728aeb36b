# Two commands (README): `make repro` sets up and runs the whole DAG on the embedded
# sample; `make test` sets up and runs the tests (.ci/run calls it, then reproduce-check).
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
SETUP := $(VENV)/.setup-done
export PATH := $(abspath $(BIN)):$(PATH)

.PHONY: setup repro test test-fast reproduce-check

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

# The edit-test loop: all but the tests marked slow (stages, learning runs, DVC, several
# processes or machines, the GPU check's CPU fallback), which `make test` runs too.
test-fast: setup
	python -m pytest -q -m "not slow"

# The DAG reproduced with a HOME of its own (an empty weights cache, no DVC or torch
# config), so that nothing this machine keeps outside the checkout can change a metric;
# then every committed value in metrics/*.json must come back unchanged. Meant for a
# fresh clone, as CI's: in a workspace already reproduced, `dvc repro` has nothing to do.
reproduce-check: setup
	home=$$(mktemp -d) && trap 'rm -rf "$$home"' EXIT && \
		HOME=$$home XDG_CACHE_HOME=$$home/.cache XDG_CONFIG_HOME=$$home/.config TORCH_HOME=$$home/torch dvc repro
	dvc metrics diff --precision 8
	@git --no-pager diff --quiet HEAD -- metrics/ || { git --no-pager diff HEAD -- metrics/; \
		echo "metrics/*.json differ from the committed ones (above): the DAG does not reproduce them."; \
		echo "Either a change to the code or params was committed without its metrics (run 'make repro' and"; \
		echo "commit metrics/ and dvc.lock), or this CPU is not the kind that made them: $(CPU)."; exit 1; }
	@echo "metrics/*.json reproduced exactly on $(CPU)"

# The CPU's model, the kernels torch picks on it and its threads: metrics are bitwise
# reproducible within one kind of CPU at one thread count.
CPU = $$(sed -n 's/^model name[^:]*: //p' /proc/cpuinfo | head -1), torch $$(python -c \
	'import torch; print(torch.backends.cpu.get_cpu_capability(), "with", torch.get_num_threads(), "threads")')
