"""``python -m reenact ...``: the ``reenact`` command (``torchrun -m reenact train ...`` too)."""

import sys

from reenact.cli import main

if __name__ == "__main__":
    sys.exit(main())
