"""One Python environment per scikit-learn framework version: the container's packages, built with uv on first use.

SageMaker's scikit-learn images differ in more than scikit-learn: a model pickled by scikit-learn
1.2.1 may not load in 1.4.2, and a script written for pandas 1.x may fail on 2.x. So each framework
version the pinned SDK lists runs in an environment of its own, built from the pins of that image's
``requirements.txt`` (aws/sagemaker-scikit-learn-container, one branch per version): scikit-learn
exactly, every other pin "that version or the closest above it with a wheel for this Python"
(uv's ``--resolution lowest-direct``), so the environment is as close to the image as this Python
allows, and says where it is not. A pin that has a wheel but does not work on a Python (six 1.15.0 does
not import on 3.12) carries a :class:`Replacement` from that Python on: the closest release that does,
and why. The scientific packages must come as wheels (no compiling NumPy
for half an hour); the SageMaker training toolkit, which ships only as a source archive, is built once
and then comes from uv's cache.

An environment is built under ``<root>/<version>-py<python>`` (one per Python: clouds of two Pythons
may share a root) in a temporary directory beside it (``.<name>.building-*``) and renamed into
place when complete, so a crash mid-build leaves nothing that looks usable. A file lock per environment
makes concurrent jobs of one version (threads or processes) wait for the one build; later uses find
the directory and cost a stat and a small JSON read. uv runs under the job supervisor, so a cloud killed
mid-build (even by ``kill -9``) leaves no uv or build backend running; the next cloud removes the
temporary directory, once no build holds its lock. Its manifest records the Python and the
requirements it was built from; an environment whose record differs from the running Python's is rebuilt.

Which versions can run is a function of the Python and of the table below (:data:`CONTAINERS`): each
version names the newest Python its exact scikit-learn has a wheel for. The table is checked against the
package index by the tests for every supported Python (``uv pip compile --only-binary``), so
``check_image`` answers per request without touching the network.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import importlib.util
import json
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path

from packaging.utils import canonicalize_name

from local_sagemaker.cloud.compute.processes import spawn, under_supervisor
from local_sagemaker.container import supervisor

PYTHON = f"{sys.version_info.major}.{sys.version_info.minor}"
# Packages that must install from a wheel: compiled, and slow or impossible to build here.
BINARY_ONLY = ("scikit-learn", "numpy", "scipy", "pandas", "pyarrow", "gevent", "greenlet", "markupsafe", "psutil")
MANIFEST = "framework-env.json"
# Infix of the temporary directory a build (an environment, a serving path) fills before renaming it into place.
BUILDING = ".building-"
# The distributions a job's log names when it says which environment it runs in.
HEADLINE = ("scikit-learn", "numpy", "pandas", "scipy", "sagemaker-training")
SOURCE = "aws/sagemaker-scikit-learn-container, branch {branch}: requirements.txt and docker/{version}/"


def _python_key(python: str) -> tuple[int, ...]:
    return tuple(int(part) for part in python.split("."))


@dataclass(frozen=True)
class Replacement:
    """A pin that does not work on Pythons from ``since`` on: the requirement used instead (the closest that does), why.

    ``probe``: the import that fails with the image's version there and works with the replacement (the
    tests check both). ``why`` may name ``{python}``, the Python the environment is built for.
    """

    requirement: str
    why: str
    probe: str
    since: str = "3.11"


@dataclass(frozen=True)
class Container:
    """What one image holds: its Python and the versions of the packages that matter to a job or the server.

    ``newest_python``: the newest Python the image's exact scikit-learn has a wheel for; on a later one the
    version cannot run. ``replaced``: the pins replaced on some Pythons (:class:`Replacement`).
    """

    branch: str
    python: str
    packages: dict[str, str]
    newest_python: str
    replaced: dict[str, Replacement] = field(default_factory=dict)

    def replacements(self, python: str = PYTHON) -> dict[str, Replacement]:
        """The replacements that apply on ``python``."""
        return {n: r for n, r in self.replaced.items() if _python_key(python) >= _python_key(r.since)}

    def blocker(self, python: str = PYTHON) -> str:
        """Why this version cannot run on ``python``, or ""."""
        if _python_key(python) <= _python_key(self.newest_python):
            return ""
        sklearn = self.packages["scikit-learn"]
        return (
            f"scikit-learn {sklearn} has no wheel for Python {python} (the newest it has one for is "
            f"{self.newest_python}; building it from source is not an option)"
        )

    def requirements(self, python: str = PYTHON) -> list[str]:
        """uv requirements on ``python``: scikit-learn exact, the rest at the image's version or the closest above."""
        replaced = self.replacements(python)
        lines = []
        for name, version in self.packages.items():
            if name == "scikit-learn":
                lines.append(f"{name}=={version}")
            elif name in replaced:
                lines.append(replaced[name].requirement)
            else:
                lines.append(f"{name}>={version}")
        return lines


