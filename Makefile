# Two commands do everything on a fresh machine: `make synth` and `make test`.
SHELL := /bin/bash
PYTHON ?= python3
PIPENV := $(PYTHON) -m pipenv

# The virtualenv lives in .venv/ so that every clone has its own.
export PIPENV_VENV_IN_PROJECT := 1
export PIPENV_VERBOSITY := -1
export PIPENV_YES := 1
export JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION := 20
# Neither Terraform nor the cdktf CLI calls home (the checkpoint service) from this project.
export CHECKPOINT_DISABLE := 1
# Pipfile names its package index as ${PIP_INDEX_URL}; default to pip's own.
export PIP_INDEX_URL ?= $(shell $(PYTHON) -c "from pip._internal.models.index import PyPI; print(PyPI.simple_url)")

.PHONY: setup synth test test-fast lint docs export cdktf up plan down apply drift diff verify scan bench org-bench org-cost demo lock providers-lock clean

.venv/.synced: Pipfile.lock
	@$(PIPENV) --version >/dev/null 2>&1 || $(PYTHON) -m pip install --user --quiet pipenv
	$(PIPENV) sync --dev
	@touch $@

node_modules/.installed: package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	@touch $@

setup: .venv/.synced node_modules/.installed

synth: setup
	$(PIPENV) run python main.py
	@$(PIPENV) run python -m cli.synth_report

# Every test, in one run of four processes, each file on one of them (its module fixtures are built
# once), handed out in the order tests/conftest.py sorts them (not by size): the emulator files
# first, which spend most of their time waiting on Terraform and the emulator, so four processes
# keep two cores busy. The synths are shared. The ten slowest tests are listed at the end.
test: setup lint
	$(PIPENV) run python -m pytest -n 4 --dist loadfile --no-loadscope-reorder --durations=10

# The unit tests alone (in process, no subprocess): the inner loop, seconds.
test-fast: setup
	$(PIPENV) run python -m pytest -m unit tests/unit

# Style, the layers (import-linter contracts in pyproject.toml) and the workflows.
lint: setup
	$(PIPENV) run ruff check .
	$(PIPENV) run lint-imports --no-cache
	node cli/lint_workflows.mjs .

# The pinned cdktf CLI, e.g. make cdktf ARGS="diff dev"
cdktf: setup
	npx --no-install cdktf $(ARGS)

# An environment on the local moto emulator, the real way: bootstrap, then the stack with its S3 backend.
up: synth
	$(PIPENV) run python -m cli.deploy up $(ENV)

plan: synth
	$(PIPENV) run python -m cli.deploy plan $(ENV) $(TARGET)

down: .venv/.synced
	$(PIPENV) run python -m cli.deploy down $(ENV)

# Against real AWS, for the workflows: apply the environment stack; plan for drift (drift.md).
apply: synth
	PLAN="$(PLAN)" $(PIPENV) run python -m cli.deploy apply $(ENV) $(TARGET)

drift: synth
	$(PIPENV) run python -m cli.deploy drift $(ENV) $(TARGET)

# What the working tree changes in the generated Terraform, as Markdown (BASE: default the merge base with main).
diff: setup
	@$(PIPENV) run python -m cli.diff $(BASE)

# Plans default to the emulator; verify defaults to real AWS (TARGET=emulator after make up).
verify: .venv/.synced
	$(PIPENV) run python -m cli.verify $(ENV) $(TARGET)

export: .venv/.synced
	$(PIPENV) run python -m cli.export $(ENV)

docs: .venv/.synced
	$(PIPENV) run python -m cli.update_docs

scan: synth
	$(PIPENV) run python -m cli.security_scan $(if $(SARIF),--sarif $(SARIF))

bench: .venv/.synced
	$(PIPENV) run python -m cli.bench

# The organization's stacks at 1, 10, 100 and 1,000 simulated members: same resources, same policies, time ratio.
org-bench: .venv/.synced
	$(PIPENV) run python -m cli.organization_bench

# What the organization trail of organization.toml costs a month (EVENTS: management events per account a month)
org-cost: .venv/.synced
	@$(PIPENV) run python -m cli.organization_cost $(EVENTS)

demo: setup
	$(PIPENV) run python -m cli.demo

lock:
	$(PIPENV) lock

# Rewrites .terraform.lock.hcl for the provider release in the constraint: from a filesystem
# mirror when the machine has one (TF_PROVIDER_MIRROR, or found), else from the registry.
providers-lock: .venv/.synced
	$(PIPENV) run python -m cli.providers_lock

clean:
	rm -rf cdktf.out .cdktf.out.* .pytest_cache dist
