"""Each instance's own ``/opt/ml``: the literal container paths, as scripts written for SageMaker hard-code them.

On SageMaker every container has ``/opt/ml`` (``/opt/ml/processing/input``, ``/opt/ml/model``,
``/opt/ml/config/...``). Here an instance's tree is a folder of the local cloud's state directory; the
instance's command runs in a new mount namespace (``unshare --mount``, util-linux) whose first command,
``local_sagemaker/container/opt_ml_mount.py``, mounts that folder on ``/opt/ml`` (the rest of ``/opt`` stays
visible) and then executes the command. Two instances of one job each see their own ``/opt/ml``; nothing
changes on the machine.

Who can create the namespace: root directly; any other user inside a new user namespace
(``--map-root-user``), where the kernel allows unprivileged user namespaces (not under Ubuntu 24.04's
AppArmor restriction, ``kernel.unprivileged_userns_clone=0`` or a container runtime's default seccomp
profile; not on macOS). Where it cannot be created, :func:`opt_ml_view` says why: processing jobs then fail
with that reason (their contract is the literal paths, which nothing can rewrite inside a script), while
training jobs and endpoint instances keep running in their relocated tree (``SAGEMAKER_BASE_DIR``), which the
training toolkit and the serving app honour.
"""

from __future__ import annotations

import functools
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

from local_sagemaker.container import opt_ml_mount

# The ways to a new mount namespace, in order: root's own, then an unprivileged user's.
NAMESPACES = (("--mount",), ("--mount", "--map-root-user"))
PROBE_TIMEOUT_SECONDS = 10.0
MARK = "probe"


@dataclass(frozen=True)
class OptMlView:
    """How to give a command its own ``/opt/ml`` on this machine; ``why`` says why not when ``unshare`` is empty."""

    unshare: tuple[str, ...] = ()
    why: str = ""

    @property
    def available(self) -> bool:
        return bool(self.unshare)

    def prefix(self, opt_ml: Path) -> tuple[str, ...]:
        """What goes before a command so that it runs with ``opt_ml`` mounted on ``/opt/ml``."""
        return (*self.unshare, sys.executable, "-P", opt_ml_mount.__file__, str(opt_ml))


def opt_ml_view() -> OptMlView:
    """This machine's way to an instance's own ``/opt/ml``, probed once per local cloud (see the module's doc)."""
    return _probe(shutil.which("unshare"))


@functools.cache
def _probe(unshare: str | None) -> OptMlView:
    if unshare is None:
        return OptMlView(why="util-linux's unshare command is not installed")
    why = ""
    for options in NAMESPACES:
        with tempfile.TemporaryDirectory(prefix="opt-ml-probe-") as folder:
            opt_ml = Path(folder) / "ml"
            opt_ml.mkdir()
            view = OptMlView((unshare, *options))
            command = [*view.prefix(opt_ml), sys.executable, "-c", f"open('/opt/ml/{MARK}', 'w').close()"]
            try:
                probe = subprocess.run(
                    command, capture_output=True, text=True, timeout=PROBE_TIMEOUT_SECONDS, check=False
                )
            except (OSError, subprocess.TimeoutExpired) as error:
                why = str(error)
                continue
            if probe.returncode == 0 and (opt_ml / MARK).exists():
                return view
            lines = probe.stderr.strip().splitlines()
            why = lines[-1] if lines else f"exit code {probe.returncode}"
    return OptMlView(why=f"{unshare} {' '.join(NAMESPACES[-1])} failed: {why}")
