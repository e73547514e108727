"""Framework environments: one per scikit-learn framework version, built with uv, running the toolkit and the server.

One environment (framework version 1.2-1, the one besides the project's own 1.4-2) is built per module
into a temporary root, from uv's user cache; the training toolkit and the serving container then run
in it for real, each in a temporary /opt/ml, without the local cloud's wiring.
"""

from __future__ import annotations

import http.client
import json
import os
import signal
import socket
import subprocess
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from local_sagemaker.framework import check_image
from local_sagemaker.framework_envs import (
    CONTAINERS,
    PYTHON,
    Container,
    FrameworkEnvError,
    FrameworkEnvs,
    layered_python,
    pip_index_options,
    runnable_versions,
    sdk_framework_versions,
    uv_binary,
)
from local_sagemaker.platform.errors import ValidationError
from local_sagemaker.serving.instance import ACCESS_LOG_FORMAT

VERSION = "1.2-1"
IMAGE = "683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-scikit-learn:{}-cpu-py3"
TRAIN = """\
import argparse, os, joblib, numpy, pandas, sklearn, tabulate
from sklearn.linear_model import LogisticRegression
parser = argparse.ArgumentParser()
parser.add_argument("-C", type=float)
args = parser.parse_args()
data = pandas.read_csv(os.path.join(os.environ["SM_CHANNEL_TRAIN"], "train.csv"), header=None)
model = LogisticRegression(C=args.C).fit(data.iloc[:, 1:], data.iloc[:, 0])
joblib.dump(model, os.path.join(os.environ["SM_MODEL_DIR"], "model.joblib"))
print("trained with", sklearn.__version__, numpy.__version__, pandas.__version__)
"""
SERVE = "import os, joblib\ndef model_fn(model_dir):\n    return joblib.load(os.path.join(model_dir, 'model.joblib'))\n"


@pytest.fixture(scope="module")
def built(tmp_path_factory) -> tuple[FrameworkEnvs, Path, list[str]]:
    """The environment, asked for by two jobs at once on first use: the second waits for the one build."""
    envs = FrameworkEnvs(tmp_path_factory.mktemp("frameworks"))
    logs: list[list[str]] = [[], []]
    with ThreadPoolExecutor(2) as jobs:
        pythons = list(jobs.map(lambda log: envs.python(VERSION, log.append), logs))
    assert pythons[0] == pythons[1]
    first, second = sorted(logs, key=lambda log: not log[0].startswith("Preparing"))
    assert not any(line.startswith("Preparing") for line in second), "one build, not two"
    return envs, pythons[0], first


def run(python: Path, code: str) -> str:
    done = subprocess.run([str(python), "-c", code], capture_output=True, text=True, timeout=120, env={})
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout.strip()


def test_an_environment_holds_the_containers_scikit_learn_and_says_where_it_differs(built) -> None:
    envs, python, lines = built
    versions = json.loads(
        run(python, "import json, sklearn, numpy, flask, gunicorn; print(json.dumps([sklearn.__version__, "
                    "numpy.__version__, flask.__version__, gunicorn.__version__]))")
    )  # fmt: skip
    pins = CONTAINERS[VERSION].packages
    assert versions == [pins["scikit-learn"], pins["numpy"], pins["flask"], pins["gunicorn"]]
    assert lines[0] == f"Preparing the scikit-learn {VERSION} environment (first use on this machine) ..."
    assert any(line.startswith("Resolved ") for line in lines), "uv's own output reaches the job's log"
    assert any(line.startswith("pandas ") and "instead of the container's 1.1.3" in line for line in lines)
    assert run(python, "import importlib.util; print(importlib.util.find_spec('sagemaker'))") == "None"
    assert [path.name for path in envs.root.iterdir() if "building" in path.name] == []


def test_a_later_use_finds_the_environment_built(built) -> None:
    envs, python, _ = built
    lines: list[str] = []
    assert envs.python(VERSION, lines.append) == python
    assert not any(line.startswith("Preparing") for line in lines)
    assert lines[0].startswith(
        f"scikit-learn {VERSION} environment: scikit-learn {CONTAINERS[VERSION].packages['scikit-learn']}"
    )
    assert any("instead of the container's" in line for line in lines), "every job's log says where it differs"


def test_a_failed_build_leaves_no_environment_and_says_why(tmp_path, monkeypatch) -> None:
    monkeypatch.setitem(CONTAINERS, VERSION, Container("x", PYTHON, {"no-such-package-maze-envs": "1.0"}))
    envs = FrameworkEnvs(tmp_path)
    with pytest.raises(FrameworkEnvError, match="no-such-package-maze-envs"):
        envs.python(VERSION, lambda line: None)
    assert sorted(path.name for path in tmp_path.iterdir()) == [f".{VERSION}.lock"]


