"""The Pythons the project runs on, checked first at every entry point: ``make``, ``pip install -e .``, ``connect()``.

The notebooks need scikit-learn 1.4.2, the one inside the ``framework_version="1.4-2"`` container they
train in (a model pickled by one version may not load in another). It has wheels for Python 3.9 to 3.12
only: on 3.13 pip would try to compile it and fail with a dependency's build error that names neither
the cause nor the fix. The project's own code needs 3.11. So an unsupported Python gets one message,
naming the Python found, the ones supported and the commands that get one, before anything is installed.

Three callers, one message: the Makefile runs this file as a script with the Python it is about to use
(it prints ``3.11`` or ``3.12``, or the message and exits 1); the project's build backend
(``build_backend/maze_build.py``) loads it by path and checks before handing each build hook to
setuptools, because pip compares ``requires-python`` with a local directory's only after building its
metadata; ``connect()`` calls :func:`require`. Standard library only, no imports of its package: the
build backend runs before any dependency is installed, the Makefile with a bare Python.
"""

from __future__ import annotations

import sys

SUPPORTED = ("3.11", "3.12")
NEWEST = SUPPORTED[-1]


class UnsupportedPython(RuntimeError):
    """This Python cannot run the project; the message says which can and how to get one."""

    def _render_traceback_(self) -> list[str]:
        """IPython shows this instead of a traceback: the message is all a participant needs."""
        return [f"{type(self).__name__}: {self}"]


def problem(version: tuple[int, ...] = tuple(sys.version_info[:3]), executable: str = sys.executable) -> str:
    """Why the Python ``version`` at ``executable`` cannot run the project, with the fix; "" if it can."""
    found = ".".join(str(part) for part in version[:2])
    if found in SUPPORTED:
        return ""
    if version[:2] > tuple(int(part) for part in NEWEST.split(".")):
        why = (
            "the notebooks need scikit-learn 1.4.2, the version inside the framework_version='1.4-2' container "
            f"they train in, and it has no build for Python {found}"
        )
    else:
        why = f"the project's code needs Python {SUPPORTED[0]} or later"
    return (
        f"SageMaker Maze runs on Python {' or '.join(SUPPORTED)}; this is Python {'.'.join(map(str, version))} "
        f"({executable}): {why}.\n"
        f"Get Python {NEWEST} with one of:\n"
        f"  uv python install {NEWEST}                     (then its path: uv python find {NEWEST})\n"
        f"  pyenv install {NEWEST} && pyenv local {NEWEST}\n"
        f"  sudo apt install python{NEWEST} python{NEWEST}-venv    (Ubuntu 24.04; macOS: "
        f"brew install python@{NEWEST})\n"
        f"then run the command again with it: `make maze PYTHON=python{NEWEST}` (or the path uv printed), or "
        f"`python{NEWEST} -m venv .venv && .venv/bin/pip install -e .`; in Studio, a kernel with Python {NEWEST}."
    )


def require() -> None:
    """Raise :class:`UnsupportedPython` unless this Python is supported."""
    message = problem()
    if message:
        raise UnsupportedPython(message)


if __name__ == "__main__":
    # The Makefile's check: the supported Python's version on stdout, or the message on stderr.
    message = problem()
    print(message or f"{sys.version_info.major}.{sys.version_info.minor}", file=sys.stderr if message else sys.stdout)
    sys.exit(1 if message else 0)
