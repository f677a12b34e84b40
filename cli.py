"""The ``reenact`` command run from a checkout: ``python cli.py SOURCE DRIVER OUT``, ``python cli.py --help``.

A thin entry over the dispatcher, ``reenact.cli.main``, which is also what the installed ``reenact``
console script and ``python -m reenact`` call. This file is a script, not an installed module: a
wheel installs only the ``reenact`` package (CONTRIBUTING.md, "The command line").
"""

import sys

from reenact.cli import main

if __name__ == "__main__":
    sys.exit(main())
