"""The AWS API front: one loopback endpoint for every service the notebooks call.

moto's server speaks the wire protocols. This front decides who answers: the project's own
handlers for the SageMaker actions the local cloud executes, moto for the services it
emulates faithfully, and a clear refusal for anything else, never a fake success.
"""

from __future__ import annotations

import io
import json
import logging
import uuid
from collections.abc import Callable, Iterable
from typing import Any
from urllib.parse import unquote

from moto.moto_server.werkzeug_app import DomainDispatcherApplication, create_backend_app

from local_sagemaker.cloud.gateway import roles, side_calls
from local_sagemaker.cloud.gateway.auth_errors import s3_error
from local_sagemaker.cloud.gateway.signatures import Signatures, credential_scope, family
from local_sagemaker.cloud.gateway.validation import (
    answer_violations,
    check_request,
    operation_model,
    validation_message,
)
from local_sagemaker.cloud.platform.errors import AwsError, ValidationError, error_response, internal_failure
from local_sagemaker.cloud.platform.page_tokens import PageTokens

# Services moto answers for the local cloud (signing names): S3, STS, IAM, CloudWatch Logs, CloudWatch, KMS.
MOTO_SERVICES = frozenset({"s3", "sts", "iam", "logs", "monitoring", "kms"})
# Paths moto's dispatcher serves itself whatever the service: its admin API (state dump, reset, seed, recorder)
# and an EC2 instance-metadata stand-in. None is AWS; anyone on the machine could wipe or read the cloud with them.
MOTO_OWN_PATHS = ("/moto-api", "/latest/meta-data/", "/latest/api/")

Action = Callable[[dict[str, Any], str], dict[str, Any]]
WSGIApp = Callable[[dict[str, Any], Callable], Iterable[bytes]]
Route = Callable[[dict[str, Any]], dict[str, Any]]
# InvokeEndpoint: endpoint name, body, request headers, region -> status, response headers, body.
Invoke = Callable[[str, bytes, dict[str, str], str], tuple[int, dict[str, str], bytes]]
ErrorBody = Callable[[AwsError], tuple[int, list[tuple[str, str]], bytes]]
REASONS = {
    200: "OK",
    400: "Bad Request",
    403: "Forbidden",
    404: "Not Found",
    424: "Failed Dependency",
    500: "Internal Server Error",
}
ANSWER_BREACH = "answer outside botocore's model: SageMaker"  # the cloud.log line a session's end can look for
REQUEST_ID = "local_sagemaker.request_id"  # WSGI environ key: the id of the request, in its answer and in the log
log = logging.getLogger(__name__)


