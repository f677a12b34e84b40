"""Devices and precision: where the models run and in which number format.

Stages never pick a device (house style); the pipelines, the trainers and the commands do, with
``pick_device``. ``bf16_supported`` tells whether bf16 autocast is native on a device, which is
what the rendering pipelines' ``precision="auto"`` uses.
"""

from __future__ import annotations

import torch

from reenact.errors import InputError

#: Precisions a rendering pipeline accepts (``PipelineConfig.precision``, ``--precision``).
PRECISIONS: tuple[str, ...] = ("auto", "bf16", "fp32")


def pick_device(name: str | torch.device = "auto") -> torch.device:
    """``"auto"`` -> CUDA when present, else the CPU; any other torch device name is checked.

    Raises:
        InputError: an unknown device name, or CUDA asked for where there is none.
    """
    if isinstance(name, torch.device):
        name = str(name)
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        device = torch.device(name)
    except RuntimeError as exc:
        raise InputError(f"unknown device {name!r}; use auto, cpu or cuda") from exc
    if device.type == "cuda" and not torch.cuda.is_available():
        raise InputError("--device cuda was asked for but no CUDA GPU is available; use --device cpu")
    return device


def bf16_supported(device: torch.device) -> bool:
    """Whether bf16 autocast is native (fast) on ``device``; checked with a tiny probe."""
    if device.type == "cuda":
        return torch.cuda.is_bf16_supported()
    if device.type != "cpu":
        return False
    if not (torch.backends.mkldnn.is_available() and _cpu_has_native_bf16()):
        return False
    try:  # the probe: a conv under autocast must run and return bf16
        with torch.inference_mode(), torch.autocast("cpu", dtype=torch.bfloat16):
            y = torch.nn.functional.conv2d(torch.ones(1, 4, 8, 8), torch.ones(4, 4, 3, 3))
        return y.dtype == torch.bfloat16
    except RuntimeError:
        return False


def _cpu_has_native_bf16() -> bool:
    probe = getattr(torch.ops.mkldnn, "_is_mkldnn_bf16_supported", None)
    try:
        return bool(probe()) if probe is not None else False
    except RuntimeError:
        return False
