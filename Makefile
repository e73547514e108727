# The two commands of README.md. Each builds its own environment first, so a fresh machine with
# Python 3.11 or 3.12 needs nothing else.
#
# The Python: PYTHON=... if given, else python3.11, else python3.12 (the first that runs: a pyenv shim
# may exist for a version it does not select). 3.11 first because it runs every framework version the
# local cloud offers (1.2-1 too; scikit-learn 1.2.1 has no wheel for 3.12); 3.12 is Studio's and
# Ubuntu 24.04's. Neither present: python3, which the check below refuses by name with the way to
# get a supported one.
PYTHON ?= $(shell for p in python3.11 python3.12 python3; do $$p -c '' 2>/dev/null && command -v $$p && break; done)
# The check prints the Python's version (3.11 or 3.12), or its one message on stderr.
PYTHON_VERSION := $(if $(PYTHON),$(shell $(PYTHON) local_sagemaker/supported_python.py))
ifeq ($(PYTHON_VERSION),)
ifneq ($(MAKECMDGOALS),clean)
$(error $(if $(PYTHON),PYTHON=$(PYTHON) cannot run the project (the message above says why and what to do),no Python found: install Python 3.12 (uv python install 3.12; pyenv install 3.12; sudo apt install python3.12 python3.12-venv) and run make PYTHON=python3.12))
endif
endif
$(info make: Python $(PYTHON_VERSION) ($(PYTHON)))
VENV ?= .venv
BIN := $(VENV)/bin
# The offline environment's exact versions for this Python (make lock writes them from pyproject.toml).
LOCK := requirements/lock-py$(PYTHON_VERSION).txt

.PHONY: setup maze test lint bench clean lab lock

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

## Run the tests: unit tests, local cloud tests, every notebook under nbval, lint.
test: setup
	$(BIN)/ruff check .
	$(BIN)/python -m pytest

lint: setup
	$(BIN)/ruff check .

## JupyterLab on this repository, or on a handout with LAB_ROOT=DIR (127.0.0.1 only); Ctrl-C stops it and the local cloud.
lab: setup
	$(BIN)/python -m maze.lab $(if $(LAB_ROOT),--root $(LAB_ROOT))

## Benchmarks print figures; they are not tests.
bench: setup
	$(BIN)/python benchmarks/training.py
	$(BIN)/python benchmarks/endpoints.py
	$(BIN)/python benchmarks/batch.py
	$(BIN)/python benchmarks/s3_durability.py
	$(BIN)/python benchmarks/durable_state.py
	$(BIN)/python benchmarks/framework_envs.py

clean:
	$(BIN)/python -m local_sagemaker down || true
	rm -rf $(VENV) .maze runs
