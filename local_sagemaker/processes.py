"""Child processes the local cloud starts: each in its own process group, none outliving the cloud."""

from __future__ import annotations

import contextlib
import ctypes
import os
import signal
import subprocess
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

PR_SET_PDEATHSIG = 1


def _die_with_parent() -> None:
    """Linux: the kernel sends SIGKILL to the child if the local cloud process dies, even by SIGKILL."""
    with contextlib.suppress(OSError):
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGKILL)


# The kernel's "parent death" is the death of the *thread* that forked: children are forked from one
# thread that lives as long as the local cloud, not from the short-lived threads that ask for them.
_SPAWNER = ThreadPoolExecutor(max_workers=1, thread_name_prefix="spawner")


def spawn(args: list[str], **kwargs: Any) -> subprocess.Popen:
    """Start ``args`` in a new process group, so stopping it stops everything it started."""
    return _SPAWNER.submit(
        subprocess.Popen, args, start_new_session=True, preexec_fn=_die_with_parent, **kwargs
    ).result()


def spawn_container(args: list[str], base_dir: Path, environment: dict[str, str]) -> subprocess.Popen:
    """A 'container': ``/opt/ml`` relocated to ``base_dir``, unbuffered Python, output merged line by line."""
    env = {
        "PATH": os.environ.get("PATH", ""),
        "HOME": os.environ.get("HOME", str(base_dir)),
        "LANG": "C.UTF-8",
        "TZ": "UTC",  # containers run in UTC: log timestamps read +0000 as on AWS
        "PYTHONUNBUFFERED": "TRUE",
        "SAGEMAKER_BASE_DIR": str(base_dir),
        **environment,
    }
    return spawn(
        args,
        cwd=base_dir,
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        bufsize=1,
    )


def terminate_group(process: subprocess.Popen, grace_seconds: float) -> None:
    """SIGTERM the whole group, as SageMaker does on stop, then SIGKILL what is left after the grace period."""
    for sig, wait in ((signal.SIGTERM, grace_seconds), (signal.SIGKILL, 5.0)):
        try:
            os.killpg(process.pid, sig)
        except ProcessLookupError:
            return
        try:
            process.wait(timeout=wait)
        except subprocess.TimeoutExpired:
            continue
        # The leader is gone; make sure no member of its group lingers.
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        return


def is_alive(pid: int) -> bool:
    """Whether ``pid`` still runs; a zombie has exited, only its parent has not looked yet."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        return Path(f"/proc/{pid}/stat").read_text().split(") ")[1][0] != "Z"
    except (FileNotFoundError, IndexError):
        return False
