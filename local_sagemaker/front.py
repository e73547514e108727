"""The AWS API front: one loopback endpoint for every service the notebooks call.

moto's server speaks the wire protocols. This front decides who answers: the project's own
handlers for the SageMaker actions the local cloud executes, moto for the services it
emulates faithfully, and a clear refusal for anything else, never a fake success.
"""

from __future__ import annotations

import io
import json
from collections.abc import Callable, Iterable
from typing import Any
from urllib.parse import unquote

from moto.moto_server.werkzeug_app import DomainDispatcherApplication, create_backend_app

from local_sagemaker.aws_errors import AwsError, error_response

# Services moto answers for the local cloud (signing names): S3, STS, IAM, CloudWatch Logs, CloudWatch.
MOTO_SERVICES = frozenset({"s3", "sts", "iam", "logs", "monitoring"})

Action = Callable[[dict[str, Any], str], dict[str, Any]]
Route = Callable[[dict[str, Any]], dict[str, Any]]
# InvokeEndpoint: endpoint name, body, request headers, region -> status, response headers, body.
Invoke = Callable[[str, bytes, dict[str, str], str], tuple[int, dict[str, str], bytes]]
ErrorBody = Callable[[AwsError], tuple[int, list[tuple[str, str]], bytes]]


def credential_scope(environ: dict[str, Any]) -> tuple[str, str] | None:
    """Region and service a SigV4 request was signed for: ``Credential=AKID/date/<region>/<service>/aws4_request``."""
    auth = environ.get("HTTP_AUTHORIZATION", "")
    try:
        parts = auth.split("Credential=")[1].split(",")[0].split("/")
        return parts[2], parts[3]
    except IndexError:
        return None


class Front:
    """WSGI application: routes each request to the project's handlers, to moto, or refuses it."""

    def __init__(
        self, sagemaker_actions: dict[str, Action], routes: dict[str, Route], invoke: Invoke, invoke_error: ErrorBody
    ) -> None:
        self.moto = DomainDispatcherApplication(create_backend_app)
        self.sagemaker_actions = sagemaker_actions
        self.routes = routes
        self.invoke, self.invoke_error = invoke, invoke_error

    def __call__(self, environ: dict[str, Any], start_response: Callable) -> Iterable[bytes]:
        path = environ.get("PATH_INFO", "")
        if path.startswith("/_local_sagemaker/"):
            return self._own_route(path.removeprefix("/_local_sagemaker/"), environ, start_response)
        region, service = credential_scope(environ) or ("", None)
        if service == "sagemaker" and path.startswith("/endpoints/") and path.endswith("/invocations"):
            return self._invoke(unquote(path.split("/")[2]), environ, start_response, region)
        if service == "sagemaker":
            return self._sagemaker(environ, start_response, region)
        if service in MOTO_SERVICES:
            return self.moto(environ, start_response)
        json_protocol = "json" in environ.get("CONTENT_TYPE", "")
        refusal = AwsError(
            "UnsupportedOperation",
            f"The local cloud does not provide the AWS service {service or '(unsigned request)'!r}. "
            "It answers S3, STS, IAM, CloudWatch Logs, CloudWatch and the SageMaker actions the maze uses; "
            "run against AWS (MAZE_TARGET=aws) for anything else.",
        )
        return self._send(start_response, *error_response(refusal, json_protocol))

    def _sagemaker(self, environ: dict[str, Any], start_response: Callable, region: str) -> Iterable[bytes]:
        action = environ.get("HTTP_X_AMZ_TARGET", "").removeprefix("SageMaker.")
        handler = self.sagemaker_actions.get(action)
        if handler is None:
            refusal = AwsError(
                "UnsupportedOperation",
                f"The local cloud does not execute SageMaker {action} (yet). It executes: "
                f"{', '.join(sorted(self.sagemaker_actions))}. Run against AWS (MAZE_TARGET=aws) to use {action}.",
            )
            return self._send(start_response, *error_response(refusal, json_protocol=True))
        body = self._read_body(environ)
        try:
            result = handler(json.loads(body or b"{}"), region)
        except AwsError as error:
            return self._send(start_response, *error_response(error, json_protocol=True))
        payload = json.dumps(result, default=_json_default).encode()
        return self._send(start_response, 200, [("Content-Type", "application/x-amz-json-1.1")], payload)

    def _invoke(self, name: str, environ: dict[str, Any], start_response: Callable, region: str) -> Iterable[bytes]:
        headers = {"Content-Type": environ.get("CONTENT_TYPE", ""), "Accept": environ.get("HTTP_ACCEPT", "")}
        if "HTTP_X_AMZN_SAGEMAKER_CUSTOM_ATTRIBUTES" in environ:
            headers["X-Amzn-SageMaker-Custom-Attributes"] = environ["HTTP_X_AMZN_SAGEMAKER_CUSTOM_ATTRIBUTES"]
        try:
            status, answer_headers, body = self.invoke(name, self._read_body(environ), headers, region)
        except AwsError as error:
            return self._send(start_response, *self.invoke_error(error))
        return self._send(start_response, status, list(answer_headers.items()), body)

    def _own_route(self, name: str, environ: dict[str, Any], start_response: Callable) -> Iterable[bytes]:
        handler = self.routes.get(name)
        if handler is None:
            return self._send(start_response, 404, [("Content-Type", "application/json")], b'{"error": "no route"}')
        body = self._read_body(environ)
        payload = json.dumps(handler(json.loads(body) if body else {}), default=_json_default).encode()
        return self._send(start_response, 200, [("Content-Type", "application/json")], payload)

    @staticmethod
    def _read_body(environ: dict[str, Any]) -> bytes:
        length = int(environ.get("CONTENT_LENGTH") or 0)
        body = environ["wsgi.input"].read(length) if length else b""
        environ["wsgi.input"] = io.BytesIO(body)
        return body

    @staticmethod
    def _send(start_response: Callable, status: int, headers: list[tuple[str, str]], body: bytes) -> list[bytes]:
        reason = {200: "OK", 400: "Bad Request", 404: "Not Found", 424: "Failed Dependency"}.get(status, "Error")
        start_response(f"{status} {reason}", [*headers, ("Content-Length", str(len(body)))])
        return [body]


def _json_default(value: Any) -> Any:
    """AWS JSON protocols carry timestamps as epoch seconds."""
    if hasattr(value, "timestamp"):
        return value.timestamp()
    raise TypeError(f"cannot encode {type(value).__name__}")
