# Included by the Makefiles of the solution repository and of the handout: which Python builds the venv.
#
# The Python: PYTHON=... if given, else python3.11, else python3.12 (the first that runs: a pyenv shim
# may exist for a version it does not select). 3.11 first because it runs every framework version the
# local cloud offers (1.2-1 too; scikit-learn 1.2.1 has no wheel for 3.12); 3.12 is Studio's and
# Ubuntu 24.04's. Neither present: python3, which the check below refuses by name with the way to
# get a supported one.
PYTHON ?= $(shell for p in python3.11 python3.12 python3; do $$p -c '' 2>/dev/null && command -v $$p && break; done)
# The check prints the Python's version (3.11 or 3.12), or its one message on stderr.
PYTHON_VERSION := $(if $(PYTHON),$(shell $(PYTHON) local_sagemaker/kernel/supported_python.py))
ifeq ($(PYTHON_VERSION),)
ifneq ($(MAKECMDGOALS),clean)
$(error $(if $(PYTHON),PYTHON=$(PYTHON) cannot run the project (the message above says why and what to do),no Python found: install Python 3.12 (uv python install 3.12; pyenv install 3.12; sudo apt install python3.12 python3.12-venv) and run make PYTHON=python3.12))
endif
endif
$(info make: Python $(PYTHON_VERSION) ($(PYTHON)))
