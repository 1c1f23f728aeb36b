# Two commands (README): `make repro` sets up and runs the whole DAG on the embedded
# sample; `make test` sets up and runs the tests (.ci/run calls it, then reproduce-check).
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
SETUP := $(VENV)/.setup-done
export PATH := $(abspath $(BIN)):$(PATH)

.PHONY: setup repro test test-fast deps reproduce-check spread lock paper-smoke paper-smoke-light system-packages plots-template

# Every package, transitive ones included, at the exact version and hashes that
# requirements.lock holds (pip refuses a file whose hash differs); then the project itself,
# editable, without dependencies; pip check fails when pyproject.toml asks for what the
# lock lacks (run `make lock`). pip is the one Python's venv brings.
$(SETUP): pyproject.toml requirements.lock
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --require-hashes -r requirements.lock
	$(BIN)/pip install --no-deps -e .
	$(BIN)/pip check
	touch $@

setup: $(SETUP)

# Rewrites requirements.lock from pyproject.toml (its pins and ranges, the test extra): the
# newest versions they allow today, with hashes, by pip-tools in a venv of its own. Then
# `make repro` and commit the lock with the metrics it gives (a new OpenCV alone moved them).
lock:
	$(PYTHON) -m venv .venv-lock
	.venv-lock/bin/pip install pip-tools==7.7.0
	.venv-lock/bin/pip-compile --upgrade --generate-hashes --allow-unsafe --strip-extras --extra test \
		--no-emit-index-url --no-emit-find-links --output-file requirements.lock pyproject.toml

repro: setup
	dvc repro

# One pytest worker a core (nproc: the cores this process may use), each with one torch thread:
# two threads a worker on shared cores spin against each other (5 to 12 times slower here).
# Tests are handed out one at a time, longest first (tests/conftest.py).
test: setup
	OMP_NUM_THREADS=1 python -m pytest -q -rs -n $$(nproc) --maxschedchunk 1 --durations=15

# What three tests need from Debian's packages: SLURM and munge for the sweep test's one-node
# cluster (tests/slurm_cluster.py), Chromium to open `dvc plots diff`'s page with no network
# (tests/browser.py). Without them those tests skip, saying so; CI installs them (.ci/run)
# and requires them.
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
system-packages:
	command -v slurmctld >/dev/null && command -v munged >/dev/null && command -v chromium >/dev/null || \
		{ $(SUDO) apt-get update -q && DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -q \
		--no-install-recommends slurm-wlm munge chromium; }

# .dvc/plots.html, the page of `dvc plots show` and `diff`, with vega, vega-lite and
# vega-embed inline (src/facegan/plots_page.py says why and from where): from
# vl-convert-python at the version and hashes requirements-vega.lock pins, in a venv of its own.
plots-template:
	$(PYTHON) -m venv .venv-vega
	.venv-vega/bin/pip install --require-hashes -r requirements-vega.lock
	PYTHONPATH=src .venv-vega/bin/python -m facegan.plots_page .dvc/plots.html

# The edit-test loop: all but the tests marked slow (stages, learning runs, DVC, several
# processes or machines, the GPU check's CPU fallback), which `make test` runs too.
test-fast: setup
	python -m pytest -q -rs -m "not slow"

# Every stage's code deps in dvc.yaml rewritten as the files its command loads (comments,
# order and data deps kept); tests/test_stage_deps.py fails until this has run after an import changed.
deps: setup
	python -m facegan.stage_deps

# The DAG reproduced with a HOME of its own (an empty weights cache, no DVC or torch
# config), so that nothing this machine keeps outside the checkout can change a metric;
# then `facegan reproduce-check`: bitwise against the committed metrics where this machine
# is the kind that made them (metrics/*.details.json, "machine"), else each headline number
# within its seed band (metrics/seed_spread.json). Meant for a fresh clone, as CI's: in a
# workspace already reproduced, `dvc repro` has nothing to do.
reproduce-check: setup
	home=$$(mktemp -d) && trap 'rm -rf "$$home"' EXIT && \
		HOME=$$home XDG_CACHE_HOME=$$home/.cache XDG_CONFIG_HOME=$$home/.config TORCH_HOME=$$home/torch dvc repro
	dvc metrics diff --precision 8
	facegan reproduce-check

# The seed spread of the sample default, written to metrics/seed_spread.json: the committed
# run plus one DVC experiment per seed in SPREAD_SEEDS (every model's training seed set to
# it), and the committed PGAN evaluated under each of SPREAD_EVAL_SEEDS, queued and run one
# at a time (about 6 minutes a seed on the 2-core Xeon). PYTHONPATH=src: each queued run
# imports its own copy of the code, not the workspace's (the editable install's).
SPREAD_SEEDS ?= 1 2 3 4
SPREAD_EVAL_SEEDS ?= 1000 2000 3000
spread: setup
	for seed in $(SPREAD_SEEDS); do \
		dvc exp run --queue -S pgan.train.seed=$$seed -S stargan.train.seed=$$seed -S hifacegan.train.seed=$$seed; done
	dvc exp run --queue -S "eval.pgan.seed=$$(echo $(SPREAD_EVAL_SEEDS) | tr ' ' ,)"
	PYTHONPATH=src dvc exp run --run-all --jobs 1
	facegan spread

# configs/celeba128-paper.yaml through the whole DAG on the embedded sample, in a scratch copy
# of the checkout: the preset's architectures and batch sizes, the iterations and evaluation
# sizes of configs/paper-smoke.yaml. Prints each stage's seconds, seconds per iteration and
# peak memory (docs/benchmarks.md). The light form (CI): the smallest batches, one iteration a stage.
paper-smoke: setup
	python -m facegan.smoke

paper-smoke-light: setup
	python -m facegan.smoke --light
