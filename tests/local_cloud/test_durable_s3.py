"""Durable S3: what moto acknowledged comes back byte-identical after a restart, a crash or ``kill -9``; what the
disk lost is reported and never served as the original.

The tests serve ``DurableS3(moto)`` over real HTTP in this process and talk to it with boto3; a
restart is moto's S3 backend reset, a new ``S3Store`` opened on the same directory and ``restore()``.
"""

from __future__ import annotations

import hashlib
import os
import signal
import sqlite3
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError
from moto.moto_server.werkzeug_app import DomainDispatcherApplication, create_backend_app
from werkzeug.serving import make_server

from local_sagemaker.cloud.platform import store_damage
from local_sagemaker.cloud.platform.durable_s3 import TEMP_PREFIX, DurableS3, S3Store, moto_s3_backend
from local_sagemaker.cloud.platform.records import IncompatibleState

BUCKET = "durable-bucket"
ODD_KEY = "dir/ü file+%.txt"


def serve(app: Any) -> tuple[Any, str]:
    """Serve a WSGI app on a loopback port in a daemon thread: (server, endpoint URL)."""
    server = make_server("127.0.0.1", 0, app, threaded=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, f"http://127.0.0.1:{server.server_port}"


def s3_client(url: str) -> Any:
    return boto3.client(
        "s3",
        endpoint_url=url,
        region_name="us-east-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
        config=Config(retries={"total_max_attempts": 1}, s3={"addressing_style": "path"}),
    )


@pytest.fixture
def root(tmp_path: Path) -> Iterator[Path]:
    moto_s3_backend().reset()
    yield tmp_path / "s3"
    moto_s3_backend().reset()


@pytest.fixture
def cloud(root: Path) -> Iterator[tuple[S3Store, Any]]:
    """A store under ``root`` and a boto3 client of ``DurableS3(moto, store)``."""
    store = S3Store(root)
    server, url = serve(DurableS3(DomainDispatcherApplication(create_backend_app), store))
    yield store, s3_client(url)
    server.shutdown()
    store.close()


def restart(store: S3Store, root: Path) -> S3Store:
    """What a new cloud process does: moto starts empty, the store on disk is reopened and restored."""
    store.close()
    moto_s3_backend().reset()
    reopened = S3Store(root)
    reopened.restore()
    return reopened


def snapshot(client: Any, bucket: str) -> dict[str, Any]:
    """Everything a client can see of a bucket's objects: listing, HEAD answers, bytes and tags."""
    listing = client.list_objects_v2(Bucket=bucket).get("Contents", [])
    seen: dict[str, Any] = {"list": listing}
    for entry in listing:
        head = client.head_object(Bucket=bucket, Key=entry["Key"])
        head.pop("ResponseMetadata")
        body = client.get_object(Bucket=bucket, Key=entry["Key"])["Body"].read()
        tags = client.get_object_tagging(Bucket=bucket, Key=entry["Key"])["TagSet"]
        seen[entry["Key"]] = (head, hashlib.sha256(body).hexdigest(), tags)
    return seen


def test_objects_come_back_identical_after_a_restart(cloud: tuple[S3Store, Any], root: Path, tmp_path: Path) -> None:
    store, client = cloud
    client.create_bucket(Bucket=BUCKET)
    client.put_object(
        Bucket=BUCKET,
        Key="small.json",
        Body=b'{"a": 1}',
        ContentType="application/json",
        ContentEncoding="identity",
        ContentDisposition='attachment; filename="small.json"',
        CacheControl="max-age=60",
        Metadata={"owner": "team-a", "Mixed-Case": "Value"},
        Tagging="stage=raw",
    )
    client.put_object(Bucket=BUCKET, Key=ODD_KEY, Body=b"odd")
    big = tmp_path / "big.bin"
    big.write_bytes(os.urandom(10 * 1024 * 1024))
    client.upload_file(str(big), BUCKET, "big.bin")
    client.copy_object(
        Bucket=BUCKET,
        Key="copy.json",
        CopySource={"Bucket": BUCKET, "Key": "small.json"},
        MetadataDirective="REPLACE",
        ContentType="text/plain",
        Metadata={"copied": "yes"},
    )
    client.put_object_tagging(Bucket=BUCKET, Key="copy.json", Tagging={"TagSet": [{"Key": "k", "Value": "v"}]})
    for name in ("gone-1", "gone-2", "kept", "gone-3"):
        client.put_object(Bucket=BUCKET, Key=name, Body=name.encode())
    client.delete_object(Bucket=BUCKET, Key="gone-1")
    client.delete_objects(Bucket=BUCKET, Delete={"Objects": [{"Key": "gone-2"}, {"Key": "gone-3"}]})
    client.create_bucket(Bucket="short-lived")
    client.delete_bucket(Bucket="short-lived")
    before = snapshot(client, BUCKET)
    assert before["big.bin"][0]["ETag"].endswith('-2"'), "upload_file of 10 MB is a two-part upload"

    reopened = restart(store, root)

    after = snapshot(client, BUCKET)
    assert after == before
    assert sorted(after) == sorted(["list", "small.json", ODD_KEY, "big.bin", "copy.json", "kept"])
    assert client.get_object(Bucket=BUCKET, Key="big.bin")["Body"].read() == big.read_bytes()
    assert after["small.json"][0]["Metadata"] == {"owner": "team-a", "mixed-case": "Value"}
    assert [bucket["Name"] for bucket in client.list_buckets()["Buckets"]] == [BUCKET]
    assert reopened.summary() == (1, 5, 10 * 1024 * 1024 + 8 + 3 + 8 + 4)
    reopened.close()


def test_a_write_that_could_not_be_stored_is_not_acknowledged_nor_half_restored(
    cloud: tuple[S3Store, Any], root: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    store, client = cloud
    client.create_bucket(Bucket=BUCKET)
    version_1, version_2 = os.urandom(200 * 1024), os.urandom(200 * 1024)  # over the inline size: data files
    client.put_object(Bucket=BUCKET, Key="doc", Body=version_1)

    def crash() -> None:
        raise OSError("disk gone")

    monkeypatch.setattr(store, "_fsync_dir", crash)  # the new file is written and renamed, its row never commits
    with pytest.raises(ClientError) as refused:
        client.put_object(Bucket=BUCKET, Key="doc", Body=version_2)
    assert refused.value.response["Error"]["Code"] == "InternalError"
    (root / "data" / f"{TEMP_PREFIX}0123").write_bytes(b"half an obj")  # a crash in the middle of a write
    files_before = {path.name for path in (root / "data").iterdir()}

    reopened = restart(store, root)

    assert client.get_object(Bucket=BUCKET, Key="doc")["Body"].read() == version_1
    left = {path.name for path in (root / "data").iterdir()}
    assert len(left) == 1 and len(files_before) == 3, (files_before, left)
    reopened.close()


CHILD = """
import hashlib, sys, threading
from pathlib import Path
from moto.moto_server.werkzeug_app import DomainDispatcherApplication, create_backend_app
from werkzeug.serving import make_server
import boto3
from local_sagemaker.cloud.platform.durable_s3 import DurableS3, S3Store

app = DurableS3(DomainDispatcherApplication(create_backend_app), S3Store(Path(sys.argv[1])))
server = make_server("127.0.0.1", 0, app, threaded=True)
threading.Thread(target=server.serve_forever, daemon=True).start()
client = boto3.client("s3", endpoint_url=f"http://127.0.0.1:{server.server_port}", region_name="us-east-1",
                      aws_access_key_id="testing", aws_secret_access_key="testing")
client.create_bucket(Bucket=sys.argv[2])
for n in range(100000):
    body = hashlib.sha256(str(n).encode()).digest() * (1 + n % 5000)
    client.put_object(Bucket=sys.argv[2], Key=f"obj-{n}", Body=body)
    print(f"obj-{n}", hashlib.sha256(body).hexdigest(), flush=True)
"""


def test_every_acknowledged_object_survives_kill_9(root: Path) -> None:
    child = subprocess.Popen([sys.executable, "-c", CHILD, str(root), BUCKET], stdout=subprocess.PIPE, text=True)
    acknowledged: dict[str, str] = {}
    try:
        for line in child.stdout:  # type: ignore[union-attr]
            key, digest = line.split()
            acknowledged[key] = digest
            if len(acknowledged) == 60:
                break
    finally:
        os.kill(child.pid, signal.SIGKILL)
        child.wait()
    assert child.returncode == -signal.SIGKILL

    store = S3Store(root)
    store.restore()
    backend = moto_s3_backend()
    restored = {name: backend.get_object(BUCKET, name) for name in backend.get_bucket(BUCKET).keys}
    assert set(acknowledged) <= set(restored)
    for name, digest in acknowledged.items():
        assert hashlib.sha256(restored[name].value).hexdigest() == digest, name
    for name, fake in restored.items():  # an object written but not yet acknowledged is whole, or absent
        assert hashlib.md5(fake.value).hexdigest() == fake.etag.strip('"'), name
    store.close()


# damage on disk ------------------------------------------------------------------------------------


@pytest.fixture
def durable(root: Path) -> Iterator[tuple[DurableS3, Any]]:
    """``DurableS3`` over a store under ``root``, and a boto3 client of it; :func:`reopen` restarts its store."""
    app = DurableS3(DomainDispatcherApplication(create_backend_app), S3Store(root))
    server, url = serve(app)
    yield app, s3_client(url)
    server.shutdown()
    app.store.close()


def reopen(app: DurableS3, root: Path) -> None:
    app.store = restart(app.store, root)


def lost(call: Any) -> str:
    """The message of the 405 MethodNotAllowed S3 answers for an object whose data it lost."""
    with pytest.raises(ClientError) as refused:
        call()
    error = refused.value.response["Error"]
    assert refused.value.response["ResponseMetadata"]["HTTPStatusCode"] == 405
    assert error["Code"] in ("MethodNotAllowed", "405"), error  # a HEAD answer has no body, hence no code
    return error.get("Message", "")


def test_a_damaged_object_is_reported_and_never_served_while_every_other_one_is(
    durable: tuple[DurableS3, Any], root: Path, caplog: pytest.LogCaptureFixture
) -> None:
    app, client = durable
    client.create_bucket(Bucket=BUCKET)
    bodies = {name: os.urandom(300 * 1024) for name in ("truncated", "missing", "changed", "intact")}
    bodies["small-changed"], bodies["small"] = b"inline bytes", b"kept inline"
    for name, body in bodies.items():
        client.put_object(Bucket=BUCKET, Key=name, Body=body)
    files = {}
    with sqlite3.connect(root / "index.sqlite") as db:
        files = dict(db.execute("SELECT key, file FROM objects WHERE file IS NOT NULL"))
        db.execute("UPDATE objects SET inline=? WHERE key='small-changed'", (b"inline BYTES",))
    listing = client.list_objects_v2(Bucket=BUCKET)["Contents"]
    data = root / "data"
    with open(data / files["truncated"], "r+b") as out:
        out.truncate(1000)
    (data / files["missing"]).unlink()
    changed = bytearray(bodies["changed"])
    changed[5] ^= 1
    (data / files["changed"]).write_bytes(bytes(changed))

    with caplog.at_level("WARNING"):
        reopen(app, root)

    for name in ("intact", "small"):
        assert client.get_object(Bucket=BUCKET, Key=name)["Body"].read() == bodies[name]
    damage = {
        "truncated": "holds 1000 bytes, not the 307200 written",
        "missing": "is missing",
        "changed": "holds other bytes than those written",
        "small-changed": "its index row holds other bytes",
    }
    for name, what in damage.items():
        message = lost(lambda name=name: client.get_object(Bucket=BUCKET, Key=name))
        assert f"s3://{BUCKET}/{name}:" in message and what in message, message
        lost(lambda name=name: client.head_object(Bucket=BUCKET, Key=name))
        assert f"s3://{BUCKET}/{name}: " in caplog.text
    assert "4 of 6 objects are damaged" in caplog.text
    assert client.list_objects_v2(Bucket=BUCKET)["Contents"] == listing, "listed as written: size, ETag"
    copy = {"Bucket": BUCKET, "Key": "copy", "CopySource": {"Bucket": BUCKET, "Key": "changed"}}
    assert "s3://durable-bucket/changed" in lost(lambda: client.copy_object(**copy))
    tagging = {"Bucket": BUCKET, "Key": "changed", "Tagging": {"TagSet": [{"Key": "k", "Value": "v"}]}}
    lost(lambda: client.put_object_tagging(**tagging))
    assert sorted(key for _, key, _ in store_damage.read(root)) == sorted(damage)

    client.put_object(Bucket=BUCKET, Key="truncated", Body=b"a new object")  # what replaces or deletes it works
    client.delete_object(Bucket=BUCKET, Key="missing")
    assert client.get_object(Bucket=BUCKET, Key="truncated")["Body"].read() == b"a new object"
    assert sorted(key for _, key, _ in store_damage.read(root)) == ["changed", "small-changed"]
    reopen(app, root)
    assert client.get_object(Bucket=BUCKET, Key="truncated")["Body"].read() == b"a new object"
    lost(lambda: client.get_object(Bucket=BUCKET, Key="changed"))


def test_a_store_of_schema_1_gains_checksums_and_then_knows_its_damage(
    durable: tuple[DurableS3, Any], root: Path
) -> None:
    app, client = durable
    client.create_bucket(Bucket=BUCKET)
    client.put_object(Bucket=BUCKET, Key="old", Body=b"written before checksums")
    with sqlite3.connect(root / "index.sqlite") as db:  # what schema 1 wrote: no digest column
        db.execute("ALTER TABLE objects DROP COLUMN sha256")
        db.execute("PRAGMA user_version=1")
    reopen(app, root)
    assert client.get_object(Bucket=BUCKET, Key="old")["Body"].read() == b"written before checksums"
    with sqlite3.connect(root / "index.sqlite") as db:
        db.execute("UPDATE objects SET inline=? WHERE key='old'", (b"written before CHECKSUMS",))
    reopen(app, root)
    assert "holds other bytes" in lost(lambda: client.get_object(Bucket=BUCKET, Key="old"))


@pytest.mark.parametrize("damage", [b"garbage header" * 8, b"SQLite format 3\x00" + b"\xff" * 84])
def test_an_index_sqlite_cannot_read_is_refused_with_how_to_reset(root: Path, damage: bytes) -> None:
    S3Store(root).close()
    index = root / "index.sqlite"
    with open(index, "r+b") as out:
        out.write(damage)
    before = index.read_bytes()
    with pytest.raises(IncompatibleState, match=r"cannot read its S3 index .*python -m local_sagemaker reset"):
        S3Store(root).restore()
    assert index.read_bytes() == before, "nothing changed"
