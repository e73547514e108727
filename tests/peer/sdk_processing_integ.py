"""Run the SageMaker Python SDK's scikit-learn processing integration tests against the local cloud.

    python tests/peer/sdk_processing_integ.py [SDK_CHECKOUT]

SDK_CHECKOUT: a checkout of https://github.com/aws/sagemaker-python-sdk at the pinned SDK's tag (cloned
shallowly into a temporary folder when left out; that needs the network). The tests run unchanged, with the
SDK's own conftest; the only change is :mod:`maze_local_cloud` (``connect()`` first, and the fixtures it lists).
The local cloud is found or started as a notebook's would be (``MAZE_STATE_DIR`` chooses another one).

Selected: the scikit-learn tests of ``tests/integ/test_processing.py`` (``test_sklearn``,
``test_sklearn_with_customizations``, ``test_sklearn_with_custom_default_bucket``,
``test_sklearn_with_no_inputs_or_outputs``, ``test_sklearn_with_network_config``; the two with KMS keys create
theirs through the local cloud's KMS), and ``test_script_processor_with_no_inputs_or_outputs``, which runs the
scikit-learn image through ScriptProcessor. The file's other tests (Processor and ScriptProcessor on the same
image) run with ``pytest ... -k "not sklearn"``; ``test_processing_job_inputs_and_output_config`` is refused by
design (an Athena DatasetDefinition and a Feature Store output, which the local cloud does not have).
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from importlib.metadata import version
from pathlib import Path

HERE = Path(__file__).resolve().parent
SELECTED = (
    "test_sklearn or test_sklearn_with_customizations or test_sklearn_with_custom_default_bucket "
    "or test_sklearn_with_no_inputs_or_outputs or test_sklearn_with_network_config "
    "or test_script_processor_with_no_inputs_or_outputs"
)


def clone(folder: Path) -> Path:
    """The SDK's repository at the installed SDK's tag, shallow."""
    tag = f"v{version('sagemaker')}"
    url = "https://github.com/aws/sagemaker-python-sdk"
    subprocess.run(["git", "clone", "--quiet", "--depth", "1", "--branch", tag, url, str(folder)], check=True)
    return folder


def run(checkout: Path) -> int:
    path = [str(HERE), str(checkout), *filter(None, os.environ.get("PYTHONPATH", "").split(os.pathsep))]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(path)}
    command = [
        sys.executable, "-m", "pytest", "tests/integ/test_processing.py", "-p", "maze_local_cloud",
        "-k", SELECTED, "--rootdir", str(checkout), "-o", "addopts=",
        "-p", "no:cacheprovider", "-v",
    ]  # fmt: skip
    return subprocess.run(command, cwd=checkout, env=env, check=False).returncode


if __name__ == "__main__":
    if len(sys.argv) > 1:
        sys.exit(run(Path(sys.argv[1]).resolve()))
    with tempfile.TemporaryDirectory(prefix="sagemaker-python-sdk-") as folder:
        sys.exit(run(clone(Path(folder) / "sdk")))
