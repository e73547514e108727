"""Durable S3 for the local cloud: moto answers, a write-through store keeps what it acknowledged.

moto's in-memory S3 stays the server (same front, same credentials, same wire fidelity), but memory
does not survive a ``down``, an idle stop, ``kill -9`` or a reboot. ``DurableS3`` sits in front of moto:
after a request that changed S3 succeeded, and before the client sees its 200, it copies what changed
from moto's backend into ``S3Store`` (data files fsync'd and renamed, then a SQLite row committed with
``synchronous=FULL``). ``S3Store.restore()`` puts everything back into moto when the cloud starts.
SeaweedFS was measured and set aside (notes/issue10-seaweedfs-research.md): on a shared machine it
needs JWT, mTLS and a re-signing proxy, and its 10 MB PUTs are slower than moto's.

Persisted per object: bytes, ETag (multipart ``-N`` included), Last-Modified, storage class, every
header moto keeps in the key's metadata (Content-Type/-Encoding/-Disposition/-Language, Cache-Control,
Expires, ``x-amz-meta-*``), server-side encryption fields, checksum fields and tags. Per bucket: name,
region, creation date. Not persisted: versions other than the latest, ACLs, bucket configuration
(policy, tagging, versioning, lifecycle, CORS, ...), in-progress multipart uploads, part boundaries of
completed multipart objects (GetObject/HeadObject with ``PartNumber``).
"""

from __future__ import annotations

import datetime
import io
import json
import logging
import os
import sqlite3
import threading
import uuid
import zlib
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit
from xml.etree import ElementTree

from moto.s3.exceptions import MissingBucket
from moto.s3.models import FakeKey, S3Backend, s3_backends
from moto.utilities.utils import LowercaseDict

from local_sagemaker.common.account import ACCOUNT_ID

SCHEMA_VERSION = 1
SCHEMA = """
CREATE TABLE IF NOT EXISTS buckets (
    name TEXT PRIMARY KEY, region TEXT NOT NULL, created TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS objects (
    bucket TEXT NOT NULL, key TEXT NOT NULL, file TEXT, inline BLOB, size INTEGER NOT NULL,
    etag TEXT NOT NULL, last_modified TEXT NOT NULL, attributes TEXT NOT NULL,
    PRIMARY KEY (bucket, key)
);
"""
TEMP_PREFIX = "tmp-"
# Objects up to this size live in their index row: one fsync (the WAL's) per PUT instead of three.
INLINE_BYTES = 128 * 1024
# FakeKey attributes beyond bytes, ETag, Last-Modified and metadata that HeadObject/GetObject report.
KEY_ATTRIBUTES = (
    "encryption",
    "kms_key_id",
    "bucket_key_enabled",
    "checksum_algorithm",
    "checksum_value",
    "checksum_type",
    "checksum_parts",
    "website_redirect_location",
    "lock_mode",
    "lock_legal_status",
    "lock_until",
)
LOCK_STRIPES = 64
log = logging.getLogger(__name__)


def moto_s3_backend() -> S3Backend:
    """The in-process moto S3 backend of the local cloud's one account (partition ``aws``)."""
    return s3_backends[ACCOUNT_ID]["aws"]


@dataclass(frozen=True)
class Change:
    """What a successful S3 request may have changed: one bucket, some of its keys, or its whole contents."""

    bucket: str
    keys: tuple[str, ...] = ()
    whole_bucket: bool = False


