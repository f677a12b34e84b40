"""Named face models: ``build_editor("ganimation")`` and friends, for the CLI, eval and the API.

Names:
- ``warp+refiner``: the warp-guided model: the AU rig moves the photo's own pixels and the
  refiner paints only what a warp cannot (``weights``: the refiner's .safetensors, default the
  registered ``refiner``, or an AU rig's, which then replaces the rig; ``rig``: the rig's,
  default the registered ``rig``).
- ``warp``: the same without the refiner (the new mouth opening shown as a dark cavity).
- ``ganimation``: GANimation's generator repainting the 128 crop (``weights``: its .safetensors,
  default the registered ``generator``).
- ``none``: the do-nothing reference (every frame is the source photo).
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

from reenact.errors import InputError, WeightsError
from reenact.face.paste import PasteConfig
from reenact.model.editor import FaceEditor, IdentityEditor
from reenact.model.ganimation import GanimationEditor
from reenact.model.generator import load_generator
from reenact.model.refiner import load_refiner
from reenact.model.rig import RIG_FORMAT, AURig, load_rig
from reenact.model.warp_editor import WarpEditor
from reenact.weights import MANIFEST_PATH, fetch, load_manifest


def registered_generator_path() -> Path:
    """Local path of the trained GANimation generator registered in weights/manifest.json.

    Raises:
        WeightsError: no generator is registered, or it cannot be fetched and verified.
    """
    names = sorted(n for n, e in load_manifest().items()
                   if e.file.endswith(".safetensors") and n.startswith("generator"))
    if not names:
        raise WeightsError(f"no trained generator is registered in {MANIFEST_PATH}; pass --weights PATH")
    preferred = sorted(names, key=lambda n: (n != "generator", n))[0]  # "generator" first
    return fetch(preferred, quiet=True)


def load_registered_rig(rig: str | os.PathLike | None = None) -> AURig:
    """The AU rig at ``rig``, or the registered one."""
    return load_rig(Path(rig) if rig is not None else fetch("rig", quiet=True))


def _ganimation(weights: str | os.PathLike | None, paste: PasteConfig, rig) -> FaceEditor:
    path = Path(weights) if weights is not None else registered_generator_path()
    return GanimationEditor(load_generator(path), paste)


def _none(weights: str | os.PathLike | None, paste: PasteConfig, rig) -> FaceEditor:
    return IdentityEditor()


def _warp(weights: str | os.PathLike | None, paste: PasteConfig, rig) -> FaceEditor:
    return WarpEditor(load_registered_rig(rig))


def _warp_refiner(weights: str | os.PathLike | None, paste: PasteConfig, rig) -> FaceEditor:
    refiner = load_refiner(Path(weights) if weights is not None else fetch("refiner", quiet=True))
    return WarpEditor(load_registered_rig(rig), refiner=refiner)


Builder = Callable[[str | os.PathLike | None, PasteConfig, str | os.PathLike | None], FaceEditor]
#: name -> builder(weights, paste, rig) of every model reenact can run.
MODELS: dict[str, Builder] = {
    "warp+refiner": _warp_refiner,
    "warp": _warp,
    "ganimation": _ganimation,
    "none": _none,
}
DEFAULT_MODEL = "warp+refiner"


def weights_format(weights: str | os.PathLike | None) -> str | None:
    """The ``format`` in a .safetensors file's metadata (None: no file, unreadable, or none given)."""
    if weights is None:
        return None
    try:
        from safetensors import safe_open

        with safe_open(str(weights), framework="pt") as f:
            return (f.metadata() or {}).get("format")
    except Exception:  # noqa: BLE001 - the loader says what is wrong with the file
        return None


def model_for_weights(weights: str | os.PathLike | None) -> str:
    """The model a weights file belongs to when no name is given: ``ganimation`` for a GANimation
    generator's .safetensors, else the default model (a missing or unreadable file is left for
    the model's own loader to report)."""
    return "ganimation" if weights_format(weights) == "reenact-generator-v1" else DEFAULT_MODEL


def build_editor(name: str | None = None, *, weights: str | os.PathLike | None = None,
                 paste: PasteConfig = PasteConfig(), rig: str | os.PathLike | None = None) -> FaceEditor:
    """The face model called ``name`` (see the module docstring), on the CPU; without a name, the
    model ``weights`` belong to (``model_for_weights``).

    Raises:
        InputError: unknown name. WeightsError: its weights cannot be found or read.
    """
    if name is None:
        name = model_for_weights(weights)
    if weights_format(weights) == RIG_FORMAT:  # an AU rig given as the weights: the warp models' rig
        if not name.startswith("warp"):
            raise InputError(f"{weights} is an AU rig: it belongs to the warp models, not {name!r}")
        weights, rig = None, weights
    if name not in MODELS:
        raise InputError(f"unknown model {name!r}; choose one of {', '.join(MODELS)}")
    return MODELS[name](weights, paste, rig)
