# usagekit: `make report` and `make test` do all set-up on a fresh clone.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
PIP := $(BIN)/python -m pip install --quiet --disable-pip-version-check
CHECKOV_VENV ?= .venv-checkov
CHECKOV_VERSION ?= 3.3.30

.PHONY: report test lab scan bench clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

# One stamp per dependency set; a change to pyproject.toml re-installs.
$(VENV)/.installed-report: pyproject.toml | $(BIN)/python
	$(PIP) -e '.[notebooks]'
	touch $@

$(VENV)/.installed-test: pyproject.toml | $(BIN)/python
	$(PIP) -e '.[test]'
	touch $@
	touch $(VENV)/.installed-report

$(VENV)/.installed-lab: pyproject.toml | $(BIN)/python
	$(PIP) -e '.[lab]'
	touch $@

# checkov pins an old boto3, so it lives in a venv of its own (see cloudformation/README.md).
$(CHECKOV_VENV)/.installed:
	$(PYTHON) -m venv $(CHECKOV_VENV)
	$(CHECKOV_VENV)/bin/python -m pip install --quiet --disable-pip-version-check 'checkov==$(CHECKOV_VERSION)'
	touch $@

## report: the usage report on the embedded default (sandbox + local dataset + DuckDB)
report: $(VENV)/.installed-report
	$(BIN)/python -m usagekit report

## test: lint, notebook hygiene, the whole test suite and the notebooks' smoke run
test: $(VENV)/.installed-test $(CHECKOV_VENV)/.installed
	$(BIN)/ruff check .
	$(BIN)/python -m pytest tests notebooks --nbval-lax --ignore=notebooks/exploratory

## lab: open JupyterLab on 127.0.0.1
lab: $(VENV)/.installed-lab
	$(BIN)/jupyter lab --ip 127.0.0.1 --no-browser $(if $(filter 0,$(shell id -u)),--allow-root,)

## bench: the benchmark harness at full size (~16 min, ~10 GB RAM; numbers in benchmarks/README.md)
bench: $(VENV)/.installed-test
	$(BIN)/python -m benchmarks --sizes 100k,1M,5M --repeat 3

## scan: checkov on the CloudFormation template (both shapes)
scan: $(CHECKOV_VENV)/.installed
	cloudformation/scan.sh

clean:
	rm -rf $(VENV) $(CHECKOV_VENV) reports data .pytest_cache .ruff_cache
