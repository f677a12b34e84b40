"""Packaging: pyproject.toml says everything but one step, done here.

A wheel carries the committed weights (``weights/*.safetensors``), their model cards and
``weights/manifest.json`` as package data in ``reenact/_weights/``, where ``reenact.weights`` finds
them outside a checkout; fetched files (MediaPipe's model, the test media) stay in the cache that
``reenact fetch`` fills. An editable install reads the checkout's ``weights/`` instead.
"""

import shutil
from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py

WEIGHTS = Path(__file__).resolve().parent / "weights"
BUNDLED = ("manifest.json", "*.safetensors", "*.md")


class BuildWithWeights(build_py):
    def run(self) -> None:
        if not getattr(self, "editable_mode", False):
            # pip builds a checkout in place: a module moved or deleted since the last build must
            # not ride along from build/lib into the wheel
            shutil.rmtree(Path(self.build_lib) / "reenact", ignore_errors=True)
        super().run()
        if getattr(self, "editable_mode", False):
            return
        target = Path(self.build_lib) / "reenact" / "_weights"
        self.mkpath(str(target))
        for pattern in BUNDLED:
            for path in sorted(WEIGHTS.glob(pattern)):
                self.copy_file(str(path), str(target / path.name))


setup(cmdclass={"build_py": BuildWithWeights})