def test_the_training_toolkit_runs_a_script_in_the_environment(built, tmp_path) -> None:
    _, python, _ = built
    base, source = tmp_path / "opt_ml", tmp_path / "source"
    for folder in ("input/config", "input/data/train", "model", "output", "code"):
        (base / folder).mkdir(parents=True)
    source.mkdir()
    (source / "train.py").write_text(TRAIN)
    (source / "requirements.txt").write_text("tabulate\n")  # the toolkit installs it before running the script
    (base / "input/data/train/train.csv").write_text("0,0.1,0.2\n1,0.9,0.8\n0,0.2,0.1\n1,0.8,0.9\n")
    config = {
        "hyperparameters.json": {"C": "0.5", "sagemaker_program": '"train.py"',
                                 "sagemaker_submit_directory": json.dumps(str(source))},
        "resourceconfig.json": {"current_host": "algo-1", "hosts": ["algo-1"], "network_interface_name": "eth0"},
        "inputdataconfig.json": {"train": {"TrainingInputMode": "File", "S3DistributionType": "FullyReplicated",
                                           "RecordWrapperType": "None"}},
    }  # fmt: skip
    for name, content in config.items():
        (base / "input/config" / name).write_text(json.dumps(content))
    job_python = layered_python(python, tmp_path / "job-python")  # what the job installs stays in the job
    done = subprocess.run(
        [str(job_python), "-c", "from sagemaker_training import trainer; trainer.train()"],
        capture_output=True, text=True, timeout=300, cwd=base,
        env={"SAGEMAKER_BASE_DIR": str(base), "SM_STUDIO_LOCAL_MODE": "true", "PATH": os.environ["PATH"]},
    )  # fmt: skip
    assert done.returncode == 0, (done.stdout + done.stderr)[-3000:]
    pins = CONTAINERS[VERSION].packages
    assert f"trained with {pins['scikit-learn']} {pins['numpy']}" in done.stdout + done.stderr
    assert (base / "model" / "model.joblib").is_file()
    assert run(python, "import importlib.util; print(importlib.util.find_spec('tabulate'))") == "None"


def test_the_serving_container_answers_from_the_environment(built, tmp_path) -> None:
    envs, python, _ = built
    base = tmp_path / "opt_ml"
    (base / "code").mkdir(parents=True)
    (base / "model").mkdir()
    (base / "code" / "inference.py").write_text(SERVE)
    run(
        python,
        "import joblib; from sklearn.linear_model import LogisticRegression; "
        f"joblib.dump(LogisticRegression().fit([[0, 0], [1, 1]], [0, 1]), {str(base / 'model' / 'model.joblib')!r})",
    )
    port = free_port()
    server = subprocess.Popen(
        [str(python), "-m", "gunicorn", "--timeout", "60", "-k", "gevent", "-b", f"127.0.0.1:{port}",
         "--worker-connections", "1000", "-w", "1", "--log-level", "info", "--access-logfile", "-",
         "--access-logformat", ACCESS_LOG_FORMAT, "local_sagemaker.serving.container:app"],
        cwd=base, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, start_new_session=True,
        env={"PYTHONPATH": str(envs.serving_path()), "SAGEMAKER_BASE_DIR": str(base),
             "SAGEMAKER_PROGRAM": "inference.py", "PATH": os.environ["PATH"]},
    )  # fmt: skip
    try:
        assert _wait_for_ping(port, server) == 200
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        connection.request("POST", "/invocations", body="0,0\n1,1\n", headers={"Content-Type": "text/csv"})
        answer = connection.getresponse()
        assert (answer.status, json.loads(answer.read())) == (200, [0, 1])
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        output = server.communicate(timeout=30)[0].decode()
    assert '"POST /invocations HTTP/1.1" 200 ' in output


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _wait_for_ping(port: int, server: subprocess.Popen) -> int | None:
    for _ in range(600):
        if server.poll() is not None:
            return None
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        try:
            connection.request("GET", "/ping")
            return connection.getresponse().status
        except OSError:
            time.sleep(0.1)
        finally:
            connection.close()
    return None


def test_check_image_names_the_version_and_refuses_one_that_cannot_run_listing_those_that_can() -> None:
    assert check_image(IMAGE.format(VERSION)) == VERSION
    blocked = [version for version in sdk_framework_versions() if version not in runnable_versions()]
    assert blocked, "this Python (3.11) cannot run the oldest framework versions"
    for version in [*blocked, "9.9-9"]:
        with pytest.raises(ValidationError) as refused:
            check_image(IMAGE.format(version))
        assert "Framework versions that run here: " + ", ".join(f"'{v}'" for v in runnable_versions()) in str(
            refused.value
        )


def _has_wheel(requirement: str) -> bool:
    """Whether the package index has a wheel for ``requirement`` on this Python (uv resolves without building)."""
    options, env = pip_index_options()
    done = subprocess.run(
        [uv_binary(), "pip", "compile", "-", "--python-version", PYTHON, "--only-binary", ":all:", "--no-deps",
         "--no-config", "-q", *options],
        input=requirement, capture_output=True, text=True, timeout=300, env={**os.environ, **dict(env)},
    )  # fmt: skip
    return done.returncode == 0


def test_the_table_of_runnable_versions_matches_the_package_index() -> None:
    """A version is refused exactly when its scikit-learn has no wheel for this Python (checked without building)."""
    for version in sdk_framework_versions():
        sklearn = CONTAINERS[version].packages["scikit-learn"]
        assert _has_wheel(f"scikit-learn=={sklearn}") == (version in runnable_versions()), version


def test_each_difference_is_a_pin_without_a_wheel_here(built) -> None:
    envs, _, _ = built
    manifest = json.loads((envs.root / VERSION / "framework-env.json").read_text())
    differing = [name for name, version in manifest["container"].items() if manifest["installed"].get(name) != version]
    assert differing, "Python 3.11 cannot have every pin of an image built for 3.9"
    for name in differing:
        assert not _has_wheel(f"{name}=={manifest['container'][name]}"), name
