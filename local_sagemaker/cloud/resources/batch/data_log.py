"""A transform instance's platform lines, in its ``<job>/<instance-id>-<epoch>/data-log`` stream, as AWS writes them.

Only shapes seen in AWS's own logs are written (the SDK's ``transformer.wait(logs=True)`` prints
them interleaved with the container's output, and users quote them in issue trackers):

- at the start, ``2023-03-29T13:16:50.587:[sagemaker logs]: MaxConcurrentTransforms=1, MaxPayloadInMB=6,
  BatchStrategy=MULTI_RECORD`` (aws/amazon-sagemaker-examples#3948 and #755; the notebooks' saved outputs);
- for an object whose request the container answered with an error, ``<bucket>/<key>: Bad HTTP status
  received from algorithm: 500``, an empty line, ``Message:`` and the answer's lines, each prefixed with
  the object (aws/amazon-sagemaker-examples#3948);
- for an object whose request got no answer, ``<bucket>/<key>: Unable to get response from algorithm``
  (aws/sagemaker-python-sdk#1951).

A successful object leaves no line here: its evidence is the container's access lines.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from local_sagemaker.cloud.platform.logs import LogStreamWriter

DATA_LOG = "data-log"


class DataLog:
    """Writes ``<UTC time with ms>:[sagemaker logs]: <message>`` lines into one instance's data-log stream."""

    def __init__(self, logs_client: Any, group: str, instance_stream: str) -> None:
        self._writer = LogStreamWriter(logs_client, group, f"{instance_stream}/{DATA_LOG}")

    def _write(self, message: str) -> None:
        stamp = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3]
        self._writer.write(f"{stamp}:[sagemaker logs]: {message}")

    def parameters(self, max_concurrent: int, max_payload_mb: int, strategy: str) -> None:
        """The job's effective settings; ``strategy`` as the API spells it (MultiRecord or SingleRecord)."""
        spelled = "MULTI_RECORD" if strategy == "MultiRecord" else "SINGLE_RECORD"
        self._write(
            f"MaxConcurrentTransforms={max_concurrent}, MaxPayloadInMB={max_payload_mb}, BatchStrategy={spelled}"
        )

    def bad_status(self, bucket: str, key: str, status: int, body: str) -> None:
        """The container answered a request for ``bucket/key`` with a non-2xx status."""
        lines = [f"Bad HTTP status received from algorithm: {status}", "", "Message:", *body.splitlines()]
        for line in lines:
            self._write(f"{bucket}/{key}: {line}")

    def no_response(self, bucket: str, key: str) -> None:
        """The container dropped a request for ``bucket/key`` (a worker killed or crashed)."""
        self._write(f"{bucket}/{key}: Unable to get response from algorithm")

    def close(self) -> None:
        self._writer.close()
