"""`reenact fetch`: get and verify every registered model and media file."""

from __future__ import annotations

import argparse


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("fetch", help="download and verify the registered model files into the cache")
    p.add_argument("names", nargs="*", help="entries of weights/manifest.json (default: all)")
    p.add_argument("--quiet", action="store_true", help="print nothing when all files are present")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from reenact.weights import fetch_all

    for path in fetch_all(args.names or None, quiet=args.quiet):
        if not args.quiet:
            print(path)
    return 0