# The serving stack of the 1.2-1 and 1.4-2 images (gunicorn with gevent workers, Flask 1.1.1 on Werkzeug 2.0.3).
_SERVING = {"flask": "1.1.1", "werkzeug": "2.0.3", "itsdangerous": "2.0.1", "gunicorn": "23.0.0", "gevent": "23.9.1"}
# What both images pin besides the science and the serving stack.
_COMMON = {"boto3": "1.28.57", "protobuf": "3.20.2", "psutil": "5.7.2", "retrying": "1.3.3", "six": "1.15.0",
           "urllib3": "1.26.17"}  # fmt: skip
_SIX = Replacement(
    "six>=1.16.0",
    "six 1.15.0's six.moves does not import on Python {python} (its importer needs find_module, which Python 3.12 "
    "removed; python-dateutil, which boto3 and so the training toolkit import, needs it); 1.16.0 is the first "
    "release where it does",
    "six.moves",
    since="3.12",
)

CONTAINERS: dict[str, Container] = {
    "0.20.0": Container(
        "0.20.0", "3.7", {"scikit-learn": "0.20.0", "numpy": "1.19.5", "pandas": "0.25.3"}, newest_python="3.7"
    ),
    "0.23-1": Container(
        "0.23-1",
        "3.7",
        {
            "scikit-learn": "0.23.2",
            "numpy": "1.19.2",
            "pandas": "1.1.3",
            "scipy": "1.5.3",
            "sagemaker-training": "4.0.1",
        },
        newest_python="3.8",
    ),
    "1.0-1": Container(
        "1.0-1",
        "3.8",
        {
            "scikit-learn": "1.0.2",
            "numpy": "1.24.1",
            "pandas": "1.1.3",
            "scipy": "1.8.0",
            "sagemaker-training": "4.7.4",
        },
        newest_python="3.10",
    ),
    "1.2-1": Container(
        "1.2-1",
        "3.9",
        {
            "scikit-learn": "1.2.1",
            "numpy": "1.24.1",
            "pandas": "1.1.3",
            "scipy": "1.8.0",
            "sagemaker-training": "4.8.0",
            **_SERVING,
            "jinja2": "3.0.3",
            "markupsafe": "2.1.1",
            **_COMMON,
        },
        newest_python="3.11",
        replaced={"six": _SIX},
    ),
    "1.4-2": Container(
        "v1.4-2",
        "3.10",
        {
            "scikit-learn": "1.4.2",
            "numpy": "2.1.0",
            "pandas": "2.3.2",
            # requirements.txt says scipy>=1.9.0: on the image's Python 3.10 that is 1.15.3, the last for 3.10.
            "scipy": "1.15.3",
            "pyarrow": "17.0.0",
            "sagemaker-training": "4.8.0",
            **_SERVING,
            # requirements.txt says jinja2<3.0 and MarkupSafe<2.0: 2.11.3 and 1.1.1.
            "jinja2": "2.11.3",
            "markupsafe": "1.1.1",
            "pyyaml": "6.0.1",
            **_COMMON,
        },
        newest_python="3.12",
        replaced={
            "jinja2": Replacement(
                "jinja2>=3.0.3,<3.1",
                "Jinja2 2.11 needs MarkupSafe < 2.1, which has no wheel for Python {python}; 3.0.3 is the "
                "container 1.2-1's, the last that Flask 1.1.1 can import",
                "jinja2",
            ),
            "six": _SIX,
        },
    ),
}


class FrameworkEnvError(RuntimeError):
    """A framework environment could not be built; the message says why, with the installer's last lines."""


@cache
def sdk_framework_versions() -> tuple[str, ...]:
    """The scikit-learn framework versions the installed SageMaker SDK lists, read from its own image list.

    The SDK's package is located, not imported (importing ``sagemaker`` takes seconds).
    """
    spec = importlib.util.find_spec("sagemaker")
    if spec is None or not spec.submodule_search_locations:
        raise FrameworkEnvError("the SageMaker Python SDK is not installed: it lists the framework versions")
    config = json.loads((Path(spec.submodule_search_locations[0]) / "image_uri_config" / "sklearn.json").read_text())
    versions = {version for scope in config.values() for version in scope.get("versions", {})}
    return tuple(sorted(versions, key=_version_key))


