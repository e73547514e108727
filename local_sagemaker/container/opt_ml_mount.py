"""The first command of an instance with its own ``/opt/ml``, inside its new mount namespace: the view, then the job.

Run as a script by ``unshare --mount`` (``local_sagemaker/cloud/compute/opt_ml_view.py`` says when and why):
``opt_ml_mount.py <instance's /opt/ml folder> <command...>``. ``/opt`` is rebuilt on a tmpfs holding every
entry of the machine's ``/opt`` (each bind-mounted, so the instance still sees them) plus ``ml``, the
instance's own folder, and that tmpfs is moved onto ``/opt``. Nothing changes outside the namespace: no
``/opt/ml`` is created on the machine, and the staging folder is gone before the command starts.
"""

from __future__ import annotations

import ctypes
import os
import sys
import tempfile
from pathlib import Path

MS_BIND, MS_MOVE, MS_REC, MS_PRIVATE = 0x1000, 0x2000, 0x4000, 0x40000
OPT = Path("/opt")


def _mount(source: str, target: Path, fstype: str | None, flags: int) -> None:
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.mount(source.encode(), bytes(target), fstype.encode() if fstype else None, flags, None) != 0:
        errno = ctypes.get_errno()
        raise OSError(errno, f"mount {source} on {target}: {os.strerror(errno)}")


def _bind(source: Path, target: Path) -> None:
    _mount(str(source), target, None, MS_BIND | MS_REC)


def mount_view(opt_ml: Path) -> None:
    """Make ``opt_ml`` the namespace's ``/opt/ml``, keeping the rest of ``/opt`` as it is."""
    if not OPT.is_dir():
        raise OSError(f"{OPT} does not exist on this machine: there is no folder to mount /opt/ml under")
    _mount("none", Path("/"), None, MS_REC | MS_PRIVATE)  # nothing mounted here propagates to the machine
    staging = Path(tempfile.mkdtemp(prefix=".opt-view-", dir=opt_ml.parent))
    _mount("tmpfs", staging, "tmpfs", 0)
    for entry in OPT.iterdir():
        target = staging / entry.name
        if entry.name == "ml":
            continue
        if entry.is_symlink():
            target.symlink_to(os.readlink(entry))
        elif entry.is_dir():
            target.mkdir()
            _bind(entry, target)
        else:
            target.touch()
            _bind(entry, target)
    (staging / "ml").mkdir()
    _bind(opt_ml, staging / "ml")
    _mount(str(staging), OPT, None, MS_MOVE)
    staging.rmdir()  # the tmpfs moved away: an empty folder of the machine's file system again


if __name__ == "__main__":
    try:
        mount_view(Path(sys.argv[1]))
    except OSError as error:
        print(f"local cloud: cannot mount the instance's /opt/ml: {error}", file=sys.stderr)
        sys.exit(125)
    os.execvp(sys.argv[2], sys.argv[2:])
