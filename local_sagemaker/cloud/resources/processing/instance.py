"""The /opt/ml tree of one processing instance: inputs downloaded into it, config written, outputs uploaded from it."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path
from typing import Any

from local_sagemaker.cloud.platform.s3 import list_keys, split_s3_uri

CONTAINER_ROOT = "/opt/ml"
# ExitMessage shows the first 1 KB of the file; a few more bytes so that the last character is whole.
MESSAGE_READ = 4096


class InputError(Exception):
    """An input or output SageMaker could not transfer; the message is the FailureReason AWS gives."""


class Instance:
    """``root/opt_ml`` is what the instance sees as /opt/ml; ``root/python`` its own Python (what it installs)."""

    def __init__(self, root: Path, host: str) -> None:
        if root.exists():
            shutil.rmtree(root)
        self.root, self.host = root, host
        self.opt_ml = root / "opt_ml"
        for folder in ("processing", "config", "output"):
            (self.opt_ml / folder).mkdir(parents=True)

    @property
    def python_layer(self) -> Path:
        return self.root / "python"

    def local(self, container_path: str) -> Path:
        """Where the container's ``container_path`` (validated to lie under /opt/ml/processing/) is in this tree."""
        relative = container_path[len(CONTAINER_ROOT) :].strip("/")
        path = (self.opt_ml / relative).resolve()
        if not path.is_relative_to(self.opt_ml / "processing"):
            raise InputError(f"ClientError: LocalPath {container_path} is not inside /opt/ml/processing.")
        return path

    def download_inputs(self, s3: Any, inputs: list[dict[str, Any]], index: int, count: int, region: str) -> None:
        """Copy each S3 input into its LocalPath; ``ShardedByS3Key`` gives this instance every ``count``-th object."""
        for source in inputs:
            spec = source["S3Input"]
            uri, target = spec["S3Uri"], self.local(spec["LocalPath"])
            target.mkdir(parents=True, exist_ok=True)
            bucket, prefix = split_s3_uri(uri)
            keys = sorted(list_keys(s3, bucket, prefix))
            if not keys:
                raise InputError(
                    f'ClientError: No S3 objects found under S3 URL "{uri}" given in input data source. Please '
                    f"ensure that the bucket exists in the selected region ({region}), and that objects exist "
                    "under that S3 prefix."
                )
            if spec.get("S3DataDistributionType") == "ShardedByS3Key":
                keys = keys[index::count]
            for key in keys:
                self._download(s3, bucket, key, _relative(key, prefix), target, uri)

    def _download(self, s3: Any, bucket: str, key: str, relative: str, target: Path, uri: str) -> None:
        destination = (target / relative).resolve()
        if not destination.is_relative_to(target) or destination == target:
            raise InputError(f'ClientError: S3 object key "{key}" under "{uri}" does not name a file inside its input.')
        try:
            destination.parent.mkdir(parents=True, exist_ok=True)
            s3.download_file(bucket, key, str(destination))
        except OSError as error:  # a key that is both an object and a folder ("a" and "a/b")
            why = f"cannot be saved as a file: {error.strerror}"
            raise InputError(f'ClientError: S3 object key "{key}" {why}.') from error

    def write_config(self, job: dict[str, Any], hosts: list[str]) -> None:
        """processingjobconfig.json (the job as created) and resourceconfig.json (this host among the hosts)."""
        config = self.opt_ml / "config"
        (config / "processingjobconfig.json").write_text(json.dumps(job))
        (config / "resourceconfig.json").write_text(json.dumps({"current_host": self.host, "hosts": hosts}))

    def make_output_folders(self, outputs: list[dict[str, Any]]) -> None:
        """Each output's LocalPath exists when the container starts, as on SageMaker (scripts write into it)."""
        for output in outputs:
            self.local(output["S3Output"]["LocalPath"]).mkdir(parents=True, exist_ok=True)

    def upload_outputs(self, s3: Any, outputs: list[dict[str, Any]]) -> None:
        """Every file under each output's LocalPath, to the same relative key under its S3Uri."""
        for output in outputs:
            spec = output["S3Output"]
            folder = self.local(spec["LocalPath"])
            bucket, prefix = split_s3_uri(spec["S3Uri"].rstrip("/"))
            for path in sorted(folder.rglob("*")) if folder.is_dir() else []:
                if path.is_file() and not path.is_symlink():
                    key = "/".join(part for part in (prefix, path.relative_to(folder).as_posix()) if part)
                    s3.upload_file(str(path), bucket, key)

    def exit_message(self) -> bytes:
        """The start of /opt/ml/output/message, which the container may write (empty if it did not)."""
        message = self.opt_ml / "output" / "message"
        if not message.is_file():
            return b""
        with open(message, "rb") as handle:
            return handle.read(MESSAGE_READ)

    def install_commands(self, python: Path) -> Path:
        """The instance's ``bin``: ``python``, ``python3`` and ``pip`` that install into the instance's own layer,
        never into the shared framework environment."""
        bin_dir = python.parent
        (bin_dir / "python3").unlink(missing_ok=True)
        (bin_dir / "python3").symlink_to("python")
        for name in ("pip", "pip3"):
            script = bin_dir / name
            script.write_text(f'#!/bin/sh\nexec "{python}" -m pip "$@"\n')
            os.chmod(script, 0o755)
        return bin_dir


def _relative(key: str, prefix: str) -> str:
    """The object's path under the input's LocalPath: a key equal to the prefix keeps its file name; others their
    path after the prefix's folder (``s3://b/data/tr`` puts ``data/train.csv`` at ``train.csv``)."""
    if key == prefix:
        return Path(key).name
    if prefix.endswith("/") or key[len(prefix)] == "/":
        return key[len(prefix) :].lstrip("/")
    folder = prefix.rsplit("/", 1)[0] if "/" in prefix else ""
    return key[len(folder) :].lstrip("/")
