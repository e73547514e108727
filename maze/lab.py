"""``make lab``: JupyterLab on this repository for a participant off AWS, with the local cloud already up.

The notebooks' first cell would start the local cloud anyway; starting it here first makes that cell
instant and keeps one cloud for every notebook opened. JupyterLab listens on 127.0.0.1 only, with a
token. Ctrl-C (or SIGTERM) stops JupyterLab, its kernels, and the local cloud if this command
started it. Only ``local_sagemaker`` is imported: the handout ships this file as ``scripts/lab.py``.
"""

from __future__ import annotations

import argparse
import os
import secrets
import signal
import subprocess
import sys
from pathlib import Path

from local_sagemaker.common import state_files
from local_sagemaker.kernel import launcher
from local_sagemaker.kernel.connect import IDLE_SECONDS

LOOPBACK = "127.0.0.1"


def lab_command(root: Path, port: int, token: str) -> list[str]:
    """JupyterLab bound to loopback on exactly ``port`` (no retry on another port), serving ``root``."""
    command = [
        sys.executable,
        "-m",
        "jupyterlab",
        "--no-browser",
        f"--ServerApp.ip={LOOPBACK}",
        f"--ServerApp.port={port}",
        "--ServerApp.port_retries=0",
        f"--ServerApp.root_dir={root}",
        f"--IdentityProvider.token={token}",
        # One Ctrl-C stops the server and its kernels instead of asking y/n.
        "--ServerApp.answer_yes=True",
    ]
    if os.geteuid() == 0:
        command.append("--ServerApp.allow_root=True")  # containers and CI runners are often root
    return command


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="make lab", description=__doc__.splitlines()[0])
    parser.add_argument("--root", type=Path, default=Path.cwd(), help="the folder to serve (default: here)")
    parser.add_argument("--port", type=int, default=8888)
    parser.add_argument("--token", default=None, help="the access token (default: a random one, printed)")
    args = parser.parse_args(argv)
    token = args.token or secrets.token_urlsafe(24)

    state = state_files.state_dir()
    # Idle stop as for a notebook's connect(), and this process a client: should it be killed (SIGKILL, a
    # closed terminal), the cloud stops by itself once no kernel of the lab is left, rather than never.
    cloud, started = launcher.find_or_start(state, idle_seconds=IDLE_SECONDS)
    cloud.call("clients", {"pid": os.getpid()})
    print(f"local cloud: {cloud.endpoint} ({'started' if started else 'already running'}, state {state})")
    print(f"JupyterLab: http://{LOOPBACK}:{args.port}/lab?token={token}", flush=True)
    # The kernels find the same cloud through MAZE_STATE_DIR, wherever the package is installed.
    env = os.environ | {"MAZE_STATE_DIR": str(state)}
    try:
        # Inside the try: if JupyterLab cannot start (missing, port taken), the cloud it started still stops.
        lab = subprocess.Popen(lab_command(args.root.resolve(), args.port, token), env=env)
        signal.signal(signal.SIGTERM, lambda *_: lab.terminate())
        while True:
            try:
                return lab.wait()
            except KeyboardInterrupt:
                continue  # the terminal's Ctrl-C reached JupyterLab too: it is shutting down
    finally:
        if started:
            launcher.stop(state)
            print("local cloud stopped")


if __name__ == "__main__":
    raise SystemExit(main())
