"""The one install step of a participant: `pip install -e .` gives a kernel everything the notebooks need;
the offline environment's lock; and an unsupported Python stopped with one message at every entry point.

On Studio that command runs in SageMaker Distribution's Python 3.12; the dev environment is 3.11 or 3.12.
The install tests ask PyPI (through pip) and take a while: the resolver about 15 s per Python, the fresh
environment a minute or two (pip installs some 600 MB). The Python 3.13 tests need a python3.13 on PATH
or under pyenv (the CI workflow sets one up); each takes a few seconds.
"""

from __future__ import annotations

import glob
import importlib.metadata
import json
import os
import re
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import nbformat
import pytest
from packaging.requirements import Requirement

from local_sagemaker.kernel import versions
from local_sagemaker.kernel.supported_python import SUPPORTED
from maze import lock
from tests.notebooks import NOTEBOOKS, ROOT, SDK_NOISE, first_cells_program


def runtime_requirements() -> list[Requirement]:
    """pyproject.toml's dependencies: the notebook runtime, without the local cloud's extra."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    return [Requirement(line) for line in project["dependencies"]]


def test_the_studio_install_pins_the_sdk_and_scikit_learn_exactly_and_nothing_else() -> None:
    """Exact where the notebooks depend on a version; ranges for the rest, which Studio's image brings."""
    exact = {req.name: next(iter(req.specifier)).version for req in runtime_requirements() if "==" in str(req)}
    assert sorted(exact) == ["sagemaker", "scikit-learn"]
    assert Requirement(versions.SDK_PIN).specifier.contains(exact["sagemaker"]), "the pinned SDK passes the check"
    assert f"scikit-learn=={exact['scikit-learn']}" == versions.SKLEARN_PIN


@pytest.mark.parametrize("python", SUPPORTED)
def test_the_lock_is_resolved_from_pyproject_as_it_is_now(python: str) -> None:
    problems = lock.disagreements(python)
    assert not problems, "\n".join(problems)


def test_a_pin_moved_without_a_new_lock_fails_the_lock_test(tmp_path: Path) -> None:
    for name in ("pyproject.toml", "requirements.txt"):
        shutil.copyfile(ROOT / name, tmp_path / name)
    (tmp_path / "requirements").mkdir()
    shutil.copyfile(lock.lock_path("3.12"), lock.lock_path("3.12", tmp_path))
    pyproject = tmp_path / "pyproject.toml"
    pyproject.write_text(pyproject.read_text().replace('"scikit-learn==1.4.2"', '"scikit-learn==1.5.2"'))
    problems = lock.disagreements("3.12", tmp_path)
    assert problems[0].startswith("requirements/lock-py3.12.txt was resolved from another pyproject.toml")
    assert problems[0].endswith("run `make lock`.")
    assert "scikit-learn==1.5.2: the lock has scikit-learn 1.4.2" in problems


