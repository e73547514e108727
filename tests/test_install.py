"""The one install step of a participant: `pip install -e .` gives a kernel everything the notebooks need.

On Studio that command runs in SageMaker Distribution's Python 3.12; the dev environment is 3.11.
Both tests ask PyPI (through pip) and take a while: the resolver about 15 s per Python, the fresh
environment a minute or two (pip installs some 600 MB).
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

import pytest
from packaging.requirements import Requirement

from local_sagemaker import versions
from tests.notebooks import ROOT, SDK_NOISE, first_cells_program


def runtime_requirements() -> list[Requirement]:
    """pyproject.toml's dependencies: the notebook runtime, without the local cloud's extra."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    return [Requirement(line) for line in project["dependencies"]]


def test_the_version_check_holds_the_pins_pyproject_installs() -> None:
    pins = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]
    assert versions.SDK_PIN in pins
    assert versions.SKLEARN_PIN in pins


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


def studio_python() -> str:
    """Python 3.12, as in Studio's SageMaker Distribution images, if this machine has one; else this Python."""
    candidates = [
        shutil.which("python3.12"),
        *sorted(glob.glob(os.path.expanduser("~/.pyenv/versions/3.12*/bin/python3.12"))),
    ]
    for candidate in filter(None, candidates):
        if subprocess.run([candidate, "-c", "import venv"], capture_output=True).returncode == 0:
            return candidate
    return sys.executable


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