def _version_key(version: str) -> tuple[int, ...]:
    return tuple(int(part) for part in version.replace("-", ".").split("."))


def blocker(version: str, python: str = PYTHON) -> str:
    """Why ``version`` cannot run on ``python`` (by default this one), or "" if it can."""
    if version not in CONTAINERS:
        return "the local cloud knows no package pins for its image"
    return CONTAINERS[version].blocker(python)


def runnable_versions(python: str = PYTHON) -> list[str]:
    """The framework versions the SDK lists that run on ``python`` (by default this one), oldest first."""
    return [version for version in sdk_framework_versions() if not blocker(version, python)]


@cache
def pip_index_options() -> tuple[tuple[str, ...], tuple[tuple[str, str], ...]]:
    """uv options and environment that make uv read the package indexes pip reads on this machine.

    From ``pip config list`` (files and ``PIP_*`` variables): index-url, extra-index-url, find-links,
    trusted-host; ``cert`` becomes ``SSL_CERT_FILE``. pip's ``constraint`` is not applied: the
    environments reproduce the images' pins, not this machine's local caps. uv merges the indexes
    as pip does (``unsafe-best-match``: the best version across all of them).
    """
    listed = subprocess.run(
        [sys.executable, "-m", "pip", "config", "list"], capture_output=True, text=True, check=False
    ).stdout
    flags = {"index-url": "--index-url", "extra-index-url": "--extra-index-url", "find-links": "--find-links",
             "trusted-host": "--allow-insecure-host"}  # fmt: skip
    options: list[str] = ["--index-strategy", "unsafe-best-match"]
    env: dict[str, str] = {}
    for line in listed.splitlines():
        key, _, value = line.partition("=")
        name, value = key.rsplit(".", 1)[-1], value.strip().strip("'\"")
        if name == "cert":
            env["SSL_CERT_FILE"] = value
        elif name in flags:
            for item in value.split():
                pair = [flags[name], item]
                if not any(options[i : i + 2] == pair for i in range(len(options) - 1)):
                    options += pair
    return tuple(options), tuple(env.items())


def uv_binary() -> str:
    """The uv executable of this Python's ``uv`` package (the project's ``local`` extra)."""
    from uv import find_uv_bin

    return find_uv_bin()


def site_packages(env: Path) -> Path:
    return env / "lib" / f"python{PYTHON}" / "site-packages"


def layered_python(python: Path, target: Path) -> Path:
    """A venv at ``target`` that sees the framework environment of ``python`` and installs into itself.

    What a job or instance installs (``requirements.txt``) must stay in that job or instance, as in a
    fresh container, and never reach the shared environment. The layer is a bare venv (no
    subprocess, a few files) whose ``site-packages`` adds the framework environment's as a site
    directory. pip run from it sees the framework's packages as installed ("Requirement already
    satisfied"), and an upgrade installs into the layer, which comes first on ``sys.path``: pip
    declines to uninstall from outside its environment.
    """
    env = python.parent.parent
    (target / "bin").mkdir(parents=True, exist_ok=True)
    layer_site = site_packages(target)
    layer_site.mkdir(parents=True, exist_ok=True)
    home = Path(sys.base_prefix) / "bin"
    (target / "pyvenv.cfg").write_text(
        f"home = {home}\ninclude-system-site-packages = false\nversion = {sys.version.split()[0]}\n"
    )
    layered = target / "bin" / "python"
    if not layered.exists():
        layered.symlink_to(python.resolve())
    (layer_site / "_framework_env.pth").write_text(f"import site; site.addsitedir({str(site_packages(env))!r})\n")
    return layered


