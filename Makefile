# The front door. `make demo` and `make test` work on a machine that has only Python:
# they create .venv, install skstack with the extras the job needs, then run it.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.skstack-installed
PIP_INSTALL := $(BIN)/python -m pip install --quiet --disable-pip-version-check -c constraints.txt
# Tests never touch the network; models load from local paths or installed packages.
export HF_HUB_OFFLINE := 1
export TRANSFORMERS_OFFLINE := 1

.PHONY: install demo demo-blocks lint test docs bench clean

$(STAMP): pyproject.toml constraints.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --upgrade pip
	$(PIP_INSTALL) -e ".[dev]"
	touch $(STAMP)

install: $(STAMP)

demo: $(STAMP)
	BIN=$(BIN) bash examples/cli_demo.sh

demo-blocks: $(STAMP)
	$(BIN)/python examples/plot_blocks.py

lint: $(STAMP)
	$(BIN)/ruff check skstack tests benchmarks examples docs/conf.py

test: lint
	$(BIN)/python -m pytest -n 2 --doctest-modules skstack tests

docs: $(STAMP)
	$(BIN)/sphinx-build -W --keep-going -b html docs docs/_build/html

bench: $(STAMP)
	$(BIN)/python benchmarks/bench_bagging_overhead.py
	$(BIN)/python benchmarks/bench_stacking.py
	$(BIN)/python benchmarks/bench_families.py

clean:
	rm -rf $(VENV) docs/_build docs/generated docs/auto_examples docs/sg_execution_times.rst .pytest_cache
