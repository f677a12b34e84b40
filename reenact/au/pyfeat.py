"""Optional AU backend: py-feat's Detectorv1 (RetinaFace + landmarks + XGBoost AU classifier).

Usable only when the ``feat`` package (``pip install 'reenact[pyfeat]'``) and its model weights
are present. py-feat downloads its weights from the Hugging Face hub (``py-feat/*``
repositories: face detector, landmarks, XGBoost AU classifier) into the Hugging Face cache
(``$HF_HOME``, default ``~/.cache/huggingface``). Offline, create the detector once on a
machine with internet and copy that cache folder, or point ``$HF_HOME`` at a copy.

Its AU columns are PROBABILITIES that an AU is present, not intensities; they are mapped as in
``reenact.au.tables`` (AU43 eyes-closed fills AU45; left/right copy the bilateral value).
"""

from __future__ import annotations

import importlib.util
import os
from pathlib import Path

import numpy as np

from reenact.au.tables import track_from_pyfeat
from reenact.au.track import AUTrack
from reenact.errors import WeightsError

INSTALL_HINT = ("install it with `pip install 'reenact[pyfeat]'` (py-feat 2.1.5; it pulls a CUDA "
                "torch, ~13 GB) or use the default MediaPipe backend")
WEIGHTS_HINT = ("py-feat downloads its models from the Hugging Face hub (py-feat/*): run it once "
                "with internet, or copy a filled Hugging Face cache and set HF_HOME to it")


def available() -> bool:
    """Whether the py-feat package is importable (its weights are checked on creation)."""
    return importlib.util.find_spec("feat") is not None


class PyFeatBackend:
    """py-feat AU detector over images or a video, returning an ``AUTrack``.

    Raises:
        WeightsError: py-feat is not installed, or its model weights cannot be loaded.
    """

    name = "pyfeat"

    def __init__(self, *, device: str = "cpu"):
        if not available():
            raise WeightsError(f"the py-feat AU backend needs the py-feat package; {INSTALL_HINT}")
        try:
            import feat
        except ImportError as exc:
            raise WeightsError(f"py-feat is installed but does not import ({exc}); {INSTALL_HINT}") from exc
        try:
            # Only what AUs need: no emotion, identity or gaze models to download.
            self._detector = feat.Detectorv1(device=device, au_model="xgb", emotion_model=None,
                                             identity_model=None, gaze_model=None)
        except (OSError, ValueError, RuntimeError) as exc:
            # huggingface_hub's offline/missing-file errors derive from OSError or ValueError.
            raise WeightsError(
                f"py-feat's model weights are not available ({type(exc).__name__}); {WEIGHTS_HINT}"
            ) from exc

    def extract_images(self, paths: list[Path]) -> AUTrack:
        """One row per image (largest face), fps 0.0."""
        fex = self._detector.detect([str(p) for p in paths], data_type="image", progress_bar=False)
        return _to_track(fex, fps=0.0)

    def extract_video(self, path: Path, fps: float) -> AUTrack:
        """One row per frame (largest face) of a clip."""
        fex = self._detector.detect(str(path), data_type="video", progress_bar=False)
        return _to_track(fex, fps=fps)


def _to_track(fex, *, fps: float) -> AUTrack:
    """py-feat's Fex (a pandas DataFrame) -> AUTrack."""
    cols: dict[str, np.ndarray | None] = {}
    for name in fex.columns:
        try:
            cols[str(name)] = fex[name].to_numpy(dtype=np.float64)
        except (TypeError, ValueError):
            cols[str(name)] = None
    inputs = [os.path.basename(str(v)) for v in fex["input"]] if "input" in fex.columns else None
    return track_from_pyfeat(cols, inputs=inputs, fps=fps)
