"""reenact's command line: a thin dispatcher over reenact.commands.

    reenact SOURCE DRIVER OUT          reenact a photo with a driving video
    reenact aus VIDEO|IMAGE|DIR ...    per-frame Action Units of a video, image or folder
    reenact <command> --help           the other commands
"""

from __future__ import annotations

import argparse
import contextlib
import importlib
import signal
import sys
from collections.abc import Iterator

# Subcommand modules in reenact.commands; a module that is absent is skipped.
COMMANDS = ("run", "aus", "animate", "render_batch", "prepare_data", "train", "fit_rig",
            "train_refiner", "eval", "fetch", "studio")
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
    from reenact.interrupt import Interrupted, exit_code, handle_signals

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
        # Ctrl-C and SIGTERM alike stop every command cleanly (reenact.interrupt).
        with handle_signals(), _process_options(args):
            return int(args.func(args) or 0)
    except ReenactError as exc:
        _clear_progress_bars()
        print(f"reenact: error: {str(exc).replace(chr(10), ' ')}", file=sys.stderr)
        return 2
    except KeyboardInterrupt as exc:
        # Each command cleans up after itself (temporary outputs deleted, or, for `train`, a
        # checkpoint saved); the command's own messages say which.
        _clear_progress_bars()
        by = f" by {exc.args[0]}" if isinstance(exc, Interrupted) and exc.signum != signal.SIGINT else ""
        print(f"reenact: interrupted{by}", file=sys.stderr)
        return exit_code(exc)


@contextlib.contextmanager
def _process_options(args: argparse.Namespace) -> Iterator[None]:
    """Options that hold for the whole process while the command runs (--max-pixels)."""
    value = getattr(args, "max_pixels", None)
    if value is None:
        yield
        return
    from reenact.io.images import set_max_pixels

    set_max_pixels(value)
    try:
        yield
    finally:
        set_max_pixels(None)


def _clear_progress_bars() -> None:
    """Close any progress bar left open by the error, clearing its line, so that the error
    starts on a line of its own."""
    tqdm_module = sys.modules.get("tqdm")
    for bar in list(getattr(getattr(tqdm_module, "tqdm", None), "_instances", ())):
        bar.leave = False
        bar.close()


if __name__ == "__main__":
    sys.exit(main())
