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

.PHONY: setup synth test scan bench demo lock clean

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
	@$(PIPENV) run python scripts/synth_report.py

test: setup
	$(PIPENV) run python -m pytest

scan: synth
	$(PIPENV) run python scripts/security_scan.py

bench: .venv/.synced
	$(PIPENV) run python scripts/bench.py

demo: setup
	$(PIPENV) run python scripts/demo.py

lock:
	$(PIPENV) lock

clean:
	rm -rf cdktf.out .cdktf.out.* .pytest_cache
