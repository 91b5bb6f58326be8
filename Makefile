# loopml's one task runner; CI runs `make test` (see .ci/run).
#
#   make test      lint, then the whole test suite (installs what it needs first)
#   make help      every target

SHELL := bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help

PYTHON ?= $(shell command -v python3.11 2>/dev/null || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
PYTEST_ARGS ?=
# Only the directories that exist: bench/ and examples/ arrive with later work.
LINT_DIRS := $(wildcard src tests bench examples)

.PHONY: help venv services clients lint test demo bench-setup bench clean distclean

help: ## List the targets
	@grep -E '^[a-zA-Z_-]+:.*## ' $(MAKEFILE_LIST) \
		| awk 'BEGIN {FS = ":.*## "} {printf "  %-12s %s\n", $$1, $$2}'

venv: $(STAMP) ## Create .venv and install loopml with its dev extras

# Reinstall only when the dependencies change.
$(STAMP): pyproject.toml
	@test -n "$(PYTHON)" || { echo "error: need python3.11 (or python3) on PATH" >&2; exit 1; }
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	@# An old pip (3.11's bundled 23.x) gives up resolving boto3/botocore/aiobotocore.
	$(BIN)/python -m pip install -qq --disable-pip-version-check --upgrade pip
	@# The machine's local CPU build of torch first, so no dependency pulls CUDA wheels.
	$(BIN)/python -m pip install -qq --disable-pip-version-check torch==2.13.0
	$(BIN)/python -m pip install -qq --disable-pip-version-check -e '.[dev]'
	@# loopml's dependencies at the installed versions, as wheels (from pip's cache, so
	@# quick): the reproduce test builds a clean virtualenv from them with loopback only.
	$(BIN)/python -m pip freeze --exclude-editable > $(VENV)/constraints.txt
	$(BIN)/python -m pip download -qq --disable-pip-version-check -d $(VENV)/wheelhouse \
		-c $(VENV)/constraints.txt . setuptools wheel
	@touch $@

services: ## Install the servers the tests start (PostgreSQL, Redis, Chromium)
	@bash scripts/ensure-services.sh

clients: ## Build the real MLflow clients (3.x and 2.x) the compatibility tests drive
	@bash scripts/mlflow-clients.sh

lint: venv ## ruff, ruff format --check, mypy, import-linter
	$(BIN)/ruff check $(LINT_DIRS)
	$(BIN)/ruff format --check $(LINT_DIRS)
	$(BIN)/mypy
	$(BIN)/lint-imports

# As root, inside a network namespace with only loopback (Ray listens on every interface).
test: venv services clients lint ## Lint, then run the test suite
	bash scripts/loopback-only.sh $(BIN)/pytest $(PYTEST_ARGS)

demo: venv ## Run the end-to-end demo (data, gate, features, training pipeline, evaluation, registry, card, serving, monitoring)
	$(BIN)/python examples/loop/demo.py

bench-setup: ## Install the anchors the benchmarks compare against
	@test -f bench/setup.sh || { echo "error: bench/setup.sh does not exist yet" >&2; exit 1; }
	bash bench/setup.sh

bench: venv bench-setup ## Run every benchmark, write bench/results/latest.json
	$(BIN)/python bench/run_all.py

clean: ## Remove caches and build output (keeps .venv)
	rm -rf build dist .pytest_cache .mypy_cache .ruff_cache .hypothesis .import_linter_cache
	rm -rf src/*.egg-info
	find . -path ./$(VENV) -prune -o -name __pycache__ -type d -prune -exec rm -rf {} +

distclean: clean ## Also remove .venv
	rm -rf $(VENV) .venv-clients
