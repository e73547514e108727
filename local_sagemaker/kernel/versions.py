"""The package versions the notebooks need, in one place, and the check ``connect()`` runs on both clouds.

The notebooks train in SageMaker's scikit-learn container ``framework_version="1.4-2"`` and unpickle
that model in the kernel: a model pickled by one scikit-learn version may not load in another, so
the kernel's scikit-learn must be the container's. The SDK must be v2 (v3 removed
``sagemaker.sklearn``, ``Model`` and ``Predictor``) and 2.254 or later (its image list names 1.4-2
from then on). A Studio kernel ships its own SDK and scikit-learn; this check says so in one
message, with the command that fixes it, instead of failing many cells later.
"""

from __future__ import annotations

import importlib.metadata

from packaging.requirements import Requirement
from packaging.version import InvalidVersion, Version

# framework_version of SageMaker's scikit-learn container -> the scikit-learn inside it
# (the training images of the SDK's image_uri_config/sklearn.json, sagemaker 2.257.7).
CONTAINER_SKLEARN = {"0.20.0": "0.20.0", "0.23-1": "0.23.2", "1.0-1": "1.0.2", "1.2-1": "1.2.1", "1.4-2": "1.4.2"}
DISTRIBUTION = "sagemaker-maze"
# The container the notebooks name (SKLearn(framework_version=...)).
FRAMEWORK_VERSION = "1.4-2"
# The pins pyproject.toml's dependencies carry verbatim (tests/test_install.py checks it).
SDK_PIN = "sagemaker>=2.254,<3"
SKLEARN_PIN = f"scikit-learn=={CONTAINER_SKLEARN[FRAMEWORK_VERSION]}"
WHY = {
    SDK_PIN: f"SDK v2 (v3 has no sagemaker.sklearn), 2.254 or later (the first to know framework_version "
    f"'{FRAMEWORK_VERSION}')",
    SKLEARN_PIN: f"the scikit-learn inside the framework_version='{FRAMEWORK_VERSION}' container, which trains the "
    "models this kernel loads",
}


class VersionMismatch(RuntimeError):
    """The kernel's packages are not the ones the notebooks need; the message names them and the fix."""

    def _render_traceback_(self) -> list[str]:
        """IPython shows this instead of a traceback: the message is all a participant needs."""
        return [f"{type(self).__name__}: {self}"]


def installed(name: str) -> str | None:
    """The version of distribution ``name`` this kernel imports, or None if it is not installed."""
    try:
        return importlib.metadata.version(name)
    except importlib.metadata.PackageNotFoundError:
        return None


def _satisfies(requirement: Requirement, version: str | None) -> bool:
    if version is None:
        return False
    try:
        return requirement.specifier.contains(Version(version), prereleases=True)
    except InvalidVersion:
        return False


def check_versions() -> str:
    """Raise ``VersionMismatch`` unless the SDK and scikit-learn are the pinned ones; else say which they are."""
    requirements = {pin: Requirement(pin) for pin in (SDK_PIN, SKLEARN_PIN)}
    found = {pin: installed(req.name) for pin, req in requirements.items()}
    wrong = [pin for pin, req in requirements.items() if not _satisfies(req, found[pin])]
    if wrong:
        lines = "\n".join(
            f"  {requirements[pin].name} {found[pin] or 'not'} installed, {pin} needed: {WHY[pin]}." for pin in wrong
        )
        command = "%pip install " + " ".join(f'"{pin}"' for pin in wrong)
        raise VersionMismatch(
            f"this kernel has other package versions than the notebooks need:\n{lines}\n"
            f"Fix: run `{command}` in a notebook cell (or `pip install -e .` in a terminal at the repository root), "
            "then restart the kernel and run this cell again."
        )
    return (
        f"SageMaker Python SDK {found[SDK_PIN]}, scikit-learn {found[SKLEARN_PIN]} "
        f"(as in the framework_version='{FRAMEWORK_VERSION}' container)"
    )


def check_local_cloud() -> None:
    """Raise ``VersionMismatch`` unless this Python has the project's ``local`` extra: the local cloud runs in it.

    The extra's requirements are read from the installed project's metadata (pyproject.toml); a
    source tree that is not installed has none to compare against, and passes.
    """
    try:
        declared = [Requirement(line) for line in importlib.metadata.requires(DISTRIBUTION) or []]
    except importlib.metadata.PackageNotFoundError:
        return
    extra = [req for req in declared if req.marker is not None and req.marker.evaluate({"extra": "local"})]
    wrong = [req for req in extra if not _satisfies(req, installed(req.name))]
    if wrong:
        lines = "\n".join(
            f"  {req.name} {installed(req.name) or 'not'} installed, {req.name}{req.specifier} needed." for req in wrong
        )
        raise VersionMismatch(
            f"the local cloud runs in this kernel's Python and needs the project's extra 'local':\n{lines}\n"
            'Fix: run `pip install -e ".[local]"` in a terminal at the repository root, then restart the kernel '
            "and run this cell again; or work on AWS (MAZE_TARGET=aws)."
        )
