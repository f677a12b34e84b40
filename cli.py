"""reenact's command line: a thin dispatcher over reenact.commands.

    reenact SOURCE DRIVER OUT          reenact a photo with a driving video
    reenact aus VIDEO|IMAGE|DIR ...    per-frame Action Units of a video, image or folder
    reenact <command> --help           the other commands
"""

from __future__ import annotations

import argparse
import importlib
import sys

# Subcommand modules in reenact.commands; a module that is absent is skipped.
COMMANDS = ("reenact_video", "aus", "animate", "render_batch", "prepare_data", "train", "eval", "fetch")
DEFAULT_COMMAND = "run"  # `reenact SOURCE DRIVER OUT` means `reenact run SOURCE DRIVER OUT`


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="reenact", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMANDS:
        try:
            module = importlib.import_module(f"reenact.commands.{name}")
        except ModuleNotFoundError as exc:
            if exc.name != f"reenact.commands.{name}":
                raise
            continue
        module.add_parser(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    from reenact.errors import ReenactError

    argv = list(sys.argv[1:] if argv is None else argv)
    parser = build_parser()
    known = set(parser._subparsers._group_actions[0].choices) if parser._subparsers else set()
    if argv and argv[0] not in known and not argv[0].startswith("-") and DEFAULT_COMMAND in known:
        argv.insert(0, DEFAULT_COMMAND)
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    try:
        return int(args.func(args) or 0)
    except ReenactError as exc:
        print(f"reenact: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        # Each command cleans up after itself (temporary outputs deleted, or, for `train`, a
        # checkpoint saved); the command's own messages say which.
        print("reenact: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
