"""`reenact fetch`: get and verify every registered model and media file."""

from __future__ import annotations

import argparse

from reenact.weights import fetch_all


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("names", nargs="*", help="entries of weights/manifest.json (default: all)")
    p.add_argument("--quiet", action="store_true", help="print nothing when all files are present")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    for path in fetch_all(args.names or None, quiet=args.quiet):
        if not args.quiet:
            print(path)
    return 0
