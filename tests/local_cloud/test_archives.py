"""Archives stay in their job: whatever a code or model archive holds, nothing is written outside its folder.

The rule (``local_sagemaker/cloud/platform/archives.py``) is tried on each hostile member alone, then through
the local cloud: a training job whose ``sourcedir.tar.gz`` holds one fails with a reason naming it, before
the training toolkit (which unpacks with no filter) could see it, and its file lands nowhere.
"""

from __future__ import annotations

import io
import json
import os
import tarfile
import uuid
from pathlib import Path

import pytest

from local_sagemaker.cloud.platform.archives import ArchiveError, unpack
from testing.training_jobs import BUCKET, channel, log_lines, submit, unique, wait

Member = tuple[str, str, str]  # (kind, name, link target or content)


def archive(*members: Member) -> bytes:
    """A tar.gz of ``members``: ("file", name, text), ("dir", name, ""), ("symlink"|"hardlink", name, target),
    ("chardev"|"fifo", name, "")."""
    kinds = {"file": tarfile.REGTYPE, "dir": tarfile.DIRTYPE, "symlink": tarfile.SYMTYPE,
             "hardlink": tarfile.LNKTYPE, "chardev": tarfile.CHRTYPE, "fifo": tarfile.FIFOTYPE}  # fmt: skip
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        for kind, name, extra in members:
            info = tarfile.TarInfo(name)
            info.type = kinds[kind]
            info.mode = 0o755 if kind == "dir" else 0o644
            data = extra.encode() if kind == "file" else b""
            if kind in ("symlink", "hardlink"):
                info.linkname = extra
            if kind == "chardev":
                info.devmajor, info.devminor = 1, 3  # /dev/null's numbers
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


def hostile(marker: str) -> dict[str, tuple[list[Member], str]]:
    """Archives that would write ``marker`` outside the folder (or make a device), and the member each names."""
    climb = "../" * 12
    return {
        "dot-dot": ([("file", "train.py", "print(1)"), ("file", f"{climb}tmp/{marker}", "x")], f"{climb}tmp/{marker}"),
        "absolute": ([("file", f"/tmp/{marker}", "x")], f"/tmp/{marker}"),
        "symlink-out": ([("symlink", "lnk", "/tmp"), ("file", f"lnk/{marker}", "x")], "lnk"),
        "symlink-climbing": ([("symlink", "lnk", "../../../../.."), ("file", f"lnk/tmp/{marker}", "x")], "lnk"),
        # Each link alone stays inside; through the first, the second's '..' leaves the folder.
        "symlink-chain": (
            [("symlink", "here", "."), ("symlink", "out", "here/.."), ("file", f"out/{marker}", "x")],
            "out",
        ),  # fmt: skip
        "behind-a-link": (
            [("dir", "sub", ""), ("symlink", "lnk", "sub"), ("file", f"lnk/{marker}", "x")],
            f"lnk/{marker}",
        ),  # fmt: skip
        "hardlink-out": ([("hardlink", marker, "/etc/hostname")], marker),
        "hardlink-climbing": ([("hardlink", marker, f"{climb}etc/hostname")], marker),
        "device": ([("chardev", marker, "")], marker),
        "fifo": ([("fifo", marker, "")], marker),
    }


CASES = list(hostile("m"))


def written_anywhere(marker: str, *roots: Path) -> list[Path]:
    """Where ``marker`` was written, under /tmp (where the hostile names point), ``roots`` and /; other tests on the
    machine create and remove folders meanwhile, so a folder that goes while it is walked is passed over."""
    found = [Path("/", marker)] if os.path.lexists(Path("/", marker)) else []
    for root in (Path("/tmp"), *roots):
        for folder, folders, files in os.walk(root, onerror=lambda error: None):
            found += [Path(folder, name) for name in (*folders, *files) if name == marker]
    return found


@pytest.mark.parametrize("case", CASES)
def test_the_rule_refuses_each_hostile_member_naming_it_and_writes_nothing(tmp_path, case) -> None:
    marker = f"escaped-{uuid.uuid4().hex}"
    members, named = hostile(marker)[case]
    path = tmp_path / "a.tar.gz"
    path.write_bytes(archive(*members))
    folder = tmp_path / "deep" / "er" / "job" / "code"
    with pytest.raises(ArchiveError) as refused:
        unpack(path, folder)
    assert repr(named) in str(refused.value)
    assert not folder.exists(), "checked whole before a byte is written"
    assert written_anywhere(marker, tmp_path) == []


