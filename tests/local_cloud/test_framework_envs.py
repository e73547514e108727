"""Framework environments: one per scikit-learn framework version, built with uv, running the toolkit and the server.

One environment (the oldest framework version this Python runs: 1.2-1 on 3.11, 1.4-2 on 3.12) is built
per module into a temporary root, from uv's user cache; the training toolkit and the serving container
then run in it for real, each in a temporary /opt/ml, without the local cloud's wiring. The claims of the
table about other Pythons (which versions run, which pins are replaced) are checked against the package
index for each supported Python.
"""

from __future__ import annotations

import http.client
import json
import os
import signal
import socket
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from local_sagemaker.cloud.compute.framework_envs import (
    BINARY_ONLY,
    CONTAINERS,
    MANIFEST,
    PYTHON,
    Container,
    FrameworkEnvError,
    FrameworkEnvs,
    blocker,
    env_dir,
    layered_python,
    pip_index_options,
    runnable_versions,
    sdk_framework_versions,
    uv_binary,
)
from local_sagemaker.cloud.compute.framework_images import check_image
from local_sagemaker.cloud.compute.model_server import ACCESS_LOG_FORMAT
from local_sagemaker.cloud.platform.errors import ValidationError

VERSION = runnable_versions()[0]
# The Pythons the project supports, and the next one, which it refuses (local_sagemaker/kernel/supported_python.py).
PYTHONS = ("3.11", "3.12", "3.13")
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
    differences = json.loads((python.parent.parent / MANIFEST).read_text())["differences"]
    assert differences, f"Python {PYTHON} cannot have every pin of an image built for an older one"
    assert set(differences) <= set(lines), "the build's log names each difference"
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
    monkeypatch.setitem(CONTAINERS, VERSION, Container("x", PYTHON, {"no-such-package-maze-envs": "1.0"}, PYTHON))
    envs = FrameworkEnvs(tmp_path)
    with pytest.raises(FrameworkEnvError, match="no-such-package-maze-envs"):
        envs.python(VERSION, lambda line: None)
    assert sorted(path.name for path in tmp_path.iterdir()) == [f".{VERSION}-py{PYTHON}.lock"]


def test_an_environment_built_for_another_python_is_rebuilt_not_reused(built, tmp_path) -> None:
    envs, python, _ = built
    copy = FrameworkEnvs(tmp_path)
    manifest = json.loads((env_dir(envs.root, VERSION) / MANIFEST).read_text())
    assert manifest["python"] == PYTHON
    # The record of an environment built on another Python, where this Python's would be.
    (env_dir(copy.root, VERSION) / "bin").mkdir(parents=True)
    (env_dir(copy.root, VERSION) / "bin" / "python").symlink_to(python.resolve())
    (env_dir(copy.root, VERSION) / MANIFEST).write_text(json.dumps({**manifest, "python": "3.99"}))
    lines: list[str] = []
    rebuilt = copy.python(VERSION, lines.append)
    assert lines[0] == f"Preparing the scikit-learn {VERSION} environment (first use on this machine) ..."
    assert json.loads((rebuilt.parent.parent / MANIFEST).read_text())["python"] == PYTHON


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
         "--access-logformat", ACCESS_LOG_FORMAT, "local_sagemaker.container.serving_app:app"],
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
    assert blocked, f"this Python ({PYTHON}) cannot run the oldest framework versions"
    for version in [*blocked, "9.9-9"]:
        with pytest.raises(ValidationError) as refused:
            check_image(IMAGE.format(version))
        assert "Framework versions that run here: " + ", ".join(f"'{v}'" for v in runnable_versions()) in str(
            refused.value
        )


def _has_wheel(requirement: str, python: str = PYTHON) -> bool:
    """Whether the package index has a wheel for ``requirement`` on ``python`` (uv resolves without building)."""
    options, env = pip_index_options()
    done = subprocess.run(
        [uv_binary(), "pip", "compile", "-", "--python-version", python, "--only-binary", ":all:", "--no-deps",
         "--no-config", "-q", *options],
        input=requirement, capture_output=True, text=True, timeout=300, env={**os.environ, **dict(env)},
    )  # fmt: skip
    return done.returncode == 0


