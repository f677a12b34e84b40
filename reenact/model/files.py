"""The models' weight files: safetensors with the format and the config in the metadata.

``save_module`` writes a network's weights (fp16 by default) with ``{"format": ..., "config":
json}`` plus any metadata; ``read_weights`` reads a file back into (metadata, tensors) with
errors that say what to do; ``load_module`` builds a network from such a file after checking its
format (``load_generator``, ``load_refiner``; ``load_rig`` reads numpy arrays).
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path

import torch
from safetensors import SafetensorError, safe_open
from safetensors.torch import save_file

from reenact.errors import WeightsError


def save_module(module: torch.nn.Module, path: str | os.PathLike, *, fmt: str, config: dict,
                metadata: dict[str, str] | None = None, half: bool = True) -> None:
    """Write ``module``'s state dict (fp16 when ``half``) with ``fmt`` and ``config`` in the metadata."""
    dtype = torch.float16 if half else torch.float32
    tensors = {k: v.detach().to("cpu", dtype).contiguous() for k, v in module.state_dict().items()}
    save_file(tensors, str(path), metadata={"format": fmt, "config": json.dumps(config), **(metadata or {})})


def read_weights(path: str | os.PathLike, *, missing: str,
                 framework: str = "pt") -> tuple[dict[str, str], dict]:
    """(metadata, tensors) of a safetensors file; torch tensors are cast to fp32.

    Args:
        path: the file.
        missing: the error message when there is no file (what it is and how to get one).
        framework: "pt" (torch tensors) or "numpy".

    Raises:
        WeightsError: no file, or not a readable safetensors file.
    """
    path = Path(path)
    if not path.is_file():
        raise WeightsError(missing)
    try:
        with safe_open(str(path), framework=framework) as f:
            meta = f.metadata() or {}
            tensors = {k: f.get_tensor(k) for k in f.keys()}
    except (SafetensorError, OSError) as exc:
        raise WeightsError(f"{path} is not a readable safetensors file ({exc})") from exc
    if framework == "pt":
        tensors = {k: v.float() for k, v in tensors.items()}
    return meta, tensors


def load_module(path: str | os.PathLike, build: Callable[[dict], torch.nn.Module], *, fmt: str, what: str,
                missing: str) -> torch.nn.Module:
    """The network ``build(config)`` with the weights of a ``save_module`` file, in eval mode.

    Raises:
        WeightsError: no file, an unreadable one, or one of another format than ``fmt``.
    """
    meta, tensors = read_weights(path, missing=missing)
    if meta.get("format") != fmt:
        raise WeightsError(f"{path} is not a reenact {what} (format={meta.get('format')!r})")
    module = build(json.loads(meta["config"]))
    module.load_state_dict(tensors)
    return module.eval()
