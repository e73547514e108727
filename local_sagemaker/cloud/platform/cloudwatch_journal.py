"""CloudWatch Logs and CloudWatch metrics that survive a restart: a journal of the writes moto accepted.

moto keeps log events and metric datapoints in memory. Rather than reach into its models, the local
cloud records each write request that moto answered with success (the request as it came: method, path,
headers, body, and when it arrived) in an SQLite journal under the state directory, and replays the
journal into moto when it starts, before it serves anyone. moto's clock, in the two services, reads a
time the journal sets per request (the arrival, live and in the replay), so what moto stamps itself (a
log event's ``ingestionTime``, a metric datum sent without ``Timestamp``) comes back the same. The
journal commits in WAL mode with ``synchronous=NORMAL``: a write survives the cloud's ``kill -9`` once
acknowledged; a power cut may lose the last transactions.
"""

from __future__ import annotations

import io
import json
import sqlite3
import threading
from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

import moto.cloudwatch.models
import moto.logs.models

WSGIApp = Callable[[dict[str, Any], Callable], Iterable[bytes]]
# The writes that change what a reader of logs or metrics sees (signing names logs and monitoring).
JOURNALED = {
    "logs": frozenset({
        "CreateLogGroup", "CreateLogStream", "PutLogEvents", "DeleteLogGroup", "DeleteLogStream",
        "PutRetentionPolicy", "DeleteRetentionPolicy", "TagLogGroup", "UntagLogGroup", "TagResource", "UntagResource",
    }),
    "monitoring": frozenset({"PutMetricData", "PutMetricAlarm", "DeleteAlarms", "PutDashboard", "DeleteDashboards"}),
}  # fmt: skip
_arrival = threading.local()  # the time moto reads while it handles this thread's request, if set


def _moto_now() -> datetime:
    """moto's ``utcnow`` (naive UTC) for logs and CloudWatch: the request's arrival, when the journal set it."""
    return getattr(_arrival, "now", None) or datetime.now(UTC).replace(tzinfo=None)


def _install_clock() -> None:
    moto.logs.models.utcnow = moto.cloudwatch.models.utcnow = _moto_now
# The parts of a WSGI environ a request is made of (its headers are the HTTP_* keys).
REQUEST_KEYS = ("REQUEST_METHOD", "PATH_INFO", "QUERY_STRING", "CONTENT_TYPE", "SERVER_NAME", "SERVER_PORT")


def action_of(environ: dict[str, Any], body: bytes) -> str:
    """The API action of a request in any protocol the SDKs use: JSON (X-Amz-Target), CBOR (path), query (form)."""
    target = environ.get("HTTP_X_AMZ_TARGET", "")
    if target:
        return target.rsplit(".", 1)[-1]
    path = environ.get("PATH_INFO", "")
    if "/operation/" in path:
        return path.rsplit("/operation/", 1)[-1]
    form = parse_qs(environ.get("QUERY_STRING", "")) or parse_qs(body.decode("utf-8", errors="replace"))
    return form.get("Action", [""])[0]


class CloudWatchJournal:
    """The append-only journal; ``record`` from the front's threads, ``replay`` once at start."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        self._db = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.execute(
            "CREATE TABLE IF NOT EXISTS requests "
            "(id INTEGER PRIMARY KEY, service TEXT, received REAL, environ TEXT, body BLOB)"
        )
        self._lock = threading.Lock()
        _install_clock()

    def middleware(self, app: WSGIApp, service: str) -> WSGIApp:
        """``app`` (moto) for ``service``, journaling each successful write before its answer leaves."""
        actions = JOURNALED[service]

        def journaled(environ: dict[str, Any], start_response: Callable) -> Iterable[bytes]:
            length = int(environ.get("CONTENT_LENGTH") or 0)
            body = environ["wsgi.input"].read(length) if length else b""
            environ["wsgi.input"] = io.BytesIO(body)
            _arrival.now = datetime.now(UTC).replace(tzinfo=None)
            received = _arrival.now.replace(tzinfo=UTC).timestamp()
            answered: list[str] = []

            def capture(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
                answered.append(status)
                return start_response(status, headers, exc_info)

            try:
                output = list(app(environ, capture))  # the whole answer, before deciding
            finally:
                _arrival.now = None
            if answered and answered[0].startswith("2") and action_of(environ, body) in actions:
                self.record(service, received, environ, body)
            return output

        return journaled

    def record(self, service: str, received: float, environ: dict[str, Any], body: bytes) -> None:
        request = {key: value for key, value in environ.items() if key in REQUEST_KEYS or key.startswith("HTTP_")}
        with self._lock:
            self._db.execute(
                "INSERT INTO requests (service, received, environ, body) VALUES (?, ?, ?, ?)",
                (service, received, json.dumps(request), body),
            )

    def replay(self, app: WSGIApp) -> int:
        """Send every journaled request to ``app`` (moto itself, not the journaling middleware) in order, moto's
        clock at the request's first arrival. Returns how many."""
        rows = self._db.execute("SELECT received, environ, body FROM requests ORDER BY id").fetchall()
        try:
            for received, stored, body in rows:
                _arrival.now = datetime.fromtimestamp(received, UTC).replace(tzinfo=None)
                environ = {
                    **json.loads(stored),
                    "CONTENT_LENGTH": str(len(body)),
                    "wsgi.input": io.BytesIO(body),
                    "wsgi.url_scheme": "http",
                    "wsgi.errors": io.StringIO(),
                }
                list(app(environ, lambda status, headers, exc_info=None: None))
        finally:
            _arrival.now = None
        return len(rows)

    def close(self) -> None:
        with self._lock:
            self._db.close()
