"""Named face models: ``build_editor("ganimation")`` and friends, for the CLI, eval and the API.

Names:
- ``none``: the do-nothing reference (every frame is the source photo).
- ``ganimation``: GANimation's generator repainting the 128 crop (``weights``: its .safetensors,
  default the registered ``generator``).

Warp-guided models register here too once they exist (``MODELS``).
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

from reenact.errors import InputError
from reenact.model.editor import FaceEditor, IdentityEditor
from reenact.paste import PasteConfig


def _ganimation(weights: str | os.PathLike | None, paste: PasteConfig) -> FaceEditor:
    from reenact.generator import load_generator
    from reenact.model.ganimation import GanimationEditor
    from reenact.pipeline import registered_generator_path

    path = Path(weights) if weights is not None else registered_generator_path()
    return GanimationEditor(load_generator(path), paste)


def _none(weights: str | os.PathLike | None, paste: PasteConfig) -> FaceEditor:
    return IdentityEditor()


#: name -> builder(weights, paste) of every model reenact can run.
MODELS: dict[str, Callable[[str | os.PathLike | None, PasteConfig], FaceEditor]] = {
    "ganimation": _ganimation,
    "none": _none,
}
DEFAULT_MODEL = "ganimation"


def build_editor(name: str = DEFAULT_MODEL, *, weights: str | os.PathLike | None = None,
                 paste: PasteConfig = PasteConfig()) -> FaceEditor:
    """The face model called ``name`` (see the module docstring), on the CPU.

    Raises:
        InputError: unknown name. WeightsError: its weights cannot be found or read.
    """
    if name not in MODELS:
        raise InputError(f"unknown model {name!r}; choose one of {', '.join(MODELS)}")
    return MODELS[name](weights, paste)
