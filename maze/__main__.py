"""``python -m maze``: run the whole maze offline (README's run command); ``check``, ``cleanup``, ``handout``,
``rehearse``."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from local_sagemaker.kernel.team import team_name


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m maze", description=__doc__)
    commands = parser.add_subparsers(dest="command", metavar="{check,cleanup,handout,rehearse}")
    check = commands.add_parser("check", help="the progress board: which tasks a team has done, with the evidence")
    which = check.add_mutually_exclusive_group()
    which.add_argument("--team", help="the team to check (default: MAZE_TEAM, the Studio user profile, or solo)")
    which.add_argument("--all", action="store_true", help="every team found (remote's branches, cloud's resources)")
    files = check.add_mutually_exclusive_group()
    files.add_argument(
        "--remote",
        metavar="URL",
        help="the participants' repository (URL or path): tasks 1.1-1.2 are read from each team's branch teams/<team>",
    )
    files.add_argument(
        "--repo",
        type=Path,
        metavar="DIR",
        help="a team's clone at its branch, for tasks 1.1-1.2 (the answer key only when given: --repo .)",
    )
    cleanup = commands.add_parser("cleanup", help="delete a team's endpoints, endpoint configs and models")
    cleanup.add_argument("--team", help="the team to clean up (default: MAZE_TEAM, the Studio user profile, or solo)")
    cleanup.add_argument("--yes", action="store_true", help="do not ask for confirmation")
    handout = commands.add_parser("handout", add_help=False, help="write the participants' repository into DIR")
    handout.add_argument("rest", nargs=argparse.REMAINDER)
    commands.add_parser(
        "rehearse",
        help="play a whole event offline (handout, teams' branches, CI, board) and compare board and CI with it",
    )
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args, unknown = parser.parse_known_args(argv)
    if args.command == "handout":  # its own parser reads its arguments (and answers --help)
        from maze.handout import main as handout

        return handout(unknown + args.rest)
    if unknown:
        parser.error(f"unrecognized arguments: {' '.join(unknown)}")
    if args.command == "rehearse":
        from maze.rehearse import main as rehearse

        return rehearse()
    if args.command == "check" and args.all:
        if args.repo is not None:
            parser.error("--all reads each team's branch: use --remote URL, not --repo (one team's clone)")
        from maze.check import main as check

        return check(None, remote=args.remote)
    if getattr(args, "team", None):
        os.environ["MAZE_TEAM"] = args.team  # so the connection's team is the one asked for, validated
    try:
        team_name()
    except ValueError as error:
        print(error, file=sys.stderr)
        return 2
    if args.command == "check":
        from maze.check import main as check

        return check(team_name(), args.repo, args.remote)
    if args.command == "cleanup":
        from maze.cleanup import main as cleanup

        return cleanup(args.yes)
    from maze.run import main as run

    return run()


if __name__ == "__main__":
    raise SystemExit(main())