class S3Store:
    """Buckets and objects on disk: an index in ``root/index.sqlite``, objects over 128 KiB in ``root/data``.

    Small objects are stored in their index row. A larger object's data file is written under a temporary
    name, fsync'd, renamed and its directory fsync'd before the index row naming it commits, so a crash at
    any point leaves either the old object or the new one, never half of one. Files the index does not
    name (temporaries, a rename whose commit never happened) are removed by ``restore``. Thread-safe: one
    connection behind a lock, plus striped per-key locks so that reading moto's state and writing it are
    one step per key.
    """

    def __init__(self, root: Path, backend: Callable[[], S3Backend] = moto_s3_backend) -> None:
        self.root = Path(root)
        self.data = self.root / "data"
        self.data.mkdir(parents=True, exist_ok=True)
        self.backend = backend
        self._db_lock = threading.Lock()
        self._key_locks = [threading.Lock() for _ in range(LOCK_STRIPES)]
        self._db = sqlite3.connect(self.root / "index.sqlite", check_same_thread=False, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=FULL")
        version = self._db.execute("PRAGMA user_version").fetchone()[0]
        if version not in (0, SCHEMA_VERSION):
            raise RuntimeError(
                f"The S3 store in {self.root} was written by another version of local_sagemaker "
                f"(schema {version}, this one reads {SCHEMA_VERSION}). "
                "Run `python -m local_sagemaker reset` to start from an empty state."
            )
        self._db.executescript(SCHEMA)
        self._db.execute(f"PRAGMA user_version={SCHEMA_VERSION}")

    def close(self) -> None:
        with self._db_lock:
            self._db.close()

    # -- writing: copy moto's current state of a bucket or key into the store --------------------------

    def apply(self, change: Change) -> None:
        """Make the store hold what moto now holds for ``change`` (present -> stored, absent -> removed).

        The bucket's own row is synced for bucket-level requests only; an object's row brings its bucket's
        along in the same transaction, so a PUT costs one commit (one fsync of the WAL), not two.
        """
        if not change.keys:
            self.sync_bucket(change.bucket)
        for key in change.keys:
            self.sync_key(change.bucket, key)
        if change.whole_bucket:
            self.sync_bucket_contents(change.bucket)

    def _bucket_row(self, name: str) -> tuple[str, str, str] | None:
        bucket = self.backend().buckets.get(name)
        return None if bucket is None else (name, bucket.region_name, bucket.creation_date.isoformat())

    def sync_bucket(self, name: str) -> None:
        bucket_row = self._bucket_row(name)
        with self._db_lock, self._transaction():
            if bucket_row is None:
                files = [
                    row[0] for row in self._db.execute("SELECT file FROM objects WHERE bucket=?", (name,)) if row[0]
                ]
                self._db.execute("DELETE FROM objects WHERE bucket=?", (name,))
                self._db.execute("DELETE FROM buckets WHERE name=?", (name,))
            else:
                files = []
                self._db.execute("INSERT OR REPLACE INTO buckets VALUES (?, ?, ?)", bucket_row)
        self._unlink(files)

    def sync_key(self, bucket: str, key: str) -> None:
        with self._key_locks[zlib.crc32(f"{bucket}/{key}".encode()) % LOCK_STRIPES]:
            current = self._current_key(bucket, key)
            if current is None:
                self._remove(bucket, key)
            else:
                self._store(bucket, key, current)

    def sync_bucket_contents(self, name: str) -> None:
        """Reconcile every key of a bucket (for requests whose keys are not in the URL, e.g. a POST form upload)."""
        live = self.backend().buckets.get(name)
        names = set(live.keys.keys()) if live is not None else set()
        with self._db_lock:
            names |= {row[0] for row in self._db.execute("SELECT key FROM objects WHERE bucket=?", (name,))}
        for key in sorted(names):
            self.sync_key(name, key)

    def _current_key(self, bucket: str, key: str) -> FakeKey | None:
        try:
            found = self.backend().get_object(bucket, key)
        except MissingBucket:
            return None
        return found if isinstance(found, FakeKey) else None

    def _store(self, bucket: str, key: str, fake: FakeKey) -> None:
        etag, last_modified = fake.etag.strip('"'), fake.last_modified.isoformat()
        with self._db_lock:
            row = self._db.execute(
                "SELECT file, etag, last_modified FROM objects WHERE bucket=? AND key=?", (bucket, key)
            ).fetchone()
        same_bytes = row is not None and (row[1], row[2]) == (etag, last_modified)
        file = inline = None
        if not same_bytes and fake.size <= INLINE_BYTES:
            inline = fake.value
        elif not same_bytes:
            file = self._write_file(fake.value)
        attributes = {
            "metadata": dict(fake.metadata),
            # moto keeps metadata in a LowercaseDict, or a plain dict after a copy that replaced it.
            "metadata_lowercased": isinstance(fake.metadata, LowercaseDict),
            "storage_class": fake.storage_class,
            "tags": self.backend().tagger.get_tag_dict_for_resource(fake.arn),
            **{name: getattr(fake, name, None) for name in KEY_ATTRIBUTES},
        }
        bucket_row = self._bucket_row(bucket)
        with self._db_lock, self._transaction():
            if bucket_row is not None:
                self._db.execute("INSERT OR IGNORE INTO buckets VALUES (?, ?, ?)", bucket_row)
            if same_bytes:  # a tagging or ACL change: the bytes (inline or in a file) stay where they are
                self._db.execute(
                    "UPDATE objects SET attributes=? WHERE bucket=? AND key=?",
                    (json.dumps(attributes, default=str), bucket, key),
                )
            else:
                self._db.execute(
                    "INSERT OR REPLACE INTO objects VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                    (bucket, key, file, inline, fake.size, etag, last_modified, json.dumps(attributes, default=str)),
                )
        if row is not None and row[0] and not same_bytes:
            self._unlink([row[0]])

    def _remove(self, bucket: str, key: str) -> None:
        with self._db_lock, self._transaction():
            row = self._db.execute("SELECT file FROM objects WHERE bucket=? AND key=?", (bucket, key)).fetchone()
            self._db.execute("DELETE FROM objects WHERE bucket=? AND key=?", (bucket, key))
        if row is not None and row[0]:
            self._unlink([row[0]])

    def _write_file(self, value: bytes) -> str:
        name = uuid.uuid4().hex
        temp = self.data / f"{TEMP_PREFIX}{name}"
        with open(temp, "wb") as out:
            out.write(value)
            out.flush()
            os.fsync(out.fileno())
        os.rename(temp, self.data / name)
        self._fsync_dir()
        return name

    def _fsync_dir(self) -> None:
        fd = os.open(self.data, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)

    def _unlink(self, files: Iterable[str]) -> None:
        for file in files:
            (self.data / file).unlink(missing_ok=True)

    def _transaction(self) -> _Transaction:
        return _Transaction(self._db)

    # -- reading: put the store back into moto ----------------------------------------------------------

    def restore(self) -> int:
        """Recreate every stored bucket and object in moto's backend; return the number of objects.

        Call once when the cloud starts, before it serves. Removes data files the index does not name
        (leftovers of a crash between a file's rename and its row's commit, or temporaries).
        """
        backend = self.backend()
        with self._db_lock:
            buckets = self._db.execute("SELECT name, region, created FROM buckets").fetchall()
            objects = self._db.execute(
                "SELECT bucket, key, file, inline, etag, last_modified, attributes FROM objects"
            ).fetchall()
        for name, region, created in buckets:
            bucket = backend.buckets.get(name) or backend.create_bucket(name, region)
            bucket.creation_date = datetime.datetime.fromisoformat(created)
        for bucket, key, file, inline, etag, last_modified, attributes in objects:
            value = inline if file is None else (self.data / file).read_bytes()
            self._restore_key(backend, bucket, key, value, etag, last_modified, attributes)
        self._remove_orphans({row[2] for row in objects})
        return len(objects)

    @staticmethod
    def _restore_key(
        backend: S3Backend, bucket: str, key: str, value: bytes, etag: str, last_modified: str, attributes: str
    ) -> None:
        saved = json.loads(attributes)
        fake = backend.put_object(
            bucket, key, value, storage=saved["storage_class"], etag=etag, disable_notification=True
        )
        fake.last_modified = datetime.datetime.fromisoformat(last_modified)
        fake._metadata = LowercaseDict(saved["metadata"]) if saved["metadata_lowercased"] else saved["metadata"]
        for name in KEY_ATTRIBUTES:
            setattr(fake, name, saved.get(name))
        if saved["tags"]:
            backend.tagger.tag_resource(fake.arn, backend.tagger.convert_dict_to_tags_input(saved["tags"]))

    def _remove_orphans(self, named: set[str]) -> None:
        for path in self.data.iterdir():
            if path.name not in named:
                path.unlink(missing_ok=True)

    def summary(self) -> tuple[int, int, int]:
        """(buckets, objects, bytes) the store holds: for ``status``."""
        with self._db_lock:
            buckets = self._db.execute("SELECT COUNT(*) FROM buckets").fetchone()[0]
            objects, size = self._db.execute("SELECT COUNT(*), COALESCE(SUM(size), 0) FROM objects").fetchone()
        return buckets, objects, size


class _Transaction:
    """``BEGIN IMMEDIATE`` ... ``COMMIT`` (rolled back on error): the index changes all at once or not at all."""

    def __init__(self, db: sqlite3.Connection) -> None:
        self.db = db

    def __enter__(self) -> None:
        self.db.execute("BEGIN IMMEDIATE")

    def __exit__(self, kind: Any, *_: Any) -> None:
        self.db.execute("COMMIT" if kind is None else "ROLLBACK")


# -- the middleware ------------------------------------------------------------------------------------


def request_path(environ: dict[str, Any]) -> str:
    """The decoded request path as moto reads it (from the raw URI, so ``%2F`` and UTF-8 keys survive)."""
    raw = environ.get("RAW_URI") or environ.get("REQUEST_URI")
    if raw:
        return unquote(urlsplit(raw).path)
    return environ.get("PATH_INFO", "").encode("latin-1").decode("utf-8", "replace")


def deleted_keys(body: bytes) -> tuple[str, ...]:
    """The keys a DeleteObjects (``POST /bucket?delete``) body names."""
    root = ElementTree.fromstring(body)
    return tuple(element.text or "" for element in root.iter() if element.tag.rpartition("}")[2] == "Key")


def change_of(method: str, environ: dict[str, Any], body: bytes) -> Change | None:
    """What a path-style S3 request may change, or None for reads and for uploads still in progress."""
    if method not in ("PUT", "POST", "DELETE"):
        return None
    bucket, _, key = request_path(environ).lstrip("/").partition("/")
    if not bucket:
        return None
    query = parse_qs(environ.get("QUERY_STRING", ""), keep_blank_values=True)
    if not key:
        if method == "POST" and "delete" in query:
            return Change(bucket, deleted_keys(body))
        return Change(bucket, whole_bucket=method == "POST")
    if "uploads" in query or "restore" in query or "select" in query:
        return None
    if "uploadId" in query and method != "POST":  # UploadPart, UploadPartCopy, AbortMultipartUpload
        return None
    return Change(bucket, (key,))


class DurableS3:
    """WSGI middleware in front of moto's S3: a successful change is on disk before its answer leaves.

    Reads pass straight through. For a PUT/POST/DELETE the body is buffered (DeleteObjects lists its
    keys there), moto's answer is produced in full, and on a 2xx the store syncs what changed before
    ``start_response`` is called. If syncing fails the client gets a 500 InternalError instead of a 200,
    so nothing unacknowledged is reported as stored.
    """

    def __init__(self, app: Callable[..., Iterable[bytes]], store: S3Store) -> None:
        self.app = app
        self.store = store

    def __call__(self, environ: dict[str, Any], start_response: Callable) -> Iterable[bytes]:
        method = environ.get("REQUEST_METHOD", "GET")
        if method not in ("PUT", "POST", "DELETE"):
            return self.app(environ, start_response)
        body = b""
        if method == "POST":
            body = _buffer_body(environ)
        answer: list[Any] = []

        def capture(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Callable:
            answer[:] = [status, headers, exc_info]
            return lambda data: None

        chunks = self.app(environ, capture)
        try:
            payload = list(chunks)
        finally:
            if hasattr(chunks, "close"):
                chunks.close()
        status, headers, exc_info = answer
        change = change_of(method, environ, body) if status.startswith("2") else None
        if change is not None:
            try:
                self.store.apply(change)
            except Exception:  # the write is not durable: do not acknowledge it
                log.exception("S3 change %s not stored durably; answering InternalError", change)
                return _internal_error(start_response)
        start_response(status, headers, exc_info)
        return payload


def _buffer_body(environ: dict[str, Any]) -> bytes:
    length = environ.get("CONTENT_LENGTH")
    stream = environ["wsgi.input"]
    # A chunked body the server de-chunks ends by itself; without a length or that, there is none.
    terminated = environ.get("wsgi.input_terminated")
    body = stream.read(int(length)) if length else stream.read() if terminated else b""
    environ["wsgi.input"] = io.BytesIO(body)
    environ["CONTENT_LENGTH"] = str(len(body))
    return body


def _internal_error(start_response: Callable) -> Iterator[bytes]:
    body = (
        b'<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>InternalError</Code>'
        b"<Message>We encountered an internal error. Please try again.</Message></Error>"
    )
    start_response(
        "500 Internal Server Error", [("Content-Type", "application/xml"), ("Content-Length", str(len(body)))]
    )
    return iter([body])
