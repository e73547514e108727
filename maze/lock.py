"""``make lock``: the offline environment's exact versions, one lock file per supported Python.

``pyproject.toml`` states what the project needs, in ranges (Studio's image keeps its own versions of
everything but the SDK and scikit-learn); ``requirements.txt`` names the extras of the offline
environment. uv resolves them once per supported Python into ``requirements/lock-py<X.Y>.txt``, which
``make setup`` installs, so a machine set up at the event gets what a facilitator tested, not what was
newest that morning. Resolved for Linux (CI and the facilitators' machines); on macOS pip adds the few
packages only that platform needs.

Each lock's first line records a digest of what it was resolved from (the project's dependency tables
and ``requirements.txt``): a test fails when ``pyproject.toml`` moves and the lock does not.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import subprocess
import sys
import tomllib
from pathlib import Path

from packaging.markers import default_environment
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from local_sagemaker.cloud.compute.framework_envs import pip_index_options, uv_binary
from local_sagemaker.kernel.supported_python import SUPPORTED

ROOT = Path(__file__).resolve().parent.parent
HEADER = "# sagemaker-maze lock for Python {python}, from pyproject.toml and requirements.txt sha256:{digest}\n"


def lock_path(python: str, root: Path = ROOT) -> Path:
    return root / "requirements" / f"lock-py{python}.txt"


def digest(root: Path = ROOT) -> str:
    """sha256 of what a lock is resolved from: pyproject's dependency tables and requirements.txt's lines."""
    project = tomllib.loads((root / "pyproject.toml").read_text())["project"]
    source = {
        "dependencies": project["dependencies"],
        "optional-dependencies": project.get("optional-dependencies", {}),
        "requires-python": project.get("requires-python"),
        "requirements.txt": requirement_lines(root),
    }
    return hashlib.sha256(json.dumps(source, sort_keys=True).encode()).hexdigest()


def requirement_lines(root: Path = ROOT) -> list[str]:
    """requirements.txt without its comments: what the offline environment installs."""
    lines = (line.split("#", 1)[0].strip() for line in (root / "requirements.txt").read_text().splitlines())
    return [line for line in lines if line]


def recorded_digest(lock: Path) -> str:
    """The digest a lock file's first line records, or "" if it has none."""
    first = lock.read_text().split("\n", 1)[0]
    return first.rsplit("sha256:", 1)[-1] if "sha256:" in first else ""


def pins(lock: Path) -> dict[str, str]:
    """name -> exact version of every package a lock file installs."""
    found = {}
    for line in lock.read_text().splitlines():
        if line and not line.startswith((" ", "#", "-")) and "==" in line:
            name, version = line.split(";", 1)[0].strip().split("==")
            found[canonicalize_name(name)] = version
    return found


def requirements(root: Path = ROOT) -> list[Requirement]:
    """What the offline environment asks for: the project's dependencies and the extras requirements.txt names."""
    project = tomllib.loads((root / "pyproject.toml").read_text())["project"]
    extras = [e.strip() for line in requirement_lines(root) for group in re.findall(r"\[(.*?)\]", line)
              for e in group.split(",")]  # fmt: skip
    lines = project["dependencies"] + [line for e in extras for line in project["optional-dependencies"][e]]
    return [Requirement(line) for line in lines]


def disagreements(python: str, root: Path = ROOT) -> list[str]:
    """Why ``python``'s lock does not install what pyproject.toml asks for now, one line each; [] if it does."""
    path = lock_path(python, root)
    name = path.relative_to(root)
    if not path.exists():
        return [f"{name} is missing: run `make lock`."]
    problems = []
    if recorded_digest(path) != digest(root):
        problems.append(f"{name} was resolved from another pyproject.toml or requirements.txt: run `make lock`.")
    locked = pins(path)
    environment = {**default_environment(), "python_version": python, "python_full_version": f"{python}.0",
                   "sys_platform": "linux", "platform_system": "Linux", "extra": ""}  # fmt: skip
    for requirement in requirements(root):
        if requirement.marker is not None and not requirement.marker.evaluate(environment):
            continue
        got = locked.get(canonicalize_name(requirement.name))
        if got is None or not requirement.specifier.contains(got, prereleases=True):
            problems.append(f"{requirement}: the lock has {requirement.name} {got or 'nothing'}")
    return problems


def write(python: str, root: Path = ROOT) -> Path:
    """Resolve the offline environment for ``python`` with uv and write its lock file."""
    target = lock_path(python, root)
    target.parent.mkdir(exist_ok=True)
    options, env = pip_index_options()
    done = subprocess.run(
        [uv_binary(), "pip", "compile", "requirements.txt", "--python-version", python, "--python-platform", "linux",
         "--no-emit-package", "sagemaker-maze", "--custom-compile-command", "make lock", "--no-config", "--quiet",
         *options],
        cwd=root, capture_output=True, text=True,
        env={**os.environ, **dict(env), "UV_PYTHON_DOWNLOADS": "never", "NO_COLOR": "1"},
    )  # fmt: skip
    if done.returncode != 0:
        raise SystemExit(f"uv could not resolve the offline environment for Python {python}:\n{done.stderr}")
    target.write_text(HEADER.format(python=python, digest=digest(root)) + done.stdout)
    return target


def main() -> int:
    for python in SUPPORTED:
        path = write(python)
        print(f"{path.relative_to(ROOT)}: {len(pins(path))} packages")
    return 0


if __name__ == "__main__":
    sys.exit(main())
