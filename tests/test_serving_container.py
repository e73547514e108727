"""The serving container's Flask app in-process: the user functions it honours and the routes it offers."""

from __future__ import annotations

import json
import uuid

import joblib
import pytest
from sklearn.datasets import load_digits
from sklearn.ensemble import RandomForestClassifier

from local_sagemaker.cloud.compute import model_server as instance
from local_sagemaker.container import serving_app as container
from maze import evidence

LOAD = "import os, joblib\ndef model_fn(model_dir):\n    return joblib.load(os.path.join(model_dir, 'model.joblib'))\n"
ROWS = "\n".join(",".join(str(v) for v in row) for row in load_digits().data[:3])


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory):
    folder = tmp_path_factory.mktemp("model")
    x, y = load_digits(return_X_y=True)
    joblib.dump(RandomForestClassifier(n_estimators=5, random_state=0).fit(x, y), folder / "model.joblib")
    return folder


@pytest.fixture
def app_for(tmp_path, model_dir, monkeypatch):
    """A worker's app for a given user script (each under a fresh module name)."""

    def build(script: str):
        program = f"predict_{uuid.uuid4().hex[:8]}.py"
        (tmp_path / program).write_text(script)
        monkeypatch.setattr(container, "MODEL_DIR", model_dir)
        monkeypatch.setattr(container, "CODE_DIR", tmp_path)
        monkeypatch.setenv("SAGEMAKER_PROGRAM", program)
        return container.create_app().test_client()

    return build


def test_ping_and_default_handlers(app_for) -> None:
    client = app_for(LOAD)
    assert client.get("/ping").status_code == 200
    answer = client.post("/invocations", data=ROWS, content_type="text/csv")
    assert (answer.status_code, answer.mimetype, answer.get_json()) == (200, "application/json", [0, 1, 2])
    assert client.get("/execution-parameters").status_code == 404
    assert client.get("/anything-else").status_code == 404


def test_accept_missing_or_any_uses_the_default_accept(app_for, monkeypatch) -> None:
    monkeypatch.setenv("SAGEMAKER_DEFAULT_INVOCATIONS_ACCEPT", "text/csv")
    client = app_for(LOAD)
    answer = client.post("/invocations", data=ROWS, content_type="text/csv", headers={"Accept": "*/*"})
    assert (answer.content_type, answer.get_data(as_text=True)) == ("text/csv; charset=utf-8", "0\n1\n2\n")


def test_user_input_predict_and_output_functions_are_used(app_for) -> None:
    script = (
        LOAD
        + "import json, numpy as np\n"
        + "def input_fn(body, content_type):\n    return np.array(json.loads(body)['rows'])\n"
        + "def predict_fn(data, model):\n    return model.predict_proba(data).max(axis=1)\n"
        + "def output_fn(prediction, accept):\n"
        + "    return json.dumps({'confidence': prediction.round(2).tolist()}), accept\n"
    )
    answer = app_for(script).post("/invocations", data=json.dumps({"rows": load_digits().data[:2].tolist()}))
    assert answer.status_code == 200
    assert set(json.loads(answer.data)) == {"confidence"}


def test_transform_fn_alone_replaces_the_three(app_for) -> None:
    script = (
        LOAD + "def transform_fn(model, body, content_type, accept):\n    return 'seen ' + content_type, 'text/plain'\n"
    )
    answer = app_for(script).post("/invocations", data="x", content_type="text/csv")
    assert (answer.status_code, answer.get_data(as_text=True), answer.mimetype) == (200, "seen text/csv", "text/plain")


def test_transform_fn_with_input_fn_is_a_user_error(app_for) -> None:
    script = LOAD + "def transform_fn(m, b, c, a):\n    return b\ndef input_fn(b, c):\n    return b\n"
    with pytest.raises(container.UserError, match="Cannot use transform_fn"):
        app_for(script)


def test_execution_parameters_route_exists_when_defined(app_for) -> None:
    script = (
        LOAD + "import flask\ndef execution_parameters_fn():\n    return flask.jsonify(MaxConcurrentTransforms=2)\n"
    )
    answer = app_for(script).get("/execution-parameters")
    assert (answer.status_code, answer.get_json()) == (200, {"MaxConcurrentTransforms": 2})


def test_the_access_log_format_is_nginx_combined_and_the_evidence_reads_it() -> None:
    atoms = {"{x-forwarded-for}i": "127.0.0.1", "l": "-", "u": "-", "t": "[27/Nov/2026:13:22:11 +0000]",
             "s": "200", "b": "1234", "r": "POST /invocations HTTP/1.1", "f": "-",
             "a": "Go-http-client/1.1"}  # fmt: skip
    line = instance.ACCESS_LOG_FORMAT % atoms
    # The shape of the lines AWS's batch instances log (e.g. aws/amazon-sagemaker-examples, saved notebook outputs).
    assert line == (
        '127.0.0.1 - - [27/Nov/2026:13:22:11 +0000] "POST /invocations HTTP/1.1" 200 1234 "-" "Go-http-client/1.1"'
    )
    assert evidence.answered_invocations([line, line.replace('" 200 ', '" 500 ')]) == 1, "2xx answers only"
