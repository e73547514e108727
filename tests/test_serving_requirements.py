"""A model's requirements.txt is installed for its instance alone, pip's output in the log, a failure with its reason.

The framework environment here is a small venv (pip and six 1.15.0, as an image pins it) standing in for
a real one: the install layers on whatever environment it is given.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from local_sagemaker.cloud.compute.framework_envs import pip_index_options, uv_binary
from local_sagemaker.cloud.compute.serving_requirements import InstallModuleError, install_requirements

pytestmark = [pytest.mark.network, pytest.mark.slow]

TIMEOUT = 300


@pytest.fixture(scope="module")
def framework_python(tmp_path_factory) -> Path:
    env = tmp_path_factory.mktemp("framework") / "env"
    options, variables = pip_index_options()
    uv_env = {**os.environ, **dict(variables)}
    python = str(env / "bin" / "python")
    venv = ["venv", "--seed", "--python", sys.executable, *options, str(env)]  # this Python, not the first on PATH
    for command in (venv, ["pip", "install", "--python", python, "six==1.15.0", *options]):
        subprocess.run([uv_binary(), *command, "-q"], check=True, timeout=TIMEOUT, env=uv_env)
    return env / "bin" / "python"


def imports(python: Path, module: str) -> str:
    done = subprocess.run(
        [str(python), "-c", f"import {module}; print({module}.__version__)"], capture_output=True, text=True, env={}
    )
    return done.stdout.strip() if done.returncode == 0 else "missing"


def test_without_requirements_the_framework_python_serves(framework_python, tmp_path) -> None:
    lines: list[str] = []
    assert install_requirements(tmp_path, framework_python, tmp_path / "instance", lines.append) == framework_python
    assert lines == [] and not (tmp_path / "instance").exists()


def test_requirements_install_into_the_instance_only(framework_python, tmp_path) -> None:
    code = tmp_path / "code"
    code.mkdir()
    (code / "requirements.txt").write_text("tabulate\nsix>=1.16\npip\n")
    lines: list[str] = []
    python = install_requirements(code, framework_python, tmp_path / "instance", lines.append)
    assert python.parent.parent == tmp_path / "instance"
    assert imports(python, "tabulate") != "missing"
    assert imports(python, "six") != "1.15.0", "an upgrade of a framework package wins inside the instance"
    assert (imports(framework_python, "tabulate"), imports(framework_python, "six")) == ("missing", "1.15.0")
    assert lines[0].endswith("INFO - sagemaker-containers - Installing module with the following command:")
    assert lines[1] == f"{python} -m pip install -r requirements.txt"
    assert any(line.startswith("Requirement already satisfied: pip") for line in lines)
    assert any(line.startswith("Successfully installed") and "tabulate" in line for line in lines)


def test_a_failed_install_fails_the_instance_with_pips_reason(framework_python, tmp_path) -> None:
    code = tmp_path / "code"
    code.mkdir()
    (code / "requirements.txt").write_text("no-such-package-maze-requirements==1.0\n")
    lines: list[str] = []
    with pytest.raises(InstallModuleError) as failed:
        install_requirements(code, framework_python, tmp_path / "instance", lines.append, variant="Blue")
    reason = str(failed.value)
    assert reason.startswith(
        "The primary container for production variant Blue did not pass the ping health check. "
        "Please check CloudWatch logs for this endpoint."
    )
    assert "No matching distribution found for no-such-package-maze-requirements==1.0" in reason
    assert failed.value.returncode != 0
    assert any("No matching distribution found" in line for line in lines), "pip's error is in the instance's log"
