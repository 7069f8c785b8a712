# Two commands do everything on a fresh machine: `make synth` and `make test`.
SHELL := /bin/bash
PYTHON ?= python3
PIPENV := $(PYTHON) -m pipenv

# The virtualenv lives in .venv/ so that every clone has its own.
export PIPENV_VENV_IN_PROJECT := 1
export PIPENV_VERBOSITY := -1
export PIPENV_YES := 1
export JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION := 20
# Pipfile names its package index as ${PIP_INDEX_URL}; default to pip's own.
export PIP_INDEX_URL ?= $(shell $(PYTHON) -c "from pip._internal.models.index import PyPI; print(PyPI.simple_url)")

.PHONY: setup synth test test-fast lint docs scan bench demo lock clean

.venv/.synced: Pipfile.lock
	@$(PIPENV) --version >/dev/null 2>&1 || $(PYTHON) -m pip install --user --quiet pipenv
	$(PIPENV) sync --dev
	@touch $@

node_modules/.installed: package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	@touch $@

setup: .venv/.synced node_modules/.installed

synth: .venv/.synced
	$(PIPENV) run python main.py
	@$(PIPENV) run python -m scripts.synth_report

test: setup lint
	$(PIPENV) run python -m pytest

# Everything but the emulator tests (which apply stacks with the real Terraform).
test-fast: setup
	$(PIPENV) run python -m pytest -m "not emulator"

lint: .venv/.synced
	$(PIPENV) run ruff check .

docs: .venv/.synced
	$(PIPENV) run python -m scripts.update_readme

scan: synth
	$(PIPENV) run python -m scripts.security_scan

bench: .venv/.synced
	$(PIPENV) run python -m scripts.bench

demo: setup
	$(PIPENV) run python -m scripts.demo

lock:
	$(PIPENV) lock

clean:
	rm -rf cdktf.out .cdktf.out.* .pytest_cache
