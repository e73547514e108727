"""Child processes the local cloud starts: each in its own process group, none outliving the cloud or its job.

Jobs, instances and framework environment builds (uv, which starts build backends of its own) run under
the job supervisor (``local_sagemaker/container/supervisor.py``, run as a script: its docstring says why
and how), which kills the whole tree when the cloud dies, even by ``kill -9``; short children under
:func:`spawn` alone, which the kernel kills with the cloud (``PR_SET_PDEATHSIG``).
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import IO, Any

from local_sagemaker.container import supervisor
from local_sagemaker.container.supervisor import die_with_parent, kill_tree

CONTAINER = Path(supervisor.__file__).resolve().parent
# First on every container's PYTHONPATH: its sitecustomize makes each Python process write whole lines.
LINE_WRITES = CONTAINER / "line_writes"


# The kernel's "parent death" is the death of the *thread* that forked: children are forked from one
# thread that lives as long as the local cloud, not from the short-lived threads that ask for them.
_SPAWNER = ThreadPoolExecutor(max_workers=1, thread_name_prefix="spawner")


def spawn(args: list[str], **kwargs: Any) -> subprocess.Popen:
    """Start ``args`` in a new process group, so stopping it stops everything it started."""
    return _SPAWNER.submit(
        subprocess.Popen, args, start_new_session=True, preexec_fn=die_with_parent, **kwargs
    ).result()


def under_supervisor(args: list[str]) -> list[str]:
    """``args`` as the main process of a job supervisor, which this process must start (with :func:`spawn`).

    ``-P`` and the file's path: the supervisor imports neither the local cloud's package nor its folder's modules.
    """
    return [sys.executable, "-P", supervisor.__file__, str(os.getpid()), *args]


def spawn_container(
    args: list[str], base_dir: Path, environment: dict[str, str], supervised: bool = False
) -> subprocess.Popen:
    """A 'container': ``/opt/ml`` relocated to ``base_dir``, unbuffered Python, output merged, as bytes.

    ``supervised``: run ``args`` under the job supervisor (``container/supervisor.py``). The output is
    bytes because a container may print anything; read it with :func:`output_lines`. Python in the
    container writes each line with one ``write`` (``container/line_writes/sitecustomize.py``), so lines of
    processes that print at once do not run into each other.
    """
    env = {
        "PATH": os.environ.get("PATH", ""),
        "HOME": os.environ.get("HOME", str(base_dir)),
        "LANG": "C.UTF-8",
        "TZ": "UTC",  # containers run in UTC: log timestamps read +0000 as on AWS
        "PYTHONUNBUFFERED": "TRUE",
        "SAGEMAKER_BASE_DIR": str(base_dir),
        **environment,
    }
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(LINE_WRITES), environment.get("PYTHONPATH")) if p)
    command = under_supervisor(args) if supervised else args
    return spawn(
        command, cwd=base_dir, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT
    )


def output_lines(stream: IO[bytes]) -> Iterator[str]:
    """A container's output line by line, split at newlines only (one line, one log event, whatever
    sizes the pipe delivers it in); bytes that are not UTF-8 become U+FFFD instead of ending the reader."""
    for line in stream:
        yield line.decode("utf-8", errors="replace")


def terminate_group(process: subprocess.Popen, grace_seconds: float) -> None:
    """SIGTERM the whole group, as SageMaker does on stop, then SIGKILL what is left after the grace period.

    A supervisor (see the module's docstring) forwards the SIGTERM to the processes that left the group; as
    every process of its job is its descendant, :func:`kill_tree` from here reaches them all.
    """
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGTERM)
    with contextlib.suppress(subprocess.TimeoutExpired):
        process.wait(timeout=grace_seconds)
    kill_tree(process.pid)
    # The leader is gone; make sure no member of its group lingers.
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)
    process.wait()