class FrameworkEnvs:
    """The framework environments of one state directory (``<state dir>/frameworks``), built on first use.

    ``cache_dir``: uv's cache; by default uv's own user cache, so that an environment rebuilt after a
    state reset comes from the warm cache. Files are hard-linked from the cache when both lie on one
    file system, copied otherwise.
    """

    def __init__(self, root: Path, cache_dir: Path | None = None) -> None:
        self.root = root
        self.cache_dir = cache_dir
        self._remove_stale_builds()

    def _remove_stale_builds(self) -> None:
        """Remove what builds killed with their cloud left: a build holds its environment's lock as long as its
        temporary directory exists, so a directory whose lock is free is nobody's (clouds may share the root)."""
        if not self.root.is_dir():
            return
        for folder in self.root.glob(f".*{BUILDING}*"):
            name = folder.name[1:].rpartition(BUILDING)[0]
            with open(self.root / f".{name}.lock", "w") as handle:
                try:
                    fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
                except BlockingIOError:
                    continue  # being built now, by another cloud sharing this root
                shutil.rmtree(folder, ignore_errors=True)

    def python(self, version: str, progress: Callable[[str], None]) -> Path:
        """The Python of ``version``'s environment, built now if this is its first use; progress lines to ``progress``.

        Every call reports which environment the job runs in and where it differs from the container.
        """
        if blocker(version):
            raise FrameworkEnvError(f"framework version {version} cannot run here: {blocker(version)}")
        env = env_dir(self.root, version)
        if not _current(env, CONTAINERS[version]):
            with self._lock(env.name):
                if not _current(env, CONTAINERS[version]):  # absent, or built for another Python or other pins
                    self._build(version, env, progress)
        manifest = json.loads((env / MANIFEST).read_text())
        installed = manifest["installed"]
        progress(
            f"scikit-learn {version} environment: "
            + ", ".join(f"{name} {installed[name]}" for name in HEADLINE if name in installed)
        )
        for line in manifest["differences"]:
            progress(line)
        return env / "bin" / "python"

    @contextlib.contextmanager
    def _lock(self, name: str) -> Iterator[None]:
        """One build per environment at a time, across threads and processes (a file lock per open file)."""
        self.root.mkdir(parents=True, exist_ok=True)
        with open(self.root / f".{name}.lock", "w") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)

    def _build(self, version: str, env: Path, progress: Callable[[str], None]) -> None:
        container = CONTAINERS[version]
        progress(f"Preparing the scikit-learn {version} environment (first use on this machine) ...")
        for stale in self.root.glob(f".{env.name}{BUILDING}*"):  # left by a build that crashed: we hold the lock
            shutil.rmtree(stale, ignore_errors=True)
        shutil.rmtree(env, ignore_errors=True)
        building = Path(tempfile.mkdtemp(prefix=f".{env.name}{BUILDING}", dir=self.root))
        try:
            staged = building / "env"
            # --seed: pip, with which the container installs a model's requirements.txt.
            index = pip_index_options()[0]
            self._uv(["venv", "--relocatable", "--seed", "--python", sys.executable, *index, str(staged)], progress)
            requirements = building / "requirements.in"
            requirements.write_text("\n".join(container.requirements()) + "\n")
            self._uv(
                ["pip", "install", "--python", str(staged / "bin" / "python"), "-r", str(requirements),
                 "--resolution", "lowest-direct", "--only-binary", ",".join(BINARY_ONLY), "--compile-bytecode",
                 *index],
                progress,
            )  # fmt: skip
            installed = self._installed(staged)
            manifest = {
                "framework_version": version,
                "python": PYTHON,
                "source": SOURCE.format(branch=container.branch, version=version),
                "container": container.packages,
                "requirements": container.requirements(),
                "installed": installed,
                "differences": differences(container, installed),
            }
            (staged / MANIFEST).write_text(json.dumps(manifest, indent=1))
            staged.rename(env)
        finally:
            shutil.rmtree(building, ignore_errors=True)
        progress(f"The scikit-learn {version} environment is ready.")

    def _installed(self, env: Path) -> dict[str, str]:
        listed = subprocess.run(
            [uv_binary(), "pip", "list", "--python", str(env / "bin" / "python"), "--format", "json", "--no-config"],
            capture_output=True, text=True, check=True, env=self._uv_environment(),
        ).stdout  # fmt: skip
        return {canonicalize_name(item["name"]): item["version"] for item in json.loads(listed)}

    def _uv_environment(self) -> dict[str, str]:
        env = {**os.environ, **dict(pip_index_options()[1]), "UV_PYTHON_DOWNLOADS": "never", "NO_COLOR": "1"}
        if self.cache_dir is not None:
            env["UV_CACHE_DIR"] = str(self.cache_dir)
        env["UV_LINK_MODE"] = "hardlink" if _same_filesystem(self.root, self._cache_path(env)) else "copy"
        return env

    def _cache_path(self, env: dict[str, str]) -> Path:
        if "UV_CACHE_DIR" in env:
            return Path(env["UV_CACHE_DIR"])
        return Path(
            subprocess.run([uv_binary(), "cache", "dir"], capture_output=True, text=True, check=True).stdout.strip()
        )

    def _uv(self, arguments: list[str], progress: Callable[[str], None]) -> None:
        """Run uv (supervised: see the module's doc), its output line by line to ``progress``; raise with its last
        lines if it fails."""
        process = spawn(
            under_supervisor([uv_binary(), *arguments, "--no-config"]), stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, text=True, env=self._uv_environment(),
        )  # fmt: skip
        tail: list[str] = []
        for line in process.stdout:
            line = line.rstrip()
            progress(line)
            tail = [*tail[-9:], line]
        if process.wait() != 0:
            detail = "\n".join(tail)
            raise FrameworkEnvError(f"uv {arguments[0]} {arguments[1]} failed (exit {process.returncode}):\n{detail}")

    def serving_path(self) -> Path:
        """A directory to put on the serving container's PYTHONPATH: the ``local_sagemaker.container`` package alone.

        The framework environment has Flask and NumPy but not boto3 or the SDK, which the full
        ``local_sagemaker`` package imports on the way in, and an instance sees none of the cloud's code;
        this directory holds an empty ``local_sagemaker`` package whose ``container`` is the real one (a
        symbolic link). One per checkout: clouds of two checkouts (a repository and its handout) may share
        the frameworks folder, and each instance must run its own checkout's container code.
        """
        container = Path(supervisor.__file__).resolve().parent
        shim = self.root / f"serving-path-{hashlib.sha256(bytes(container)).hexdigest()[:12]}"
        link = shim / "local_sagemaker" / "container"
        if link.is_symlink() and Path(os.readlink(link)) == container:
            return shim
        with self._lock(shim.name):
            if not (link.is_symlink() and Path(os.readlink(link)) == container):  # absent, or the project moved
                staged = Path(tempfile.mkdtemp(prefix=f".{shim.name}{BUILDING}", dir=self.root))
                (staged / "local_sagemaker").mkdir()
                (staged / "local_sagemaker" / "__init__.py").write_text('"""The container package alone."""\n')
                (staged / "local_sagemaker" / "container").symlink_to(container)
                shutil.rmtree(shim, ignore_errors=True)
                staged.rename(shim)
        return shim


