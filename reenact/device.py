"""Devices and precision: where the models run and in which number format.

Stages never pick a device (house style); the pipelines, the trainers and the commands do, with
``pick_device``. ``bf16_supported`` tells whether bf16 autocast is native on a device, which is
what the rendering pipelines' ``precision="auto"`` uses; ``set_cpu_threads`` sets torch's and
OpenCV's kernel threads for the process (the commands' ``--threads``, the demo).
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


def set_cpu_threads(n: int | None) -> None:
    """Threads of torch's and OpenCV's CPU kernels (None: leave their defaults).

    One is the right number for the pipeline on a small CPU: its own threads (decoding, frame
    assembly) and ffmpeg use the other cores, and two kernel threads per library competing with
    them ran 2-3x slower here (16 vs 6 fps at 512x512 on 2 cores).
    """
    if n is None:
        return
    import cv2  # here: only the processes that set threads need OpenCV loaded for it

    torch.set_num_threads(max(1, n))
    cv2.setNumThreads(max(1, n))


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
