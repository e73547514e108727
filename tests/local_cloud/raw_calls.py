"""Calls to the cloud's front that a client's own checks would stop: raw HTTP requests, and a boto3 config
that sends whatever it is given (no parameter validation, no retries), as a client without botocore's checks."""

from __future__ import annotations

import http.client
from urllib.parse import urlsplit

from botocore.config import Config

from local_sagemaker.kernel import launcher

NO_CLIENT_CHECKS = Config(parameter_validation=False, retries={"max_attempts": 0})


def request(
    cloud: launcher.CloudInfo,
    method: str,
    path: str,
    body: bytes = b"",
    headers: dict[str, str] | None = None,
    signed: bool = True,
) -> tuple[int, bytes]:
    """A raw HTTP request to the cloud's front, with whatever headers a caller on the machine may send."""
    headers = dict(headers or {})
    if signed:
        host = headers.get("Host", urlsplit(cloud.endpoint).netloc)
        headers = launcher.signed_headers(cloud.key, method, f"http://{host}{path}", body, headers)
    address = urlsplit(cloud.endpoint)
    connection = http.client.HTTPConnection(address.hostname, address.port, timeout=30)
    try:
        connection.request(method, path, body=body, headers=headers or {})
        answer = connection.getresponse()
        return answer.status, answer.read()
    finally:
        connection.close()
