# usagekit: `make report` and `make test` do all set-up on a fresh clone.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
CHECKOV_VENV ?= .venv-checkov
CHECKOV_VERSION ?= 3.3.30
# The installer: uv (from PATH, else put into the venv with pip) when it can be had, pip when
# not. `make UV= report` (UV empty) installs with pip alone. Both cache downloads per machine
# (~/.cache/uv, ~/.cache/pip).
UV ?= uv
PIP_QUIET := --quiet --disable-pip-version-check
# pytest-xdist's workers for `make test` (tests/conftest.py says what shares a worker);
# WORKERS=0 runs the suite in one process.
WORKERS ?= 2

# Left out where uv can leave it out: rfc3987-syntax, which jupyter-events pulls in through
# jsonschema[format-nongpl], compiles 38 grammars whenever jsonschema is imported (3.3 s in
# every process that imports nbformat: each report, notebook run and JupyterLab start); nothing
# here checks IRI formats, and jsonschema skips that check without it.
UV_EXCLUDES := rfc3987-syntax

# $(call install,VENV,REQUIREMENT): install REQUIREMENT into VENV with uv, else pip.
define install
	@uv=$$(command -v $(UV) 2>/dev/null || echo $(1)/bin/uv); \
	if [ -n "$(UV)" ] && { [ -x "$$uv" ] || $(1)/bin/python -m pip install $(PIP_QUIET) uv; }; then \
		echo "$$uv pip install $(2)"; \
		echo "$(UV_EXCLUDES)" | "$$uv" pip install --quiet --python $(1)/bin/python \
			--excludes /dev/stdin $(2); \
	else \
		echo "pip install $(2)"; \
		$(1)/bin/python -m pip install $(PIP_QUIET) $(2); \
	fi
endef

.PHONY: report test lab scan bench clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

# One stamp per dependency set; a change to pyproject.toml re-installs.
$(VENV)/.installed-report: pyproject.toml | $(BIN)/python
	$(call install,$(VENV),-e '.[notebooks]')
	touch $@

$(VENV)/.installed-test: pyproject.toml | $(BIN)/python
	$(call install,$(VENV),-e '.[test]')
	touch $@
	touch $(VENV)/.installed-report

$(VENV)/.installed-lab: pyproject.toml | $(BIN)/python
	$(call install,$(VENV),-e '.[lab]')
	touch $@

# checkov pins an old boto3, so it lives in a venv of its own (see cloudformation/README.md).
$(CHECKOV_VENV)/.installed:
	$(PYTHON) -m venv $(CHECKOV_VENV)
	$(call install,$(CHECKOV_VENV),'checkov==$(CHECKOV_VERSION)')
	touch $@

## report: the usage report on the embedded default (sandbox + local dataset + DuckDB)
# Bytecode caches on (as for `make test`): uv installs without compiling, so with
# PYTHONDONTWRITEBYTECODE set the report's kernel would compile pandas and matplotlib again.
report: $(VENV)/.installed-report
	PYTHONDONTWRITEBYTECODE= $(BIN)/python -m usagekit report

## test: lint, notebook hygiene, the whole test suite and the notebooks' smoke run
# Bytecode caches stay on whatever the environment says: with PYTHONDONTWRITEBYTECODE set,
# each of the suite's Python processes (CLI runs, kernels, servers) compiles every module it
# imports again, about 40% of the suite's CPU.
test: $(VENV)/.installed-test $(CHECKOV_VENV)/.installed
	$(BIN)/ruff check .
	PYTHONDONTWRITEBYTECODE= $(BIN)/python -m pytest tests notebooks --nbval-lax \
		--ignore=notebooks/exploratory -n $(WORKERS) --dist loadgroup

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
