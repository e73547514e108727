"""A model's ``requirements.txt``, installed when its model server starts, as the scikit-learn container does.

In the real container each gunicorn worker, on its first request, runs sagemaker-containers'
``modules.import_module``: it logs ``Installing module with the following command:`` and runs
``python -m pip install . -r requirements.txt`` in the code directory, pip's output going to the
container's log. If pip fails, ``InstallModuleError`` is raised in the worker, ``/ping`` answers 500 and
the endpoint fails its health check: the endpoint's FailureReason is then the health-check sentence,
and the pip error is in the CloudWatch log only.

Here the install runs once per instance, before the server starts, with the framework environment's pip,
into a venv layered on that environment (:func:`~local_sagemaker.cloud.compute.framework_envs.layered_python`): the
package lands in the instance's own place and dies with it, never in the shared environment or the
project's venv, and what the framework environment already has is "already satisfied", as in the image.
"""

from __future__ import annotations

import os
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

from local_sagemaker.cloud.compute.framework_envs import layered_python
from local_sagemaker.cloud.compute.processes import spawn

REQUIREMENTS = "requirements.txt"
# How sagemaker-containers' logger prints a line (serving.py's logging.basicConfig).
LOG_LINE = "{time},{ms:03d} INFO - sagemaker-containers - {message}"


class InstallModuleError(Exception):
    """``requirements.txt`` did not install; the message is the endpoint's FailureReason."""

    def __init__(self, reason: str, command: list[str], returncode: int, output: list[str]) -> None:
        super().__init__(reason)
        self.command, self.returncode, self.output = command, returncode, output


def install_requirements(
    code_dir: Path,
    python: Path,
    target: Path,
    write: Callable[[str], None],
    variant: str = "AllTraffic",
    prefix: tuple[str, ...] = (),
) -> Path:
    """Install ``code_dir/requirements.txt``, if any, into a venv at ``target``; return the Python to serve with.

    ``python`` is the framework environment's; without a ``requirements.txt`` it is returned as it is.
    pip's output goes line by line to ``write`` (the instance's log). A failed install raises
    :class:`InstallModuleError` whose message is the FailureReason AWS gives the endpoint (its
    production variant ``variant`` failed the ping health check), plus pip's last error line.
    ``prefix``: what the container's processes run under (the model's network isolation), pip included.
    """
    if not (code_dir / REQUIREMENTS).is_file():
        return python
    layered = layered_python(python, target)
    command = [str(layered), "-m", "pip", "install", "-r", REQUIREMENTS]
    now = time.time()
    stamp = LOG_LINE.format(
        time=time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(now)), ms=int(now % 1 * 1000), message=""
    )
    write(f"{stamp}Installing module with the following command:")
    write(" ".join(command))
    environment = {
        **{key: value for key, value in os.environ.items() if key not in ("PYTHONPATH", "PYTHONHOME", "VIRTUAL_ENV")},
        "PIP_ROOT_USER_ACTION": "ignore",  # as the image sets it
        "PIP_DISABLE_PIP_VERSION_CHECK": "1",
        "PIP_NO_INPUT": "1",
    }
    # spawn(): pip dies with the local cloud, as every process the cloud starts.
    process = spawn(
        [*prefix, *command], cwd=code_dir, env=environment, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT, text=True, errors="replace",
    )  # fmt: skip
    output: list[str] = []
    for line in process.stdout:
        output.append(line.rstrip("\n"))
        write(output[-1])
    if process.wait() == 0:
        return layered
    cause = next((line.strip() for line in reversed(output) if line.startswith("ERROR")), "")
    detail = f' Local cloud: InstallModuleError: Command "{" ".join(command)}" exited {process.returncode}'
    reason = (
        f"The primary container for production variant {variant} did not pass the ping health check. "
        f"Please check CloudWatch logs for this endpoint.{detail}{': ' + cause if cause else ''}"
    )
    raise InstallModuleError(reason[:1024], command, process.returncode, output)