def test_the_rule_unpacks_an_ordinary_archive_with_links_inside_it(tmp_path) -> None:
    path = tmp_path / "a.tar.gz"
    path.write_bytes(
        archive(
            ("file", "./train.py", "print(1)"),
            ("dir", "lib", ""),
            ("file", "lib/util.py", "X = 1"),
            ("symlink", "util.py", "lib/util.py"),
            ("symlink", "lib/again.py", "../train.py"),
            ("hardlink", "copy.py", "train.py"),
        )
    )
    unpack(path, tmp_path / "code")
    code = tmp_path / "code"
    assert (code / "util.py").read_text() == "X = 1"
    assert (code / "lib" / "again.py").read_text() == "print(1)"
    assert (code / "copy.py").read_text() == "print(1)"


def test_a_file_that_is_not_an_archive_is_refused(tmp_path) -> None:
    path = tmp_path / "a.tar.gz"
    path.write_bytes(b"not a tar archive at all")
    with pytest.raises(ArchiveError, match="not a readable tar archive"):
        unpack(path, tmp_path / "code")


# through the local cloud ----------------------------------------------------------------------


def code_archive(s3, body: bytes) -> str:
    key = f"{unique('hostile')}/sourcedir.tar.gz"
    s3.put_object(Bucket=BUCKET, Key=key, Body=body)
    return f"s3://{BUCKET}/{key}"


@pytest.mark.parametrize("case", ["dot-dot", "absolute", "symlink-out", "symlink-chain", "hardlink-out", "device"])
def test_a_code_archive_with_a_hostile_member_fails_the_job_naming_it(sm, s3, cloud, case) -> None:
    marker = f"escaped-{uuid.uuid4().hex}"
    members, named = hostile(marker)[case]
    source = code_archive(s3, archive(*members))
    job = wait(sm, submit(sm, s3, "print('never runs')", hyperparameters={"sagemaker_submit_directory": source}))
    assert job["TrainingJobStatus"] == "Failed"
    reason = job["FailureReason"]
    assert reason.startswith(f"ClientError: The code archive {source} (sagemaker_submit_directory) cannot be unpacked")
    assert repr(named) in reason
    assert written_anywhere(marker, cloud.state_dir.parent) == []


def test_a_network_isolated_jobs_code_channel_is_held_to_the_same_rule(sm, s3, cloud) -> None:
    """With EnableNetworkIsolation the SDK sends the code as the ``code`` channel, named by its container path."""
    marker = f"escaped-{uuid.uuid4().hex}"
    members, named = hostile(marker)["symlink-out"]
    source = code_archive(s3, archive(*members))
    name = submit(
        sm, s3, "print('never runs')",
        hyperparameters={"sagemaker_submit_directory": "/opt/ml/input/data/code/sourcedir.tar.gz"},
        channels=[channel("code", source)],
    )  # fmt: skip
    job = wait(sm, name)
    assert job["TrainingJobStatus"] == "Failed"
    assert "/opt/ml/input/data/code/sourcedir.tar.gz" in job["FailureReason"]
    assert repr(named) in job["FailureReason"]
    assert written_anywhere(marker, cloud.state_dir.parent) == []


def test_code_unpacked_by_the_cloud_runs_and_the_toolkit_sees_the_archives_uri(sm, s3, logs) -> None:
    """The toolkit finds ``code/`` filled and unpacks nothing; the script still sees SM_MODULE_DIR as on AWS."""
    script = "import json, os\nprint('module dir', json.dumps(os.environ['SM_MODULE_DIR']))\n"
    source = code_archive(s3, archive(("file", "train.py", script), ("symlink", "alias.py", "train.py")))
    job = wait(sm, submit(sm, s3, "unused", hyperparameters={"sagemaker_submit_directory": source}))
    assert job["TrainingJobStatus"] == "Completed", job.get("FailureReason")
    assert f"module dir {json.dumps(source)}" in "\n".join(log_lines(logs, job["TrainingJobName"]))


def test_an_empty_code_archive_fails_in_the_toolkit_as_on_aws_without_a_second_download(sm, s3) -> None:
    """The toolkit would download and unpack the archive again into an empty ``code/``: it is told the code is there."""
    source = code_archive(s3, archive())
    job = wait(sm, submit(sm, s3, "unused", hyperparameters={"sagemaker_submit_directory": source}))
    assert job["TrainingJobStatus"] == "Failed"
    assert job["FailureReason"].startswith("AlgorithmError: "), job["FailureReason"]
    assert "train.py" in job["FailureReason"]