class Front:
    """WSGI application: routes each request to the project's handlers, to moto, or refuses it.

    Requests to the project's handlers are checked against botocore's model of the operation
    first (``validation``), and whatever a handler raises unexpectedly becomes AWS's
    ``InternalFailure`` (HTTP 500, in the service's protocol) with its traceback in the cloud's log.
    """

    def __init__(
        self,
        sagemaker_actions: dict[str, Action],
        routes: dict[str, Route],
        invoke: Invoke,
        invoke_error: ErrorBody,
        signatures: Signatures,
        moto: WSGIApp | None = None,
        moto_apps: dict[str, WSGIApp] | None = None,
    ) -> None:
        """``moto``: moto's dispatcher (a new one by default); ``moto_apps``: what answers a service in its place
        (moto behind the durable stores: S3's, CloudWatch's journal)."""
        self.signatures = signatures
        self.moto = moto or DomainDispatcherApplication(create_backend_app)
        self.moto_apps = moto_apps or {}
        self.sagemaker_actions = {**side_calls.actions(), **sagemaker_actions}
        self.page_tokens = PageTokens()
        self.routes = routes
        self.invoke, self.invoke_error = invoke, invoke_error

    def __call__(self, environ: dict[str, Any], start_response: Callable) -> Iterable[bytes]:
        path = environ.get("PATH_INFO", "")
        region, service = credential_scope(environ) or ("", None)
        if path.startswith(MOTO_OWN_PATHS):
            refusal = AwsError("AccessDenied", f"The local cloud does not serve {path}.", status=403)
            return self._send(start_response, *self.refusal(environ, refusal))
        try:
            caller = self.signatures.check(environ, lambda: self._read_body(environ))
            if service == "sts":
                roles.check_assume_role(environ, self._read_body(environ), caller.arn)
        except AwsError as refusal:
            return self._send(start_response, *self.refusal(environ, refusal))
        if service in MOTO_SERVICES:
            return self.moto_apps.get(service, self.moto)(environ, start_response)
        request_id = environ[REQUEST_ID] = str(uuid.uuid4())

        def answer(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
            return start_response(status, [*headers, ("x-amzn-RequestId", request_id)], exc_info)

        return self._route(path, service, region, environ, answer)

    def _route(
        self, path: str, service: str | None, region: str, environ: dict[str, Any], start_response: Callable
    ) -> Iterable[bytes]:
        if path.startswith("/_local_sagemaker/"):
            return self._own_route(path.removeprefix("/_local_sagemaker/"), environ, start_response)
        if service == "sagemaker" and path.startswith("/endpoints/") and path.endswith("/invocations"):
            return self._invoke(unquote(path.split("/")[2]), environ, start_response, region)
        if service == "sagemaker":
            return self._sagemaker(environ, start_response, region)
        json_protocol = "json" in environ.get("CONTENT_TYPE", "")
        refusal = AwsError(
            "UnsupportedOperation",
            f"The local cloud does not provide the AWS service {service or '(unsigned request)'!r}. "
            "It answers S3, STS, IAM, CloudWatch Logs, CloudWatch, KMS and the SageMaker actions the maze uses; "
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
        try:
            request = self._json_request(environ)
            check_request("sagemaker", action, request, "ValidationException")
            if request.get("NextToken"):
                request["NextToken"] = self.page_tokens.unseal(request["NextToken"])
            result = handler(request, region)
            self._check_answer(environ, action, result)
            if result.get("NextToken"):
                result = {**result, "NextToken": self.page_tokens.seal(result["NextToken"])}
            payload = json.dumps(result, default=_json_default).encode()
        except AwsError as error:
            return self._send(start_response, *error_response(error, json_protocol=True))
        except Exception:
            failure = self._internal_failure(environ, f"SageMaker {action}")
            return self._send(start_response, *error_response(failure, json_protocol=True))
        return self._send(start_response, 200, [("Content-Type", "application/x-amz-json-1.1")], payload)

    def _invoke(self, name: str, environ: dict[str, Any], start_response: Callable, region: str) -> Iterable[bytes]:
        headers = {"Content-Type": environ.get("CONTENT_TYPE", ""), "Accept": environ.get("HTTP_ACCEPT", "")}
        if "HTTP_X_AMZN_SAGEMAKER_CUSTOM_ATTRIBUTES" in environ:
            headers["X-Amzn-SageMaker-Custom-Attributes"] = environ["HTTP_X_AMZN_SAGEMAKER_CUSTOM_ATTRIBUTES"]
        body = self._read_body(environ)
        try:
            request = invocation_request(name, body, environ)
            # SageMaker Runtime's model names its client error ValidationError.
            check_request("sagemaker-runtime", "InvokeEndpoint", request, "ValidationError")
            status, answer_headers, answer = self.invoke(name, body, headers, region)
        except AwsError as error:
            return self._send(start_response, *self.invoke_error(error))
        except Exception:
            return self._send(start_response, *self.invoke_error(self._internal_failure(environ, "InvokeEndpoint")))
        return self._send(start_response, status, list(answer_headers.items()), answer)

    def _own_route(self, name: str, environ: dict[str, Any], start_response: Callable) -> Iterable[bytes]:
        handler = self.routes.get(name)
        if handler is None:
            return self._send(start_response, 404, [("Content-Type", "application/json")], b'{"error": "no route"}')
        try:
            # Only the cloud's own clients call these routes: a body that is not JSON is their bug (500, logged);
            # a value the route refuses is the caller's (the route's AwsError, 400).
            request = json.loads(self._read_body(environ) or b"{}")
            payload = json.dumps(handler(request), default=_json_default).encode()
        except AwsError as error:
            return self._send(start_response, *error_response(error, json_protocol=True))
        except Exception:
            failure = self._internal_failure(environ, f"route {name}")
            return self._send(start_response, *error_response(failure, json_protocol=True))
        return self._send(start_response, 200, [("Content-Type", "application/json")], payload)

    def _json_request(self, environ: dict[str, Any]) -> Any:
        """The request's JSON document (``{}`` when empty); malformed JSON is the client's error, as on AWS."""
        body = self._read_body(environ)
        try:
            return json.loads(body) if body else {}
        except (UnicodeDecodeError, json.JSONDecodeError) as error:
            raise ValidationError(f"The request body is not valid JSON: {error}.") from None

    def refusal(self, environ: dict[str, Any], error: AwsError) -> tuple[int, list[tuple[str, str]], bytes]:
        """An authentication refusal in the wire format of the service the request was meant for."""
        answering = family(environ)
        if answering == "s3":
            return s3_error(error)
        if answering == "runtime":
            return self.invoke_error(error)
        return error_response(error, json_protocol=answering == "json")

    @staticmethod
    def _check_answer(environ: dict[str, Any], action: str, result: dict[str, Any]) -> None:
        """A clear line in cloud.log for an answer outside botocore's model: clients may fail on it, as tests do."""
        found = answer_violations("sagemaker", action, result)
        if found:
            log.warning("%s %s (request %s): %s", ANSWER_BREACH, action, environ[REQUEST_ID], validation_message(found))

    @staticmethod
    def _internal_failure(environ: dict[str, Any], what: str) -> AwsError:
        """Log the handler's traceback under the request id, and answer what AWS answers."""
        log.exception("%s failed (request %s)", what, environ[REQUEST_ID])
        return internal_failure(environ[REQUEST_ID])

    @staticmethod
    def _read_body(environ: dict[str, Any]) -> bytes:
        """The body, read once and put back for whoever answers; a chunked one the server de-chunks ends by itself."""
        stream, length = environ["wsgi.input"], environ.get("CONTENT_LENGTH") or ""
        terminated = environ.get("wsgi.input_terminated")
        body = stream.read(int(length)) if length.isdigit() else stream.read() if terminated else b""
        environ["wsgi.input"], environ["CONTENT_LENGTH"] = io.BytesIO(body), str(len(body))
        return body

    @staticmethod
    def _send(start_response: Callable, status: int, headers: list[tuple[str, str]], body: bytes) -> list[bytes]:
        reason = REASONS.get(status, "Error")
        start_response(f"{status} {reason}", [*headers, ("Content-Length", str(len(body)))])
        return [body]


def own_address_only(app: Front, port: int) -> Callable:
    """``app`` answering only requests addressed to the cloud itself: Host ``127.0.0.1:<port>`` or ``localhost:<port>``.

    A web page the user opens may make its own domain name resolve to 127.0.0.1 (DNS rebinding) and then call
    the cloud from the browser with that name as its Host; such a request is refused before anything runs.
    """
    hosts = {f"127.0.0.1:{port}", f"localhost:{port}"}

    def guarded(environ: dict[str, Any], start_response: Callable) -> Iterable[bytes]:
        host = environ.get("HTTP_HOST", "")
        if host.lower() in hosts:
            return app(environ, start_response)
        refusal = AwsError("AccessDenied", f"The Host {host!r} is not the local cloud's address.", status=403)
        return Front._send(start_response, *app.refusal(environ, refusal))

    return guarded


def invocation_request(name: str, body: bytes, environ: dict[str, Any]) -> dict[str, Any]:
    """InvokeEndpoint's parameters as the model names them, from the URI, the headers and the body."""
    model = operation_model("sagemaker-runtime", "InvokeEndpoint")
    assert model is not None and model.input_shape is not None
    request: dict[str, Any] = {"EndpointName": name, "Body": body}
    for member, shape in model.input_shape.members.items():
        if shape.serialization.get("location") == "header":
            key = shape.serialization["name"].upper().replace("-", "_")
            value = environ.get(key if key == "CONTENT_TYPE" else f"HTTP_{key}")
            if value is not None:
                request[member] = value
    return request


def _json_default(value: Any) -> Any:
    """AWS JSON protocols carry timestamps as epoch seconds."""
    if hasattr(value, "timestamp"):
        return value.timestamp()
    raise TypeError(f"cannot encode {type(value).__name__}")
