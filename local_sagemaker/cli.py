"""``python -m local_sagemaker up|status|down|reset``: the local cloud from a terminal."""

from __future__ import annotations

import argparse
import logging
import os
from pathlib import Path

from local_sagemaker.cloud import state_report
from local_sagemaker.common import state_files
from local_sagemaker.kernel import launcher


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="local_sagemaker", description="The SageMaker Maze's offline local cloud.")
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("up", help="start it in the background (until `down`) and print its endpoint")
    commands.add_parser("status", help="say whether it runs, where, and what its state holds")
    commands.add_parser("down", help="stop it and every job process it started")
    reset = commands.add_parser("reset", help="stop it and wipe its state (asks first)")
    reset.add_argument("--yes", action="store_true", help="do not ask")
    serve = commands.add_parser("serve", help="run it in the foreground (what `up` starts)")
    serve.add_argument("--state-dir", type=Path, required=True)
    serve.add_argument("--idle-seconds", type=float, default=None)
    args = parser.parse_args(argv)

    if args.command == "serve":
        from local_sagemaker.cloud.server import LocalCloud

        logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
        logging.getLogger("werkzeug").setLevel(logging.WARNING)
        state_files.private_dir(args.state_dir)
        # Whatever the cloud and its jobs write (S3's store, records, journals, job folders) is its user's alone.
        os.umask(0o077)
        LocalCloud(args.state_dir, idle_seconds=args.idle_seconds).serve()
        return 0
    state = state_files.state_dir()
    if args.command == "up":
        info, started = launcher.find_or_start(state, idle_seconds=None)
        print(f"{'started' if started else 'already running'}: {info.endpoint} (pid {info.pid}, state {state})")
        # The AWS CLI signs with these; the cloud refuses any request not signed with a key it issued.
        print(f"export AWS_ENDPOINT_URL={info.endpoint}")
        print(f"export AWS_ACCESS_KEY_ID={info.access_key_id} AWS_SECRET_ACCESS_KEY={info.secret_access_key}")
    elif args.command == "status":
        info = launcher.find(state)
        if info is None and (pid := launcher.unanswering(state)):
            print(f"running but not answering: pid {pid} (state {state}); `down` stops it")
            return 1
        print(f"running: {info.endpoint} (pid {info.pid}, state {state})" if info else f"not running (state {state})")
        print("\n".join(state_report.report(state, info)))
        return 0 if info else 3
    elif args.command == "reset":
        return _reset(state, args.yes)
    else:
        info = launcher.stop(state)
        print(f"stopped pid {info.pid}" if info else "not running")
    return 0


def _reset(state: Path, yes: bool) -> int:
    """Stop the cloud and wipe what its state holds, after a confirmation: nothing in it comes back."""
    print("\n".join(state_report.report(state, None)))
    if not yes and input(f"Stop the local cloud and delete everything in {state}? [y/N] ").strip().lower() != "y":
        print("nothing deleted")
        return 1
    info = launcher.stop(state)
    state_report.wipe(state)
    print(f"{'stopped pid ' + str(info.pid) + ', ' if info else ''}wiped {state}")
    return 0
