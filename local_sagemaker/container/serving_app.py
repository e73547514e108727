"""The Flask application each gunicorn worker runs, as the scikit-learn container's ``serving.main``.

A worker imports the user's module and calls its ``model_fn`` on its first request, ``/ping``
included, so a model that cannot load fails the health check. User functions are wrapped as
the container wraps them: any exception they raise becomes a 500, which is why an unsupported
content type answers 500 rather than 415 (the default ``input_fn`` counts as a user function).
"""

from __future__ import annotations

import importlib
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import flask
import numpy as np

from local_sagemaker.container import codecs

BASE_DIR = Path(os.environ.get("SAGEMAKER_BASE_DIR", "/opt/ml"))
MODEL_DIR = BASE_DIR / "model"
CODE_DIR = BASE_DIR / "code"


class UserError(Exception):
    """A failure of the user's script, reported as a 500 with the container's log."""


def default_model_fn(model_dir: str) -> Any:
    raise NotImplementedError(
        "Please provide a model_fn implementation. "
        "See documentation for model_fn at https://sagemaker.readthedocs.io/en/stable/"
    )


def default_input_fn(input_data: Any, content_type: str) -> np.ndarray:
    array = codecs.decode(input_data, content_type)
    return array.astype(np.float32) if content_type in codecs.UTF8_TYPES else array


def default_predict_fn(input_data: Any, model: Any) -> Any:
    return model.predict(input_data)


def default_output_fn(prediction: Any, accept: str) -> flask.Response:
    return flask.Response(codecs.encode(prediction, accept), mimetype=accept)


class Transformer:
    """model_fn once per worker, then input_fn -> predict_fn -> output_fn (or transform_fn) per request."""

    def __init__(self, module: Any) -> None:
        functions = {name: getattr(module, name, None) for name in ("input_fn", "predict_fn", "output_fn")}
        transform_fn = getattr(module, "transform_fn", None)
        if transform_fn and any(functions.values()):
            raise UserError("Cannot use transform_fn implementation with input_fn, predict_fn, and/or output_fn")
        self.model_fn = getattr(module, "model_fn", default_model_fn)
        self.transform_fn = transform_fn or self._default_transform
        self.input_fn = functions["input_fn"] or default_input_fn
        self.predict_fn = functions["predict_fn"] or default_predict_fn
        self.output_fn = functions["output_fn"] or default_output_fn
        self.model = self.model_fn(str(MODEL_DIR))

    def _default_transform(self, model: Any, content: Any, content_type: str, accept: str) -> Any:
        return self.output_fn(self.predict_fn(self.input_fn(content, content_type), model), accept)

    def transform(self) -> flask.Response:
        request = flask.request
        content_type = request.headers.get("ContentType") or request.headers.get("Content-Type") or codecs.JSON
        accept = request.headers.get("Accept")
        if not accept or accept == "*/*":
            accept = os.environ.get("SAGEMAKER_DEFAULT_INVOCATIONS_ACCEPT", codecs.JSON)
        content = request.get_data(as_text=content_type in codecs.UTF8_TYPES)
        result = self.transform_fn(self.model, content, content_type, accept)
        if isinstance(result, tuple):
            return flask.Response(result[0], mimetype=result[1])
        return result


def create_app() -> flask.Flask:
    """What one worker serves: /ping, /invocations and, if the script defines it, /execution-parameters."""
    sys.path.insert(0, str(CODE_DIR))
    program = os.environ["SAGEMAKER_PROGRAM"]
    module = importlib.import_module(Path(program).stem)
    transformer = Transformer(module)
    app = flask.Flask(module.__name__)
    app.add_url_rule("/ping", "ping", lambda: flask.Response(status=200))
    app.add_url_rule("/invocations", "invocations", transformer.transform, methods=["POST"])
    parameters_fn: Callable | None = getattr(module, "execution_parameters_fn", None)
    if parameters_fn:
        app.add_url_rule("/execution-parameters", "execution-parameters", parameters_fn, methods=["GET"])
    return app


_app: flask.Flask | None = None


def app(environ: dict, start_response: Callable) -> Any:
    """gunicorn's entry point: the application is built on the worker's first request, as in the container."""
    global _app
    if _app is None:
        _app = create_app()
    return _app(environ, start_response)
