"""The control plane's records on disk: one SQLite table of JSON bodies keyed by (kind, name).

Each write is its own transaction, committed with ``synchronous=FULL`` in WAL mode before the write
returns: a crash at any moment (``kill -9``, power loss) leaves the last acknowledged record readable,
as an API call's answer promises. A state written by an incompatible version is refused, never misread.
"""

from __future__ import annotations

import json
import sqlite3
import threading
from datetime import datetime
from pathlib import Path
from typing import Any

from local_sagemaker.cloud.platform.clock import now
from local_sagemaker.cloud.platform.errors import AwsError

# Bump when the layout of a table or of a kind's body changes in a way an older reader would misread.
SCHEMA_VERSION = 2  # 2: models and endpoint configs are typed records, like the rest
FILE_NAME = "records.sqlite"
_DATETIME = "$datetime"


class IncompatibleState(RuntimeError):
    """The state directory's records were written by a version of the local cloud this one cannot read."""


class NotWritten(AwsError):
    """A write the store could not make (e.g. the disk is full): AWS's InternalFailure (500), saying why."""

    def __init__(self, message: str) -> None:
        super().__init__("InternalFailure", message, status=500)


def _encode(value: Any) -> Any:
    if isinstance(value, datetime):
        return {_DATETIME: value.isoformat()}
    raise TypeError(f"{type(value).__name__} is not a record value")


def _decode(value: dict[str, Any]) -> Any:
    return datetime.fromisoformat(value[_DATETIME]) if value.keys() == {_DATETIME} else value


class RecordStore:
    """Thread-safe: API threads and runner threads write through one connection, one transaction at a time."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = threading.Lock()
        self._db = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        try:
            self._db.execute("PRAGMA synchronous=FULL")
            self._check_schema()  # before anything changes the file
            self._db.execute("PRAGMA journal_mode=WAL")
        except sqlite3.DatabaseError as error:
            self._db.close()
            raise IncompatibleState(_refusal(path, f"it is not a records database ({error})")) from error
        except IncompatibleState:
            self._db.close()
            raise

    def _check_schema(self) -> None:
        with self._db:
            self._db.execute("BEGIN IMMEDIATE")
            self._db.execute("CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)")
            row = self._db.execute("SELECT value FROM meta WHERE key = 'schema'").fetchone()
            if row is None:
                self._db.execute("INSERT INTO meta VALUES ('schema', ?)", (str(SCHEMA_VERSION),))
                self._db.execute(
                    "CREATE TABLE records (kind TEXT NOT NULL, name TEXT NOT NULL, body TEXT NOT NULL, "
                    "PRIMARY KEY (kind, name))"
                )
            elif row[0] != str(SCHEMA_VERSION):
                raise IncompatibleState(
                    _refusal(self.path, f"it was written with schema {row[0]}, this version reads {SCHEMA_VERSION}")
                )

    def put(self, kind: str, name: str, body: dict[str, Any]) -> None:
        """Insert or replace one record; on disk when this returns."""
        self.put_all([(kind, name, body)])

    def put_all(self, entries: list[tuple[str, str, dict[str, Any]]]) -> None:
        """Insert or replace (kind, name, body) records in one transaction: all on disk when this returns, or
        none, and ``NotWritten`` says why (a full disk, say)."""
        rows = [(kind, name, json.dumps(body, default=_encode)) for kind, name, body in entries]
        self._write(
            "INSERT INTO records VALUES (?, ?, ?) ON CONFLICT (kind, name) DO UPDATE SET body = excluded.body", rows
        )

    def delete(self, kind: str, name: str) -> None:
        self._write("DELETE FROM records WHERE kind = ? AND name = ?", [(kind, name)])

    def _write(self, statement: str, rows: list[tuple[str, ...]]) -> None:
        try:
            with self._lock, self._db:
                self._db.execute("BEGIN IMMEDIATE")
                self._db.executemany(statement, rows)
        except sqlite3.Error as error:  # rolled back: the file holds what it held
            raise NotWritten(
                f"The local cloud could not write its records in {self.path} ({error}), so it did not make this "
                "change. Free disk space there and try again."
            ) from error

    def load(self, kind: str) -> list[dict[str, Any]]:
        """Every record of ``kind``, in the order they were first written."""
        with self._lock:
            rows = self._db.execute("SELECT body FROM records WHERE kind = ? ORDER BY rowid", (kind,)).fetchall()
        return [json.loads(body, object_hook=_decode) for (body,) in rows]

    def close(self) -> None:
        with self._lock:
            self._db.close()


def _refusal(path: Path, why: str) -> str:
    return (
        f"The local cloud cannot read its records in {path}: {why}. Nothing was changed. To start over with an "
        "empty state (this deletes every S3 object, job, model and endpoint it holds): python -m local_sagemaker reset"
    )


def interrupted(what: str) -> str:
    """The FailureReason of what ran when the local cloud stopped without settling it (a crash, ``kill -9``);
    ``what`` says what went on, e.g. "the job ran"."""
    return f"InternalServerError: the local cloud stopped while {what} (restart at {now():%Y-%m-%dT%H:%M:%SZ})"
