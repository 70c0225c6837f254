# Two entry points: `make run` (the pipeline on config/config.yaml) and `make test` (the test suite).
# Both bootstrap what they need: the virtualenv with pinned packages, and the dataset.

PYTHON ?= python3.11
VENV ?= .venv
BIN := $(VENV)/bin
CORES ?= all
STAMP := $(VENV)/.installed-$(shell cat envs/requirements.txt pyproject.toml | cksum | cut -d' ' -f1)
# The tracking extra (wandb, tensorboard; docs/tracking.md): the tests need it, a run does not.
TRACKING_STAMP := $(VENV)/.tracking-$(shell cat envs/requirements.txt pyproject.toml | cksum | cut -d' ' -f1)

.PHONY: run test venv tracking data lint clean-venv

run: venv data
	$(BIN)/snakemake --cores $(CORES) $(ARGS)

# Two pytest processes (pytest-xdist), each test file in one of them: module fixtures (a whole snakemake run)
# are built once, and one file's SLURM or snakemake waits overlap another's computing.
TEST_WORKERS ?= 2

test: venv tracking data
	$(BIN)/python -m pytest -n $(TEST_WORKERS) --dist loadfile $(ARGS)

venv: $(STAMP)

$(STAMP):
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -r envs/requirements.txt
	$(BIN)/python -m pip install -q --no-deps -e .
	rm -f $(VENV)/.installed-* && touch $@

tracking: $(TRACKING_STAMP)

$(TRACKING_STAMP): $(STAMP)
	$(BIN)/python -m pip install -q -e '.[tracking]'
	rm -f $(VENV)/.tracking-* && touch $@

data:
	scripts/get-data.sh

# ruff is a development tool, installed on first use rather than into every run's environment.
lint: venv
	$(BIN)/snakemake --lint
	test -x $(BIN)/ruff || $(BIN)/python -m pip install -q ruff==0.17.6
	$(BIN)/ruff check .

clean-venv:
	rm -rf $(VENV)
