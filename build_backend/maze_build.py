"""The project's build backend: setuptools, behind a check that this Python can run the project.

pip builds a local directory's metadata before it compares ``requires-python``, so on Python 3.13
``pip install -e .`` would resolve the dependencies and fail compiling scikit-learn 1.4.2, which has
no wheel there. Each build hook first checks the Python (``local_sagemaker/kernel/supported_python.py``,
loaded by its path: importing the package would need its dependencies) and stops with its one message;
pip shows that message alone. On a supported Python the hooks are setuptools' own.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path
from typing import Any

_CHECK = Path(__file__).resolve().parent.parent / "local_sagemaker" / "kernel" / "supported_python.py"
_HOOKS = ("build_", "get_requires_for_build_", "prepare_metadata_for_build_")


def _problem() -> str:
    spec = importlib.util.spec_from_file_location("_maze_supported_python", _CHECK)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.problem()


def __getattr__(name: str) -> Any:
    """A build hook (PEP 517, PEP 660): setuptools' own once this Python has passed the check."""
    if not name.startswith(_HOOKS):
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    message = _problem()
    if message:
        raise SystemExit(message)
    from setuptools import build_meta

    return getattr(build_meta, name)
