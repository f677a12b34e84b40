"""Optional AU backends beside the default (MediaPipe blendshapes + geometry, ``reenact.extract``).

An optional backend is importable without its package: it checks for the package and its
weights only when it is created, and raises ``WeightsError`` with what to install or download.

- ``pyfeat``: py-feat's Detectorv1 AU model (``reenact.backends.pyfeat``). py-feat ships no
  weights (it downloads them from the Hugging Face hub) and pulls a ~13 GB CUDA torch stack, so
  it is not installed by default. See docs/aus.md for why MediaPipe is the default.
"""

from __future__ import annotations

#: Names accepted by ``reenact aus --backend``.
AU_BACKENDS: tuple[str, ...] = ("mediapipe", "pyfeat")
