"""The /opt/ml tree of one training job, laid out where the SageMaker training toolkit expects it."""

from __future__ import annotations

import json
import shutil
import tarfile
from pathlib import Path
from typing import Any

from botocore.exceptions import ClientError

from local_sagemaker.cloud.platform.archives import ArchiveError, unpack
from local_sagemaker.cloud.platform.s3 import list_keys, split_s3_uri

HOST = "algo-1"
# Where the platform puts this tree in a container; the local cloud relocates it (SAGEMAKER_BASE_DIR).
CONTAINER_ROOT = "/opt/ml"
# The hyperparameter naming the job's code: the SDK's sourcedir.tar.gz, in S3 or (network isolation) a channel.
SUBMIT_DIRECTORY = "sagemaker_submit_directory"


class ChannelError(Exception):
    """An input (a channel, the code) SageMaker could not put in place; the message is the job's FailureReason."""


class Workspace:
    """A fresh base dir per job: the toolkit only copies code into an empty ``code/``."""

    def __init__(self, root: Path) -> None:
        if root.exists():
            shutil.rmtree(root)
        self.root = root
        self._code_unpacked_empty = False
        for folder in ("input/config", "input/data", "model", "output/data", "code"):
            (root / folder).mkdir(parents=True)

    @property
    def model_dir(self) -> Path:
        return self.root / "model"

    @property
    def failure_file(self) -> Path:
        return self.root / "output" / "failure"

    def write_config(self, request: dict[str, Any]) -> None:
        """hyperparameters.json, resourceconfig.json and inputdataconfig.json, as the platform writes them."""
        config = self.root / "input" / "config"
        instance_type = request.get("ResourceConfig", {}).get("InstanceType", "ml.m5.large")
        channels = {
            channel["ChannelName"]: {
                "TrainingInputMode": channel.get("InputMode", "File"),
                "S3DistributionType": channel["DataSource"]["S3DataSource"].get(
                    "S3DataDistributionType", "FullyReplicated"
                ),
                "RecordWrapperType": channel.get("RecordWrapperType", "None"),
                **({"ContentType": channel["ContentType"]} if "ContentType" in channel else {}),
            }
            for channel in request.get("InputDataConfig", [])
        }
        resources = {
            "current_host": HOST,
            "current_instance_type": instance_type,
            "current_group_name": "homogeneousCluster",
            "hosts": [HOST],
            "instance_groups": [
                {"instance_group_name": "homogeneousCluster", "instance_type": instance_type, "hosts": [HOST]}
            ],
            "network_interface_name": "eth0",
        }
        hyperparameters = {key: self._relocated(value) for key, value in request.get("HyperParameters", {}).items()}
        if self._code_unpacked_empty:  # the toolkit fetches the code again into an empty code/: it may not
            hyperparameters[SUBMIT_DIRECTORY] = json.dumps(str(self.root / "code"))
        files = {
            "hyperparameters.json": hyperparameters,
            "resourceconfig.json": resources,
            "inputdataconfig.json": channels,
        }
        for name, content in files.items():
            (config / name).write_text(json.dumps(content))

    def _relocated(self, value: Any) -> Any:
        """A hyperparameter naming a path under /opt/ml names the same file in this relocated tree.

        The toolkit takes such paths as given, ``SAGEMAKER_BASE_DIR`` notwithstanding: with
        ``EnableNetworkIsolation`` the SDK's ``sagemaker_submit_directory`` is
        ``"/opt/ml/input/data/code/sourcedir.tar.gz"`` (the ``code`` channel), which the toolkit extracts
        into ``code/`` instead of downloading from S3. Values are JSON-encoded by the SDK, plain text by others.
        """
        if not isinstance(value, str):
            return value
        try:
            decoded = json.loads(value)
        except ValueError:
            return self._in_root(value) or value
        moved = self._in_root(decoded) if isinstance(decoded, str) else None
        return json.dumps(moved) if moved else value

    def _in_root(self, path: str) -> str | None:
        """``path`` if under /opt/ml, as the same path under this tree; None for any other."""
        if path == CONTAINER_ROOT or path.startswith(f"{CONTAINER_ROOT}/"):
            return f"{self.root}{path[len(CONTAINER_ROOT) :]}"
        return None

    def download_channels(self, s3: Any, channels: list[dict[str, Any]], role_arn: str, region: str) -> None:
        """Copy each channel's S3 prefix into ``input/data/<channel>``."""
        for channel in channels:
            uri = channel["DataSource"]["S3DataSource"]["S3Uri"]
            bucket, prefix = split_s3_uri(uri)
            keys = list_keys(s3, bucket, prefix)
            if not keys:
                raise ChannelError(
                    f'ClientError: No S3 objects found under S3 URL "{uri}" given in input data source. Please '
                    f"ensure that the bucket exists in the selected region ({region}), that objects exist under "
                    f'that S3 prefix, and that the role "{role_arn}" has "s3:ListBucket" permissions on bucket '
                    f'"{bucket}".'
                )
            name = channel["ChannelName"]
            data = (self.root / "input" / "data").resolve()
            target = _inside(data, name, f'Channel name "{name}"', "/opt/ml/input/data")
            for key in keys:
                relative = Path(key).name if key == prefix else key[len(prefix) :].lstrip("/")
                source = f'S3 object key "{key}" under S3 URL "{uri}"'
                destination = _inside(target, relative, source, f"/opt/ml/input/data/{name}")
                try:
                    destination.parent.mkdir(parents=True, exist_ok=True)
                    s3.download_file(bucket, key, str(destination))
                except ClientError as error:  # e.g. an object the store lost (405): the job cannot have its data
                    raise ChannelError(f"ClientError: Data download failed: {source}: {error}") from error
                except OSError as error:  # e.g. a key that is both an object and a folder ("a" and "a/b")
                    raise ChannelError(f"ClientError: {source} cannot be saved as a file: {error.strerror}.") from error

    def unpack_code(self, s3: Any, hyperparameters: dict[str, str]) -> None:
        """Unpack the job's code archive into ``code/`` under the one rule for archives (platform/archives.py).

        The training toolkit would unpack it itself, with no filter, on the host: it copies code only into
        an empty ``code/``, so it finds the code in place and never sees the archive. The archive is read from
        S3, or from the ``code`` channel of a network-isolated job.
        """
        value = hyperparameters.get(SUBMIT_DIRECTORY)
        if value is None:
            return
        try:
            source = json.loads(value)
        except ValueError:
            source = value
        if not isinstance(source, str):
            return
        if source.startswith("s3://"):
            archive = self.root / "sourcedir.tar.gz"  # the toolkit's temporary download, removed once unpacked
            bucket, key = split_s3_uri(source)
            try:
                s3.download_file(bucket, key, str(archive))
            except ClientError as error:
                raise ChannelError(f"ClientError: Failed to download the code from {source}: {error}") from error
        else:
            archive = Path(self._in_root(source) or source)
            if not (archive.is_file() and tarfile.is_tarfile(archive)):
                return  # a folder or a plain file: the toolkit copies it, it unpacks nothing
        try:
            unpack(archive, self.root / "code")
        except ArchiveError as error:
            raise ChannelError(
                f"ClientError: The code archive {source} ({SUBMIT_DIRECTORY}) cannot be unpacked into "
                f"{CONTAINER_ROOT}/code: {error}. Please make sure it is a tar.gz archive whose members all stay in "
                "that folder."
            ) from error
        finally:
            if archive.parent == self.root:
                archive.unlink(missing_ok=True)
        self._code_unpacked_empty = not any((self.root / "code").iterdir())

    def upload_artifacts(self, s3: Any, output_path: str, job_name: str) -> str:
        """``model/`` becomes model.tar.gz and ``output/data`` output.tar.gz under <output>/<job>/output/."""
        bucket, prefix = split_s3_uri(output_path.rstrip("/"))
        base = f"{prefix}/{job_name}/output" if prefix else f"{job_name}/output"
        uploads = {"model.tar.gz": self.model_dir, "output.tar.gz": self.root / "output" / "data"}
        for name, folder in uploads.items():
            if name == "output.tar.gz" and not any(folder.iterdir()):
                continue
            archive = self.root / name
            # gzip's default level: level 9 (tarfile's default) takes 15x longer for a 5 MB forest, for 5% less.
            with tarfile.open(archive, "w:gz", compresslevel=6) as tar:
                for item in sorted(folder.iterdir()):
                    tar.add(item, arcname=item.name)
            s3.upload_file(str(archive), bucket, f"{base}/{name}")
        return f"s3://{bucket}/{base}/model.tar.gz"


def _inside(folder: Path, relative: str, what: str, shown: str) -> Path:
    """``folder / relative`` resolved, refused unless strictly inside ``folder``: names from users stay in the job."""
    path = (folder / relative).resolve()
    if not path.is_relative_to(folder) or path == folder:
        raise ChannelError(f"ClientError: {what} does not name a file inside {shown}; names may not use '..'.")
    return path
