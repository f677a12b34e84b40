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
from collections.abc import Iterator, Sequence

from reenact.errors import ReenactError
from reenact.interrupt import Interrupted, exit_code, handle_signals

#: name -> (module in reenact.commands, the line `reenact --help` shows). A command's module,
#: which imports torch and the models, is imported only when that command runs (or shows its
#: --help): `reenact --help` stays fast.
COMMANDS: dict[str, tuple[str, str]] = {
    "run": ("run", "reenact a photo with a driving video: reenact SOURCE DRIVER OUT"),
    "aus": ("aus", "per-frame Action Units of a video, an image or a folder of images"),
    "animate": ("animate", "render an AU script (YAML/JSON keyframes, or an AU table) on a photo"),
    "render-batch": ("render_batch", "render every face photo with every AU target (datasets)"),
    "prepare-data": ("prepare_data",
                     "detect, align and AU-label the faces of photo folders into a training set"),
    "train": ("train", "train the GANimation generator on a prepared data set"),
    "fit-rig": ("fit_rig", "fit the AU rig of the warp-guided model (landmarks per AU)"),
    "train-refiner": ("train_refiner", "make paired warps of talking clips and train the refiner"),
    "eval": ("eval", "measure quality side by side: AU fidelity, self-reenactment, sharpness, colour, dlib "
                     "geometry, identity, seams, flicker"),
    "fetch": ("fetch", "fetch and verify every registered model and media file into the cache"),
    "studio": ("studio", "a local web page: AU sliders on a photo, AU scripts and driving videos"),
}
DEFAULT_COMMAND = "run"  # `reenact SOURCE DRIVER OUT` means `reenact run SOURCE DRIVER OUT`


def build_parser(commands: Sequence[str] | None = None) -> argparse.ArgumentParser:
    """The parser with every command listed; the arguments of ``commands`` (default: all) added.

    A command module has ``add_arguments(parser)``, which sets ``func`` (``func(args) -> exit
    code``); its docstring is the command's --help description."""
    parser = argparse.ArgumentParser(prog="reenact", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name, (module, line) in COMMANDS.items():
        if commands is not None and name not in commands:
            sub.add_parser(name, help=line)  # listed in `reenact --help`; its module not imported
            continue
        command = importlib.import_module(f"reenact.commands.{module}")
        p = sub.add_parser(name, help=line, description=command.__doc__,
                           formatter_class=argparse.RawDescriptionHelpFormatter)
        command.add_arguments(p)
    return parser


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv and argv[0] not in COMMANDS and not argv[0].startswith("-"):
        argv.insert(0, DEFAULT_COMMAND)
    args = build_parser(argv[:1]).parse_args(argv)
    if not getattr(args, "func", None):
        build_parser(()).print_help()
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
    from reenact.io.images import set_max_pixels  # here, not above: it imports numpy and PIL

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
