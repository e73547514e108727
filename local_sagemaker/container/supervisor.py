"""The job supervisor: the parent of a job's or an instance's main process, so that none of its processes outlives it.

A training job runs under a small supervisor (this file, run as a script by the local cloud's
``cloud/compute/processes.py``), because a
process group is not enough: a script's child may call ``setsid`` (leaving the group), keep the job's stdout
open after the script ended, or be orphaned and reparented to init. The supervisor relies on two Linux
``prctl`` options, both available to unprivileged users (nothing here needs root, nor cgroups, which an
unprivileged CI runner or a container often cannot delegate):

- ``PR_SET_CHILD_SUBREAPER``: every orphan of the job, at any depth and whatever its session, is reparented
  to the supervisor instead of init, so ``psutil.Process(supervisor).children(recursive=True)`` is the whole job.
- ``PR_SET_PDEATHSIG``: the kernel signals the supervisor when the local cloud dies, even by ``kill -9``; the
  supervisor then kills the job's tree and exits.

When the job's main process exits, the supervisor kills what it left running at that moment and exits with
the main process's code, so the job ends with its main process (and its stdout closes, ending the log).
On stop or timeout the cloud SIGTERMs the group (the supervisor forwards it to processes outside the group),
then SIGKILLs the supervisor's whole tree (:func:`terminate_group`).

Endpoint and transform instances run under a supervisor too, with gunicorn's master as the main process.

Limits: a job can still kill its own supervisor (same user) and so hand its orphans to init; only a cgroup
would close that, at the price of root or a delegated cgroup.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import signal
import subprocess
import sys
import time
from typing import Any

import psutil

PR_SET_PDEATHSIG = 1
PR_SET_CHILD_SUBREAPER = 36
# What a supervisor receives when the local cloud dies: kill the job's tree at once.
KILL_NOW = signal.SIGUSR1
KILL_ROUNDS = 50
_subreaper = [False]  # whether this process is a job's supervisor, which collects the orphans it inherits


def prctl(option: int, value: int) -> None:
    with contextlib.suppress(OSError):
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(option, value)


def die_with_parent() -> None:
    """Linux: the kernel sends SIGKILL to the child if the local cloud process dies, even by SIGKILL."""
    prctl(PR_SET_PDEATHSIG, signal.SIGKILL)


def kill_tree(pid: int, include_root: bool = True) -> None:
    """SIGKILL the descendants of ``pid``, again until none is left (one may fork while listed), then ``pid``.

    The root goes last: while it lives, a supervisor's orphans stay its children, hence in the listing.
    """
    for _ in range(KILL_ROUNDS):
        try:
            root = psutil.Process(pid)
            descendants = [p for p in root.children(recursive=True) if _running(p)]
        except psutil.NoSuchProcess:
            return
        if not descendants:
            break
        for process in descendants:
            with contextlib.suppress(psutil.Error):
                process.kill()
        _reap_orphans()
        time.sleep(0.01)
    if include_root:
        with contextlib.suppress(psutil.Error):
            root.kill()


def _running(process: psutil.Process) -> bool:
    try:
        return process.status() != psutil.STATUS_ZOMBIE
    except psutil.Error:
        return False


def _reap_orphans() -> None:
    """A subreaper collects the orphans it inherited (elsewhere ``subprocess`` reaps its own children)."""
    if not _subreaper[0]:
        return
    with contextlib.suppress(ChildProcessError):
        while os.waitpid(-1, os.WNOHANG)[0]:
            pass


def supervise(cloud_pid: int, args: list[str]) -> int:
    """Run ``args`` as a job's main process; when it exits, kill what it left and return its exit code."""
    _subreaper[0] = True
    prctl(PR_SET_CHILD_SUBREAPER, 1)
    # The cloud's death (even by kill -9) ends the job now; spawn() asked for SIGKILL, which leaves no time to
    # kill the tree, so the supervisor asks for KILL_NOW instead (and checks the cloud did not die meanwhile).
    prctl(PR_SET_PDEATHSIG, KILL_NOW)
    if os.getppid() != cloud_pid:
        return 137

    def kill_now(*_: Any) -> None:
        kill_tree(os.getpid(), include_root=False)
        os._exit(137)

    def forward(signum: int, _: Any) -> None:
        # Stop: the cloud's SIGTERM reached the group; processes that left it (setsid) get it too.
        for child in psutil.Process().children(recursive=True):
            with contextlib.suppress(psutil.Error, OSError):
                if os.getpgid(child.pid) != os.getpgid(0):
                    child.send_signal(signum)

    signal.signal(KILL_NOW, kill_now)
    signal.signal(signal.SIGTERM, forward)
    main = subprocess.Popen(args, preexec_fn=die_with_parent)  # the main process dies with its supervisor
    code = main.wait()
    kill_tree(os.getpid(), include_root=False)
    return code if code >= 0 else 128 - code


if __name__ == "__main__":
    sys.exit(supervise(int(sys.argv[1]), sys.argv[2:]))