def env_dir(root: Path, version: str) -> Path:
    """Where ``version``'s environment for this Python lives under ``root``."""
    return root / f"{version}-py{PYTHON}"


def _current(env: Path, container: Container) -> bool:
    """Whether ``env`` is complete, for this Python, and built from ``container``'s requirements as this code states.

    Its Python must still be there too: an environment's interpreter is a link to the one it was built with.
    """
    try:
        manifest = json.loads((env / MANIFEST).read_text())
    except (OSError, ValueError):
        return False
    return (
        manifest.get("python") == PYTHON
        and manifest.get("requirements") == container.requirements()
        and (env / "bin" / "python").exists()
    )


def differences(container: Container, installed: dict[str, str], python: str = PYTHON) -> list[str]:
    """One line per pinned package whose version on ``python`` is not the image's, with the reason."""
    replaced = container.replacements(python)
    lines = []
    for name, version in container.packages.items():
        got = installed.get(name)
        if got == version:
            continue
        if name in replaced:
            why = replaced[name].why.format(python=python)
        else:
            why = f"no wheel of {version} for Python {python} (the image runs {container.python}); the closest one"
        lines.append(f"{name} {got or 'not installed'} instead of the container's {version}: {why}")
    return lines


def _same_filesystem(a: Path, b: Path) -> bool:
    def device(path: Path) -> int:
        while not path.exists():
            path = path.parent
        return path.stat().st_dev

    return device(a) == device(b)


def frameworks_dir(state_dir: Path) -> Path:
    """Where the framework environments live: ``<state dir>/frameworks``, or ``MAZE_FRAMEWORKS_DIR``.

    The override lets the clouds a test session starts (each in a state dir of its own) share one build
    of each environment.
    """
    return Path(os.environ.get("MAZE_FRAMEWORKS_DIR") or state_dir / "frameworks")


def built_versions(root: Path) -> list[str]:
    """The framework versions whose environment for this Python is complete under ``root``."""
    return sorted(v for v in CONTAINERS if _current(env_dir(root, v), CONTAINERS[v]))