@pytest.mark.network
@pytest.mark.slow
@pytest.mark.parametrize("python", ["3.11", "3.12"])
def test_the_runtime_pins_resolve_to_wheels(python: str, tmp_path: Path) -> None:
    report = tmp_path / "report.json"
    done = subprocess.run(
        [sys.executable, "-m", "pip", "install", "--dry-run", "--ignore-installed", "--only-binary=:all:"]
        + ["--python-version", python, "--quiet", "--report", str(report)]
        + [str(req) for req in runtime_requirements()],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    chosen = {
        item["metadata"]["name"]: item["metadata"]["version"] for item in json.loads(report.read_text())["install"]
    }
    for pin in (versions.SDK_PIN, versions.SKLEARN_PIN):
        requirement = Requirement(pin)
        assert requirement.specifier.contains(chosen[requirement.name]), (pin, chosen[requirement.name])
    print(f"Python {python}: {len(chosen)} wheels, sagemaker {chosen['sagemaker']}, numpy {chosen['numpy']}")


def python_at(version: str) -> str | None:
    """A Python ``version`` of this machine that runs (a pyenv shim may name one it does not select), or None."""
    candidates = [
        shutil.which(f"python{version}"),
        *sorted(glob.glob(os.path.expanduser(f"~/.pyenv/versions/{version}*/bin/python{version}"))),
    ]
    for candidate in filter(None, candidates):
        done = subprocess.run([candidate, "-c", "import sys, venv; print(sys.executable)"], capture_output=True)
        if done.returncode == 0:
            return done.stdout.decode().strip()
    return None


def studio_python() -> str:
    """Python 3.12, as in Studio's SageMaker Distribution images, if this machine has one; else this Python."""
    return python_at("3.12") or sys.executable


@pytest.fixture(scope="module")
def python_3_13() -> str:
    """The Python the project refuses, which the refusal tests need (no skip: a missing one fails, saying so)."""
    found = python_at("3.13")
    assert found, "these tests need Python 3.13 on PATH or under ~/.pyenv/versions (uv python install 3.13)"
    return found


def assert_the_one_message(output: str, python: str) -> None:
    found = subprocess.run([python, "-c", "import sys; print(sys.version.split()[0])"], capture_output=True, text=True)
    assert f"SageMaker Maze runs on Python 3.11 or 3.12; this is Python {found.stdout.strip()} (" in output, output
    assert "scikit-learn 1.4.2" in output and "has no build for Python 3.13" in output, output
    for command in ("uv python install 3.12", "pyenv install 3.12", "sudo apt install python3.12"):
        assert command in output, (command, output)


@pytest.mark.network
@pytest.mark.slow
def test_on_python_3_13_pip_install_stops_with_the_one_message_before_any_build(python_3_13, tmp_path) -> None:
    venv = tmp_path / "py313"
    subprocess.run([python_3_13, "-m", "venv", str(venv)], check=True, timeout=120)
    # README's command; --no-build-isolation keeps it offline (the backend checks before it needs setuptools).
    done = subprocess.run(
        [str(venv / "bin" / "pip"), "install", "--no-build-isolation", "-e", str(ROOT)],
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert done.returncode != 0
    assert_the_one_message(done.stdout + done.stderr, str(venv / "bin" / "python"))
    assert "Failed to build" not in done.stdout + done.stderr, "never a dependency's build error"
    listed = subprocess.run([str(venv / "bin" / "pip"), "list"], capture_output=True, text=True).stdout
    assert "scikit-learn" not in listed and "sagemaker" not in listed


def test_on_python_3_13_make_stops_with_the_one_message(python_3_13) -> None:
    done = subprocess.run(
        ["make", "-n", "maze", f"PYTHON={python_3_13}"], cwd=ROOT, capture_output=True, text=True, timeout=60
    )
    assert done.returncode != 0
    assert_the_one_message(done.stderr, python_3_13)
    assert f"PYTHON={python_3_13} cannot run the project" in done.stderr


@pytest.mark.network
@pytest.mark.slow
def test_on_python_3_13_connect_stops_with_the_one_message(python_3_13, tmp_path) -> None:
    """A kernel of Python 3.13 with what ``import local_sagemaker`` needs: connect() refuses before anything else."""
    venv = tmp_path / "kernel"
    uv = str(Path(sys.executable).parent / "uv")
    subprocess.run([uv, "venv", "-q", "--python", python_3_13, str(venv)], check=True, timeout=120)
    subprocess.run([uv, "pip", "install", "-q", "--python", str(venv / "bin" / "python"), "boto3", "psutil",
                    "packaging"], check=True, timeout=300)  # fmt: skip
    done = subprocess.run(
        [str(venv / "bin" / "python"), "-c", "import local_sagemaker; local_sagemaker.connect()"],
        cwd=ROOT, capture_output=True, text=True, timeout=120, env={**os.environ, "MAZE_TARGET": "aws"},
    )  # fmt: skip
    assert done.returncode != 0
    assert done.stderr.strip().splitlines()[-1].startswith("then run the command again with it"), done.stderr
    assert "local_sagemaker.kernel.supported_python.UnsupportedPython: SageMaker Maze runs on Python" in done.stderr
    assert_the_one_message(done.stderr, str(venv / "bin" / "python"))


def make_picks(path: Path) -> subprocess.CompletedProcess:
    """What ``make -n setup`` says with only ``path`` on PATH (make and its shell by their absolute paths)."""
    return subprocess.run(
        [shutil.which("make"), "-n", "setup", f"VENV={path}/venv"], cwd=ROOT, capture_output=True, text=True,
        timeout=60,
        env={"PATH": path, "HOME": os.environ["HOME"]},
    )  # fmt: skip


def test_make_picks_3_11_then_3_12_and_says_which(tmp_path: Path) -> None:
    pythons = {version: python_at(version) for version in ("3.11", "3.12")}
    assert all(pythons.values()), pythons
    for present in (["3.11", "3.12"], ["3.12"]):
        folder = tmp_path / "-".join(present)
        folder.mkdir()
        for version in present:
            (folder / f"python{version}").symlink_to(os.path.realpath(pythons[version]))
        done = make_picks(folder)
        assert done.returncode == 0, done.stderr
        assert done.stdout.splitlines()[0] == f"make: Python {present[0]} ({folder}/python{present[0]})"
        assert f"{folder}/python{present[0]} -m venv --clear {folder}/venv" in done.stdout
        assert f"-r requirements/lock-py{present[0]}.txt" in done.stdout


def test_make_refuses_a_python3_that_is_not_supported(python_3_13, tmp_path: Path) -> None:
    (tmp_path / "python3").symlink_to(os.path.realpath(python_3_13))
    done = make_picks(tmp_path)
    assert done.returncode != 0
    assert_the_one_message(done.stderr, python_3_13)


@pytest.mark.network
@pytest.mark.slow
def test_a_fresh_environment_with_the_one_command_runs_the_notebooks_first_cells(tmp_path: Path) -> None:
    venv = tmp_path / "studio"
    subprocess.run([studio_python(), "-m", "venv", str(venv)], check=True, timeout=120)
    done = subprocess.run(
        [str(venv / "bin" / "pip"), "install", "--quiet", "-e", "."],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert done.returncode == 0, done.stderr[-3000:]

    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "MAZE_", "SAGEMAKER_"))}
    done = subprocess.run(
        [str(venv / "bin" / "python"), "-c", first_cells_program()],
        cwd=tmp_path,
        env={**env, "MAZE_TARGET": "aws", "AWS_DEFAULT_REGION": "us-east-1"},
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    lines = done.stdout.splitlines()
    assert lines[0] == "SageMaker Maze: this notebook talks to AWS, as team 'solo'."
    sklearn = versions.CONTAINER_SKLEARN[versions.FRAMEWORK_VERSION]
    assert re.fullmatch(rf"Kernel: SageMaker Python SDK 2\.\d+\.\d+, scikit-learn {re.escape(sklearn)} .*\.", lines[1])
    facts = json.loads(lines[-1])
    assert facts["moto"] is False, "the runtime alone, without the local cloud's extra"
    assert not [noise for noise in SDK_NOISE if noise in done.stdout + done.stderr], done.stdout + done.stderr
    print(f"fresh environment on Python {facts['python']}: {lines[1]}")


def pretend_installed(monkeypatch: pytest.MonkeyPatch, **installed: str | None) -> None:
    """importlib.metadata answers with these versions (None: not installed); other packages as they are."""
    real = importlib.metadata.version

    def version(name: str) -> str:
        key = name.replace("-", "_")
        if key not in installed:
            return real(name)
        if installed[key] is None:
            raise importlib.metadata.PackageNotFoundError(name)
        return installed[key]

    monkeypatch.setattr(importlib.metadata, "version", version)


@pytest.mark.parametrize(
    ("sagemaker", "scikit_learn", "wrong"),
    [
        ("2.253.1", "1.4.2", ["sagemaker 2.253.1 installed, sagemaker>=2.254,<3 needed"]),
        ("3.1.0", "1.4.2", ["sagemaker 3.1.0 installed, sagemaker>=2.254,<3 needed"]),
        (None, "1.4.2", ["sagemaker not installed, sagemaker>=2.254,<3 needed"]),
        ("2.257.7", "1.5.2", ["scikit-learn 1.5.2 installed, scikit-learn==1.4.2 needed"]),
        ("2.257.7", None, ["scikit-learn not installed, scikit-learn==1.4.2 needed"]),
        (
            "2.232.0",
            "1.6.1",
            [
                "sagemaker 2.232.0 installed, sagemaker>=2.254,<3 needed",
                "scikit-learn 1.6.1 installed, scikit-learn==1.4.2 needed",
            ],
        ),
    ],
    ids=["sdk-too-old", "sdk-v3", "no-sdk", "other-sklearn", "no-sklearn", "both"],
)
def test_each_mismatch_gets_one_message_with_its_fix(
    monkeypatch: pytest.MonkeyPatch, sagemaker: str | None, scikit_learn: str | None, wrong: list[str]
) -> None:
    pretend_installed(monkeypatch, sagemaker=sagemaker, scikit_learn=scikit_learn)
    with pytest.raises(versions.VersionMismatch) as raised:
        versions.check_versions()
    message = str(raised.value)
    problems = [line.strip() for line in message.splitlines() if " installed, " in line]
    assert [problem.split(":")[0] for problem in problems] == wrong
    pins = " ".join(f'"{line.split(", ")[1].split(" needed")[0]}"' for line in wrong)
    assert f"Fix: run `%pip install {pins}` in a notebook cell" in message
    assert message.endswith("then restart the kernel and run this cell again.")


def test_the_pinned_versions_pass_and_are_named(monkeypatch: pytest.MonkeyPatch) -> None:
    pretend_installed(monkeypatch, sagemaker="2.254.0", scikit_learn="1.4.2")
    assert versions.check_versions() == (
        "SageMaker Python SDK 2.254.0, scikit-learn 1.4.2 (as in the framework_version='1.4-2' container)"
    )


def test_in_a_notebook_a_mismatch_is_one_message_not_a_traceback() -> None:
    cell = (
        "import importlib.metadata, os; real = importlib.metadata.version; "
        "importlib.metadata.version = lambda name: '1.5.2' if name == 'scikit-learn' else real(name); "
        "os.environ['MAZE_TARGET'] = 'aws'; import local_sagemaker; local_sagemaker.connect()"
    )
    done = subprocess.run(
        [sys.executable, "-m", "IPython", "--colors=NoColor", "--no-banner", "-c", cell],
        capture_output=True,
        text=True,
        timeout=120,
    )
    shown = (done.stdout + done.stderr).strip().splitlines()
    assert shown[0] == "VersionMismatch: this kernel has other package versions than the notebooks need:", shown
    assert not [line for line in shown if "Traceback" in line or line.startswith(("File ", "  File "))], shown


def test_offline_a_kernel_without_the_local_extra_is_told_how_to_add_it(monkeypatch: pytest.MonkeyPatch) -> None:
    versions.check_local_cloud()  # this environment has it
    pretend_installed(monkeypatch, moto=None, psutil="5.9.4")
    with pytest.raises(versions.VersionMismatch) as raised:
        versions.check_local_cloud()
    lines = str(raised.value).splitlines()
    assert lines[1:3] == [
        "  moto not installed, moto==5.2.5 needed.",
        "  psutil 5.9.4 installed, psutil>=6 needed.",
    ]
    assert lines[3].startswith('Fix: run `pip install -e ".[local]"` in a terminal at the repository root')


def test_without_the_install_step_the_first_cell_names_the_one_command(tmp_path: Path) -> None:
    """A Studio kernel where `pip install -e .` was skipped: the cell stops naming the command, not a bare error."""
    guarded = 0
    for notebook in NOTEBOOKS:
        first = next(cell for cell in nbformat.read(notebook, as_version=4).cells if cell.cell_type == "code")
        if "local_sagemaker" not in first.source:
            continue
        guarded += 1
        # -I -S: no site-packages, so neither local_sagemaker nor its dependencies are importable.
        done = subprocess.run(
            [sys.executable, "-I", "-S", "-c", first.source], cwd=tmp_path, capture_output=True, text=True, timeout=60
        )
        assert done.returncode != 0
        assert done.stderr.strip().splitlines()[-1] == (
            "ModuleNotFoundError: No module named 'local_sagemaker'. Run `pip install -e .` in a terminal at the "
            "repository root, then restart the kernel."
        ), notebook
    assert guarded == 5, "every SageMaker notebook's first cell"
