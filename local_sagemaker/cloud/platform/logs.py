"""Write a process's output into a CloudWatch Logs stream while it runs, as SageMaker's agents do."""

from __future__ import annotations

import queue
import threading
import time
from typing import Any

from botocore.exceptions import ClientError

FLUSH_SECONDS = 0.2
MAX_BATCH = 1000


class LogStreamWriter:
    """Lines in, ``PutLogEvents`` out: batched every 0.2 s so a tailing reader sees them almost at once."""

    def __init__(self, logs_client: Any, group: str, stream: str) -> None:
        self.client, self.group, self.stream = logs_client, group, stream
        try:
            logs_client.create_log_group(logGroupName=group)
        except ClientError as error:
            # By its code, not by ``logs_client.exceptions``: jobs starting at once race to build a client's
            # exception classes, and the one raised may belong to another set than the one looked up.
            if error.response.get("Error", {}).get("Code") != "ResourceAlreadyExistsException":
                raise
        logs_client.create_log_stream(logGroupName=group, logStreamName=stream)
        self._lines: queue.Queue[tuple[int, str] | None] = queue.Queue()
        self._thread = threading.Thread(target=self._pump, name=f"logs:{stream}", daemon=True)
        self._thread.start()

    def write(self, line: str) -> None:
        self._lines.put((int(time.time() * 1000), line.rstrip("\n") or " "))

    def close(self) -> None:
        """Flush what is left and stop; the stream stays readable."""
        self._lines.put(None)
        self._thread.join()

    def _pump(self) -> None:
        batch: list[dict[str, Any]] = []
        closing = False
        while not closing:
            deadline = time.monotonic() + FLUSH_SECONDS
            while len(batch) < MAX_BATCH:
                try:
                    item = self._lines.get(timeout=max(0.0, deadline - time.monotonic()))
                except queue.Empty:
                    break
                if item is None:
                    closing = True
                    break
                batch.append({"timestamp": item[0], "message": item[1]})
            if batch:
                self.client.put_log_events(logGroupName=self.group, logStreamName=self.stream, logEvents=batch)
                batch = []
