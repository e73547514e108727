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

Damage: each object's size and SHA-256 are recorded when it is written and checked when it is restored. An
object whose bytes are missing, truncated or changed on disk is never served as the original: it stays
listed (its recorded size and ETag), and every request made to it answers what S3 answers for an object it
lost (405 ``MethodNotAllowed``, as for a lost Reduced Redundancy object), naming the damage, until it is
overwritten or deleted. The cloud starts with every undamaged object; the damage is logged at start and
kept in ``damaged.json`` for ``python -m local_sagemaker status``. An index SQLite cannot read is refused
with the same advice as the records (``reset``), before anything is changed.
"""

from __future__ import annotations

import datetime
import hashlib
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
from xml.sax.saxutils import escape

from moto.s3.exceptions import MissingBucket
from moto.s3.models import FakeKey, S3Backend, s3_backends
from moto.utilities.utils import LowercaseDict

from local_sagemaker.cloud.platform import store_damage
from local_sagemaker.cloud.platform.records import IncompatibleState
from local_sagemaker.common.account import ACCOUNT_ID

# 2: each object's SHA-256 (``sha256``); a store of schema 1 gains the column, its objects' digests at restore.
SCHEMA_VERSION = 2
SCHEMA = """
CREATE TABLE IF NOT EXISTS buckets (
    name TEXT PRIMARY KEY, region TEXT NOT NULL, created TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS objects (
    bucket TEXT NOT NULL, key TEXT NOT NULL, file TEXT, inline BLOB, size INTEGER NOT NULL,
    etag TEXT NOT NULL, last_modified TEXT NOT NULL, attributes TEXT NOT NULL, sha256 TEXT,
    PRIMARY KEY (bucket, key)
);
"""
OBJECT_COLUMNS = "bucket, key, file, inline, size, etag, last_modified, attributes, sha256"
# How many damaged objects cloud.log names one by one at start (the rest are counted; status names them all).
LOGGED_DAMAGE = 20
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
# The query names of the requests a damaged object still takes, for they replace it: PutObject and CopyObject
# to it, UploadPart (Copy), CreateMultipartUpload, CompleteMultipartUpload.
REPLACING = (set(), {"uploadId", "partNumber"}, {"uploads"}, {"uploadId"})
# Query parameters that are not an S3 subresource: botocore's operation hint, SigV2 presigned URLs' signature.
NOT_SUBRESOURCES = {"x-id", "AWSAccessKeyId", "Signature", "Expires"}
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
        self._damaged: dict[tuple[str, str], str] = {}  # (bucket, key) -> what is wrong with its bytes on disk
        self._damage_lock = threading.Lock()
        self._db = sqlite3.connect(self.root / "index.sqlite", check_same_thread=False, isolation_level=None)
        try:
            self._open()
        except sqlite3.DatabaseError as error:
            self._db.close()
            raise IncompatibleState(_refusal(self.root / "index.sqlite", f"it is not an S3 index ({error})")) from error
        except IncompatibleState:
            self._db.close()
            raise

    def _open(self) -> None:
        """Check the index's schema before anything changes the file; bring a schema 1 index to this one."""
        version = self._db.execute("PRAGMA user_version").fetchone()[0]
        if version not in (0, 1, SCHEMA_VERSION):
            why = f"it was written with schema {version}, this version reads {SCHEMA_VERSION}"
            raise IncompatibleState(_refusal(self.root / "index.sqlite", why))
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=FULL")
        self._db.executescript(SCHEMA)
        if version == 1:
            self._db.execute("ALTER TABLE objects ADD COLUMN sha256 TEXT")
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
        if bucket_row is None:
            self._repaired([place for place in list(self._damaged) if place[0] == name])

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
        file = inline = digest = None
        if not same_bytes:
            value = fake.value
            digest = hashlib.sha256(value).hexdigest()
            if fake.size <= INLINE_BYTES:
                inline = value
            else:
                file = self._write_file(value)
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
                    f"INSERT OR REPLACE INTO objects ({OBJECT_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    (bucket, key, file, inline, fake.size, etag, last_modified, json.dumps(attributes, default=str),
                     digest),
                )  # fmt: skip
        if row is not None and row[0] and not same_bytes:
            self._unlink([row[0]])
        if not same_bytes:  # new bytes replace what was lost
            self._repaired([(bucket, key)])

    def _remove(self, bucket: str, key: str) -> None:
        with self._db_lock, self._transaction():
            row = self._db.execute("SELECT file FROM objects WHERE bucket=? AND key=?", (bucket, key)).fetchone()
            self._db.execute("DELETE FROM objects WHERE bucket=? AND key=?", (bucket, key))
        if row is not None and row[0]:
            self._unlink([row[0]])
        self._repaired([(bucket, key)])

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

        Call once when the cloud starts, before it serves. An object whose bytes are missing or differ from
        what was recorded comes back as a placeholder that answers 405 (see the module's doc), and is logged.
        Removes data files the index does not name (leftovers of a crash between a file's rename and its
        row's commit, or temporaries).
        """
        backend = self.backend()
        try:
            with self._db_lock:
                buckets = self._db.execute("SELECT name, region, created FROM buckets").fetchall()
                objects = self._db.execute(f"SELECT {OBJECT_COLUMNS} FROM objects").fetchall()
        except sqlite3.DatabaseError as error:  # a page of the index damaged past its header
            raise IncompatibleState(_refusal(self.root / "index.sqlite", f"it is damaged ({error})")) from error
        for name, region, created in buckets:
            bucket = backend.buckets.get(name) or backend.create_bucket(name, region)
            bucket.creation_date = datetime.datetime.fromisoformat(created)
        for bucket, key, file, inline, size, etag, last_modified, attributes, digest in objects:
            value, damage = self._verified(bucket, key, file, inline, size, digest)
            fake = self._restore_key(backend, bucket, key, value, etag, last_modified, attributes)
            if damage:
                fake.contentsize = size  # listed as it was; never served (DurableS3 answers 405)
                self._damaged[(bucket, key)] = damage
        self._remove_orphans({row[2] for row in objects})
        self._report_damage(len(objects))
        return len(objects)

    def _verified(
        self, bucket: str, key: str, file: str | None, inline: bytes | None, size: int, digest: str | None
    ) -> tuple[bytes, str]:
        """The object's bytes and "", or b"" and what is wrong with them (missing, truncated, changed)."""
        if file is None:
            value = inline or b""
        else:
            try:
                value = (self.data / file).read_bytes()
            except FileNotFoundError:
                return b"", f"its data file {self.data / file} is missing"
            except OSError as error:
                return b"", f"its data file {self.data / file} cannot be read ({error.strerror})"
        where = "its index row" if file is None else f"its data file {self.data / file}"
        if len(value) != size:
            return b"", f"{where} holds {len(value)} bytes, not the {size} written"
        actual = hashlib.sha256(value).hexdigest()
        if digest is None:  # written by schema 1, which recorded the size alone: record the digest now
            with self._db_lock:
                self._db.execute("UPDATE objects SET sha256=? WHERE bucket=? AND key=?", (actual, bucket, key))
        elif actual != digest:
            return b"", f"{where} holds other bytes than those written (SHA-256 {actual[:12]}..., not {digest[:12]}...)"
        return value, ""

    def _report_damage(self, objects: int) -> None:
        """cloud.log names the damaged objects at start; ``damaged.json`` keeps them for ``status``."""
        store_damage.write(self.root, self._damaged)
        if not self._damaged:
            return
        log.warning(
            "S3 store %s: %d of %d objects are damaged on disk; each answers 405 MethodNotAllowed until it is "
            "overwritten or deleted (every other object is served):", self.root, len(self._damaged), objects,
        )  # fmt: skip
        for (bucket, key), damage in list(self._damaged.items())[:LOGGED_DAMAGE]:
            log.warning("  s3://%s/%s: %s", bucket, key, damage)
        if len(self._damaged) > LOGGED_DAMAGE:
            more = len(self._damaged) - LOGGED_DAMAGE
            log.warning("  ... and %d more (python -m local_sagemaker status names them all)", more)

    def damage(self, bucket: str, key: str) -> str:
        """What is wrong with the object's bytes on disk, or "" if nothing is known to be."""
        return self._damaged.get((bucket, key), "")

    def _repaired(self, places: list[tuple[str, str]]) -> None:
        """Objects overwritten or deleted: whatever was lost of them no longer matters."""
        with self._damage_lock:
            removed = [self._damaged.pop(place, None) for place in places]
            if any(damage is not None for damage in removed):
                store_damage.write(self.root, self._damaged)

    @staticmethod
    def _restore_key(
        backend: S3Backend, bucket: str, key: str, value: bytes, etag: str, last_modified: str, attributes: str
    ) -> FakeKey:
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
        return fake

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


def _refusal(path: Path, why: str) -> str:
    """The records' refusal (platform/records.py), for the S3 index: what is wrong, and how to start over."""
    return (
        f"The local cloud cannot read its S3 index {path}: {why}. Nothing was changed. To start over with an "
        "empty state (this deletes every S3 object, job, model and endpoint it holds): python -m local_sagemaker reset"
    )


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
        lost = self._lost_object(method, environ)
        if lost is not None:
            bucket, key, damage = lost
            message = (
                "The specified method is not allowed against this resource: the local cloud lost this object's data "
                f"(s3://{bucket}/{key}: {damage}). Overwrite the object (PutObject) or delete it."
            )
            return _error(start_response, "405 Method Not Allowed", "MethodNotAllowed", message,
                          Method=method, ResourceType="OBJECT", Resource=f"/{bucket}/{key}")  # fmt: skip
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
                return _error(start_response, "500 Internal Server Error", "InternalError",
                              "We encountered an internal error. Please try again.")  # fmt: skip
        start_response(status, headers, exc_info)
        return payload

    def _lost_object(self, method: str, environ: dict[str, Any]) -> tuple[str, str, str] | None:
        """(bucket, key, damage) of a damaged object the request reads or changes (other than replacing or
        deleting it, which it may), directly or as a copy's source; None for any other request."""
        bucket, _, key = request_path(environ).lstrip("/").partition("/")
        query = {name for name in parse_qs(environ.get("QUERY_STRING", ""), keep_blank_values=True)}
        query -= {name for name in query if name.lower().startswith("x-amz-") or name in NOT_SUBRESOURCES}
        damage = self.store.damage(bucket, key) if key else ""
        replacing = (method == "DELETE" and query <= {"versionId"}) or (
            method in ("PUT", "POST") and query in REPLACING
        )
        if damage and not replacing:
            return bucket, key, damage
        source = environ.get("HTTP_X_AMZ_COPY_SOURCE")
        if source:
            source_bucket, _, source_key = unquote(source.partition("?")[0]).lstrip("/").partition("/")
            if damage := self.store.damage(source_bucket, source_key):
                return source_bucket, source_key, damage
        return None


def _buffer_body(environ: dict[str, Any]) -> bytes:
    length = environ.get("CONTENT_LENGTH")
    stream = environ["wsgi.input"]
    # A chunked body the server de-chunks ends by itself; without a length or that, there is none.
    terminated = environ.get("wsgi.input_terminated")
    body = stream.read(int(length)) if length else stream.read() if terminated else b""
    environ["wsgi.input"] = io.BytesIO(body)
    environ["CONTENT_LENGTH"] = str(len(body))
    return body


def _error(start_response: Callable, status: str, code: str, message: str, **details: str) -> Iterator[bytes]:
    """S3's XML error: Code, Message and the operation's details (Method, Resource, ...)."""
    fields = {"Code": code, "Message": message, **details}
    body = (
        '<?xml version="1.0" encoding="UTF-8"?>\n<Error>'
        + "".join(f"<{name}>{escape(value)}</{name}>" for name, value in fields.items())
        + "</Error>"
    )
    data = body.encode()
    start_response(status, [("Content-Type", "application/xml"), ("Content-Length", str(len(data)))])
    return iter([data])
