"""How well refiner weights reconstruct held-out pairs: the check in a refiner's model card.

A held-out pair file (``reenact train-refiner --make-data ... --only W011 feifeili reagan``) holds
crops of frame i warped to frame j's own landmarks and frame j itself. The check scores, on every
``every``-th pair, the warp alone and the warp with the refiner's paint composed over it, against
the real frame j: L1 (0..255) and PSNR, pooled over the pixels of the gate (where the refiner may
paint: a new mouth cavity, closing lids, a rising AU's region) and over the face.

    reenact train-refiner --check weights/refiner-cpu-v1.safetensors data/refiner_heldout.npz
"""

from __future__ import annotations

import zipfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from reenact.errors import InputError
from reenact.model.refiner import compose_refined, load_refiner


@dataclass(frozen=True)
class PairScores:
    """Pooled reconstruction errors of one way of making the pairs' destinations."""

    gate_l1: float
    gate_psnr: float
    face_l1: float
    face_psnr: float


def _pooled(out: np.ndarray, target: np.ndarray, mask: np.ndarray) -> tuple[float, float]:
    """L1 and PSNR (0..255) over the pixels where ``mask`` (N, 1, H, W) bool is set."""
    diff = (out.astype(np.float64) - target.astype(np.float64))[np.broadcast_to(mask, out.shape)]
    if diff.size == 0:
        return float("nan"), float("nan")
    mse = float(np.mean(diff ** 2))
    return float(np.mean(np.abs(diff))), float(10 * np.log10(255.0 ** 2 / max(mse, 1e-12)))


def scores(out: np.ndarray, target: np.ndarray, gate: np.ndarray, face: np.ndarray) -> PairScores:
    """Scores of (N, 3, H, W) uint8 outputs against their targets, gate and face (N, 1, H, W) bool."""
    return PairScores(*_pooled(out, target, gate), *_pooled(out, target, face))


def refine_pairs(weights: str | Path, crops: np.ndarray, masks: np.ndarray, cond: np.ndarray, *,
                 batch: int = 32) -> np.ndarray:
    """(N, 3, H, W) uint8: the refiner's paint composed over the warped crops, as the editor does."""
    refiner = load_refiner(weights)
    out = np.empty_like(crops)
    with torch.inference_mode():
        for i in range(0, len(crops), batch):
            crop = torch.from_numpy(crops[i:i + batch]).float() / 127.5 - 1.0
            m = torch.from_numpy(masks[i:i + batch]).float() / 255.0
            c = torch.from_numpy(cond[i:i + batch].astype(np.float32))
            color, attention = refiner(crop, m, c)
            composed = compose_refined(crop, color, attention, m[:, 2:3])
            out[i:i + batch] = ((composed.clamp(-1, 1) + 1) * 127.5).round().to(torch.uint8).numpy()
    return out


def check_refiners(weights: Sequence[str | Path], data: str | Path, *, every: int = 4
                   ) -> tuple[dict[str, PairScores], int]:
    """Scores of the warp alone (key "warp only") and of each weights file (key: its file name
    without the suffix) on every ``every``-th held-out pair, and the number of pairs scored.

    Raises:
        InputError: the pair file is missing or lacks the arrays ``--make-data`` writes.
    """
    path = Path(data)
    if not path.is_file():
        raise InputError(f"held-out pairs {path} do not exist; make them with --make-data ... --only")
    keys = ("crops", "masks", "cond", "targets", "face")
    try:
        with np.load(path) as z:
            missing = set(keys) - set(getattr(z, "files", ()))
            if not missing:
                a = {k: z[k][::every] for k in keys}
    except (OSError, ValueError, zipfile.BadZipFile) as e:
        raise InputError(f"{path} is not a readable .npz ({e}); give held-out pairs from --make-data") from e
    if missing:
        raise InputError(f"{path} is not a refiner pair file (no {', '.join(sorted(missing))}); "
                         "give held-out pairs from --make-data")
    gate, face = a["masks"][:, 2:3] > 127, a["face"] > 127
    out = {"warp only": scores(a["crops"], a["targets"], gate, face)}
    for w in weights:
        refined = refine_pairs(w, a["crops"], a["masks"], a["cond"])
        out[Path(w).stem] = scores(refined, a["targets"], gate, face)
    return out, len(a["crops"])


def check_table(results: dict[str, PairScores], n_pairs: int) -> str:
    """The markdown table of ``check_refiners``."""
    lines = [f"held-out pairs scored: {n_pairs}", "",
             "| | L1 in the gate (0..255) | PSNR in the gate | L1 over the face | PSNR over the face |",
             "|---|---|---|---|---|"]
    for name, s in results.items():
        lines.append(f"| {name} | {s.gate_l1:.2f} | {s.gate_psnr:.2f} dB | {s.face_l1:.2f} "
                     f"| {s.face_psnr:.2f} dB |")
    return "\n".join(lines)