@pytest.mark.parametrize("python", PYTHONS)
def test_the_table_of_runnable_versions_matches_the_package_index(python: str) -> None:
    """A version is refused on a Python exactly when its scikit-learn has no wheel there (checked without building)."""
    for version in sdk_framework_versions():
        sklearn = CONTAINERS[version].packages["scikit-learn"]
        assert _has_wheel(f"scikit-learn=={sklearn}", python) == (version in runnable_versions(python)), version


def test_which_versions_run_is_a_function_of_the_python() -> None:
    assert runnable_versions("3.11") == ["1.2-1", "1.4-2"]
    assert runnable_versions("3.12") == ["1.4-2"]
    assert runnable_versions("3.13") == []
    assert blocker("1.2-1", "3.12") == (
        "scikit-learn 1.2.1 has no wheel for Python 3.12 (the newest it has one for is 3.11; building it from "
        "source is not an option)"
    )


@pytest.mark.parametrize("python", PYTHONS[:2])
def test_each_runnable_versions_requirements_resolve_to_wheels(python: str) -> None:
    """What a build would install on each supported Python resolves without compiling a scientific package."""
    options, env = pip_index_options()
    for version in runnable_versions(python):
        done = subprocess.run(
            [uv_binary(), "pip", "compile", "-", "--python-version", python, "--resolution", "lowest-direct",
             "--only-binary", ",".join(BINARY_ONLY), "--no-config", "-q", "--no-header", "--no-annotate", *options],
            input="\n".join(CONTAINERS[version].requirements(python)), capture_output=True, text=True, timeout=300,
            env={**os.environ, **dict(env)},
        )  # fmt: skip
        assert done.returncode == 0, (version, done.stderr[-2000:])
        pins = dict(line.split("==") for line in done.stdout.splitlines() if "==" in line)
        assert pins["scikit-learn"] == CONTAINERS[version].packages["scikit-learn"]
        if "six" in CONTAINERS[version].packages:
            assert (pins["six"] == "1.15.0") == (python == "3.11"), (version, python, pins["six"])


def _imports(requirement: str, module: str, scratch: Path) -> bool:
    """Whether ``module`` imports on this Python with ``requirement`` installed (and its dependencies), wheels only."""
    options, env = pip_index_options()
    uv_env = {**os.environ, **dict(env), "UV_PYTHON_DOWNLOADS": "never"}
    venv = scratch / "venv"
    subprocess.run([uv_binary(), "venv", "-q", "--no-config", "--python", sys.executable, str(venv)], check=True,
                   env=uv_env, timeout=120)  # fmt: skip
    subprocess.run(
        [uv_binary(), "pip", "install", "-q", "--no-config", "--python", str(venv / "bin" / "python"),
         "--only-binary", ":all:", requirement, *options],
        check=True, env=uv_env, timeout=300,
    )  # fmt: skip
    return subprocess.run([str(venv / "bin" / "python"), "-c", f"import {module}"], capture_output=True).returncode == 0


def test_each_pin_replaced_on_this_python_fails_here_and_its_replacement_works(tmp_path) -> None:
    """No matter of taste: the image's own version does not import on this Python, the replacement does."""
    replaced = {(name, CONTAINERS[v].packages[name], r.requirement, r.probe)
                for v in runnable_versions() for name, r in CONTAINERS[v].replacements().items()}  # fmt: skip
    assert {name for name, *_ in replaced} == ({"jinja2", "six"} if PYTHON == "3.12" else {"jinja2"})
    for index, (name, pinned, requirement, probe) in enumerate(sorted(replaced)):
        assert not _imports(f"{name}=={pinned}", probe, tmp_path / f"pinned-{index}"), f"{name}=={pinned}"
        assert _imports(requirement, probe, tmp_path / f"replacement-{index}"), requirement


def test_each_difference_is_a_pin_without_a_wheel_here_or_a_replacement(built) -> None:
    envs, _, _ = built
    manifest = json.loads((env_dir(envs.root, VERSION) / MANIFEST).read_text())
    differing = [name for name, version in manifest["container"].items() if manifest["installed"].get(name) != version]
    assert differing, f"Python {PYTHON} cannot have every pin of an image built for an older one"
    replaced = CONTAINERS[VERSION].replacements()
    for name in differing:
        assert name in replaced or not _has_wheel(f"{name}=={manifest['container'][name]}"), name
        line = next(line for line in manifest["differences"] if line.startswith(f"{name} "))
        assert line.endswith(replaced[name].why.format(python=PYTHON) if name in replaced else "the closest one")
