"""``EnableNetworkIsolation`` of a training job or a model, enforced as far as this machine allows.

On SageMaker, an isolated job's container has no network: its processes can make no outbound call, not
even to S3 or another AWS service. The platform, outside the container, still downloads the input
channels (the SDK sends the code as one, ``code``) before the job starts and uploads the model after it
ends. The container keeps its loopback interface.

Enforced here: the local cloud plays the platform (it downloads the channels and uploads the artifacts
from its own process), and the job's command (the toolkit, the script, whatever they start) runs in a new
network namespace (``unshare --net``, util-linux) whose only interface is its own loopback, brought up by
``local_sagemaker/container/loopback.py``, run as a script before it executes the job. A connection to
anything outside the job fails,
the local cloud's endpoint on the machine's loopback included (refused: nothing listens on the
namespace's loopback); name resolution has no server; a server the job starts on 127.0.0.1 is reachable
from the job, as on AWS.

Not enforced: the file system (the job can read what the user running the local cloud can, its state
directory included; a container sees only its image and ``/opt/ml``), Unix sockets with a path in the
file system (reachable by path from any network namespace), and the environment (the job still gets the
local cloud's endpoint and credentials; without network they reach nothing).

Who can create the namespace: root (``CAP_SYS_ADMIN``) directly; any other user inside a new user
namespace (``--map-root-user``: the job then runs as root of that namespace, as a container's process
does), if the kernel lets unprivileged users create one. Some machines do not: Ubuntu 24.04's AppArmor
(``kernel.apparmor_restrict_unprivileged_userns=1``, as on GitHub's ``ubuntu-latest`` runners, whose
jobs are not root), ``kernel.unprivileged_userns_clone=0``, or a container runtime's default seccomp
profile (Docker's refuses ``unshare`` without ``CAP_SYS_ADMIN``). There, and without ``unshare`` (macOS),
the job runs with the machine's network, since AWS would run it; its log says so, and why.
"""

from __future__ import annotations

import functools
import shutil
import subprocess
import sys
from dataclasses import dataclass
from typing import Any

from local_sagemaker.container import loopback

# The ways to a new network namespace, in order: root's own, then an unprivileged user's.
NAMESPACES = (("--net",), ("--net", "--map-root-user"))
PROBE_TIMEOUT_SECONDS = 10.0


@dataclass(frozen=True)
class Isolation:
    """How to run a job's command: ``prefix`` goes before it; ``note`` (if any) is the job log's first line."""

    prefix: tuple[str, ...] = ()
    note: str = ""


def network_isolation(request: dict[str, Any]) -> Isolation:
    """What a CreateTrainingJob request's ``EnableNetworkIsolation`` takes on this machine (see the module's doc)."""
    if not request.get("EnableNetworkIsolation"):
        return Isolation()
    return _isolation(shutil.which("unshare"))


@functools.cache
def _isolation(unshare: str | None) -> Isolation:
    """Probe once per local cloud: the first way to a namespace that runs a command there."""
    if unshare is None:
        return _not_isolated("util-linux's unshare command is not installed")
    why = ""
    for options in NAMESPACES:
        prefix = (unshare, *options, sys.executable, "-P", loopback.__file__)
        try:
            probe = subprocess.run(
                [*prefix, "true"], capture_output=True, text=True, timeout=PROBE_TIMEOUT_SECONDS, check=False
            )
        except (OSError, subprocess.TimeoutExpired) as error:
            why = str(error)
            continue
        if probe.returncode == 0:
            return Isolation(prefix)
        why = probe.stderr.strip().splitlines()[-1] if probe.stderr.strip() else f"exit code {probe.returncode}"
    return _not_isolated(f"{unshare} {' '.join(NAMESPACES[-1])} failed: {why}")


def _not_isolated(why: str) -> Isolation:
    return Isolation(
        note=(
            f"local cloud: EnableNetworkIsolation is not enforced on this machine, the job's network is not "
            f"isolated: {why}. The job runs with the machine's network (on SageMaker its container has none)."
        )
    )
