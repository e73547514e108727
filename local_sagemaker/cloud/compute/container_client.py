"""The one way the local cloud talks to a serving container: HTTP over the instance's private Unix socket.

In SageMaker's scikit-learn container gunicorn listens on a Unix socket (``unix:/tmp/gunicorn.sock``)
and nginx, in front of it, is what the platform reaches. Here the cloud plays nginx: gunicorn binds a
socket in a folder only the cloud's user can enter (0700), so no other user of the machine can call an
instance (a loopback TCP port would answer anyone). As nginx does, the cloud says who called in
``X-Forwarded-For``; the instance's access line shows that address.
"""

from __future__ import annotations

import atexit
import functools
import http.client
import os
import shutil
import socket
import tempfile
import uuid
from dataclasses import dataclass, field
from pathlib import Path

from local_sagemaker.common.pids import is_alive

# The address access lines show for the platform's requests (nginx's $remote_addr in the real container).
PLATFORM_ADDRESS = "127.0.0.1"
# The sockets' folder of one cloud process: /tmp/lsm-<pid>-<random>. Short on purpose: a Unix socket path is
# limited to 107 bytes, which a path under the state directory with a 63-character endpoint name would exceed.
FOLDER_PREFIX = "lsm-"


@functools.cache
def sockets_folder() -> Path:
    """This process's folder for its instances' sockets (0700), made on first use and removed at its exit.

    A cloud killed by SIGKILL cannot remove its own: the next cloud of the same user does, see
    :func:`remove_stale_folders`.
    """
    folder = Path(tempfile.mkdtemp(prefix=f"{FOLDER_PREFIX}{os.getpid()}-"))
    atexit.register(shutil.rmtree, folder, ignore_errors=True)
    return folder


def remove_stale_folders() -> None:
    """Remove the sockets' folders of this user's clouds that are no longer running."""
    for folder in Path(tempfile.gettempdir()).glob(f"{FOLDER_PREFIX}*-*"):
        try:
            pid = int(folder.name.removeprefix(FOLDER_PREFIX).split("-")[0])
            mine = folder.stat().st_uid == os.getuid()
        except (ValueError, OSError):
            continue
        if mine and pid != os.getpid() and not is_alive(pid):
            shutil.rmtree(folder, ignore_errors=True)


class ContainerUnreachable(Exception):
    """Nothing accepted the connection: the request was not delivered and may be sent elsewhere."""


class ContainerDropped(Exception):
    """The container accepted the request but closed the connection without an answer: it may have run."""


@dataclass(frozen=True)
class Answer:
    status: int
    headers: dict[str, str]
    body: bytes


class _UnixConnection(http.client.HTTPConnection):
    def __init__(self, path: str, timeout: float) -> None:
        super().__init__("localhost", timeout=timeout)
        self.path = path

    def connect(self) -> None:
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.settimeout(self.timeout)
        try:
            sock.connect(self.path)
        except OSError:
            sock.close()
            raise
        self.sock = sock


@dataclass
class ContainerClient:
    """HTTP to one instance's gunicorn; a fresh connection per request (a request is never retried here)."""

    user_agent: str | None = None
    socket_path: Path = field(default_factory=lambda: sockets_folder() / f"{uuid.uuid4().hex[:16]}.sock")

    @property
    def bind(self) -> str:
        """gunicorn's ``-b`` for this instance."""
        return f"unix:{self.socket_path}"

    def request(
        self, method: str, path: str, body: bytes | None = None, headers: dict[str, str] | None = None,
        timeout: float = 60.0,
    ) -> Answer:  # fmt: skip
        """Send one request; raise ContainerUnreachable if it was not delivered, ContainerDropped if unanswered."""
        sent = {"X-Forwarded-For": PLATFORM_ADDRESS, **({"User-Agent": self.user_agent} if self.user_agent else {})}
        sent.update(headers or {})
        connection = _UnixConnection(str(self.socket_path), timeout)
        try:
            try:
                connection.connect()
            except OSError as error:
                raise ContainerUnreachable(f"the model server is not listening: {error}") from error
            try:
                connection.request(method, path, body=body, headers=sent)
                response = connection.getresponse()
                content = response.read()
            except (OSError, http.client.HTTPException) as error:
                raise ContainerDropped(f"the model server closed the connection: {error!r}") from error
            return Answer(response.status, {k: v for k, v in response.getheaders()}, content)
        finally:
            connection.close()

    def ping(self) -> int | None:
        """The status of GET /ping, or None when nothing answers."""
        try:
            return self.request("GET", "/ping", timeout=2).status
        except (ContainerUnreachable, ContainerDropped):
            return None

    def close(self) -> None:
        """Remove the socket (gunicorn has stopped)."""
        self.socket_path.unlink(missing_ok=True)

