# The two commands of README.md. Each builds its own environment first, so a fresh machine with
# Python 3.11 or 3.12 needs nothing else.
#
include python.mk
VENV ?= .venv
BIN := $(VENV)/bin
# The offline environment's exact versions for this Python (make lock writes them from pyproject.toml).
LOCK := requirements/lock-py$(PYTHON_VERSION).txt

.PHONY: setup maze test test-fast lint bench clean lab lock

setup: $(VENV)/.installed-py$(PYTHON_VERSION)

# A venv of another Python is replaced (--clear): the stamp names the Python it was built with.
$(VENV)/.installed-py$(PYTHON_VERSION): $(LOCK) requirements.txt pyproject.toml
	rm -f $(VENV)/.installed*
	$(PYTHON) -m venv --clear $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -r $(LOCK)
	$(BIN)/python -m pip install --quiet --no-deps -e .
	if [ -d .git ]; then $(BIN)/pre-commit install --install-hooks >/dev/null && sh maze/handout_files/scripts/notebook-diffs.sh $(BIN); fi
	touch $@

## Rewrite the lock files (requirements/lock-py3.11.txt, -py3.12.txt) from pyproject.toml: after moving a pin.
lock: setup
	$(BIN)/python -m maze.lock

## Run the whole maze offline, notebook by notebook, and print the summary.
maze: setup
	$(BIN)/python -m maze

## Run the tests: lint, the import contracts (pyproject.toml), unit tests, local cloud tests, every notebook under nbval.
# In TEST_WORKERS processes (pytest-xdist), each with its own local cloud, whole modules at a time (their
# module fixtures are built once), the longest first (the root conftest.py orders them); the slowest 25 listed.
TEST_WORKERS ?= 3
test: setup
	$(BIN)/ruff check .
	$(BIN)/lint-imports --no-cache
	$(BIN)/python -m pytest -n $(TEST_WORKERS) --dist loadfile --no-loadscope-reorder --durations=25

## The edit loop: the unit tier alone (no local cloud, no network, nothing slow), in under a minute.
test-fast: setup
	$(BIN)/python -m pytest -m unit

lint: setup
	$(BIN)/ruff check .
	$(BIN)/lint-imports --no-cache

## JupyterLab on this repository, or on a handout with LAB_ROOT=DIR (127.0.0.1 only); Ctrl-C stops it and the local cloud.
lab: setup
	$(BIN)/python -m maze.lab $(if $(LAB_ROOT),--root $(LAB_ROOT))

## Benchmarks print figures; they are not tests. Modules run from the root: they import testing/, as the tests do.
bench: setup
	$(BIN)/python -m benchmarks.training
	$(BIN)/python -m benchmarks.endpoints
	$(BIN)/python -m benchmarks.batch
	$(BIN)/python -m benchmarks.s3_durability
	$(BIN)/python -m benchmarks.durable_state
	$(BIN)/python -m benchmarks.framework_envs

clean:
	$(BIN)/python -m local_sagemaker down || true
	rm -rf $(VENV) .maze runs
