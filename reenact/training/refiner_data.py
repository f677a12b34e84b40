"""Paired training data for the refiner: a clip frame warped to another frame's geometry.

Frame i of a talking clip is the source; frame j of the same clip (same person, same light) gives
the destination mesh (its own tracked landmarks, so the warp is what a perfect rig would do) and
the answer: the real frame j. Both are cut with frame j's alignment. The refiner then learns to
paint what the warp of frame i cannot make of frame j: the inside of a mouth that opened, the lid
of an eye that closed, the creases of a frown.

Pairs favour what the refiner is for: destinations whose mouth is more open than the source's or
whose eyes are more closed are drawn more often, and head pose must stay close (the warp does not
turn heads).

A data set is one .npz: ``crops`` (N, 3, S, S) uint8 warped source crops, ``masks`` (N, 3, S, S)
uint8 (cavity, eyes, gate x 255), ``cond`` (N, 40) float16 (target cond, change), ``targets``
(N, 3, S, S) uint8 real destination crops, ``face`` (N, 1, S, S) uint8 face-oval mask, ``clip``
(N,) int16 clip index, and ``clip_names``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from matplotlib.path import Path as PolyPath

from reenact.au.space import TABLE_AU_NAMES, table_to_cond
from reenact.face.align import align_face, warp_to_crop
from reenact.face.tracking import FACE_OVAL, FaceObservation
from reenact.io.files import atomic_output
from reenact.io.video import read_all_frames
from reenact.model.editor import SourceFace
from reenact.model.refine_inputs import crop_inputs
from reenact.model.warp_editor import WarpEditor
from reenact.training.landmarks import LandmarkSet


@dataclass(frozen=True)
class PairConfig:
    """How pairs are drawn."""

    pairs_per_clip: int = 320
    targets_per_source: int = 4
    max_pose_change: float = 8.0  # degrees, yaw/pitch; roll at half of it
    favour: float = 4.0  # extra weight of destinations with a more open mouth or more closed eyes
    crop_size: int = 128
    seed: int = 0


def _observation(lm: np.ndarray, size: tuple[int, int]) -> FaceObservation:
    return FaceObservation(landmarks=lm.astype(np.float32), blendshapes=np.zeros(52, np.float32),
                           transform=np.eye(4, dtype=np.float32), image_size=size)


def draw_pairs(data: LandmarkSet, rows: np.ndarray, config: PairConfig, rng: np.random.Generator
               ) -> list[tuple[int, list[int]]]:
    """(source row, destination rows) for one clip's ``rows``."""
    col = {n: i for i, n in enumerate(TABLE_AU_NAMES)}
    aus = data.aus[rows]
    mouth = aus[:, col["AU25"]] + aus[:, col["AU26"]]
    blink = np.maximum(aus[:, col["AU45_L"]], aus[:, col["AU45_R"]])
    pose = data.pose[rows]
    out = []
    n_src = max(1, config.pairs_per_clip // config.targets_per_source)
    for i in rng.choice(len(rows), size=min(n_src, len(rows)), replace=False):
        dpose = np.abs(pose - pose[i])
        ok = (dpose[:, 0] < config.max_pose_change) & (dpose[:, 1] < config.max_pose_change) \
            & (dpose[:, 2] < config.max_pose_change / 2)
        ok[i] = False
        if ok.sum() < config.targets_per_source:
            continue
        w = 1.0 + config.favour * ((mouth - mouth[i]) > 0.3) + config.favour * ((blink - blink[i]) > 0.5)
        w = np.where(ok, w, 0.0)
        js = rng.choice(len(rows), size=config.targets_per_source, replace=False, p=w / w.sum())
        out.append((int(rows[i]), [int(rows[j]) for j in js]))
    return out


def face_mask(landmarks: np.ndarray, frame_to_crop: np.ndarray, size: int) -> np.ndarray:
    """(S, S) uint8 face-oval mask of a face in its aligned crop."""
    oval = np.asarray(landmarks, np.float64)[list(FACE_OVAL), :2]
    pts = oval @ frame_to_crop[:, :2].T + frame_to_crop[:, 2]
    ys, xs = np.mgrid[0:size, 0:size]
    inside = PolyPath(pts).contains_points(np.stack([xs.ravel(), ys.ravel()], 1))
    return (inside.reshape(size, size) * 255).astype(np.uint8)


def pair_samples(editor: WarpEditor, frames: np.ndarray, data: LandmarkSet, source_row: int,
                 dest_rows: Sequence[int], crop_size: int) -> dict[str, np.ndarray]:
    """Training samples of one source frame and its destinations (see the module docstring)."""
    src_lm = data.landmarks[source_row].astype(np.float64)
    image = frames[data.frame[source_row]]
    size = image.shape[:2]
    out = {k: [] for k in ("crops", "masks", "cond", "targets", "face")}
    for j in dest_rows:
        dst_lm = data.landmarks[j].astype(np.float64)
        alignment = align_face(dst_lm, crop_size)
        source = SourceFace(image=image, face=_observation(src_lm, size), alignment=alignment,
                            aus=data.aus[source_row], n_faces=1)
        prepared = editor.prepare(source)
        targets = data.aus[j][None].astype(np.float32)
        dst = dst_lm[None, :468, :2]
        coarse, tri, warped = editor.warp(prepared, dst)
        masks = editor.masks(prepared, targets, dst, tri)
        crop, crop_masks = crop_inputs(prepared.blurred, coarse, masks, prepared.grid,
                                       step=prepared.geometry.step, region_size=prepared.geometry.size,
                                       offset=prepared.geometry.offset)
        target_img = torch.from_numpy(frames[data.frame[j]]).permute(2, 0, 1)[None].float()
        target = warp_to_crop(target_img, torch.from_numpy(alignment.frame_to_crop).float()[None], crop_size)
        cond = table_to_cond(targets)[0]
        out["crops"].append(((crop[0] + 1) * 127.5).round().clamp(0, 255).byte().numpy())
        out["masks"].append((crop_masks[0] * 255).round().clamp(0, 255).byte().numpy())
        out["cond"].append(np.concatenate([cond, cond - prepared.cond]).astype(np.float16))
        out["targets"].append(target[0].round().clamp(0, 255).byte().numpy())
        out["face"].append(face_mask(dst_lm, alignment.frame_to_crop, crop_size)[None])
    return {k: np.stack(v) for k, v in out.items()}


def build_dataset(clips: Sequence[Path], data: LandmarkSet, *, editor: WarpEditor,
                  exclude: Sequence[str] = (), config: PairConfig = PairConfig(),
                  progress: Callable[[int], None] | None = None) -> dict[str, np.ndarray]:
    """Pairs from every clip whose name does not start with one of ``exclude`` (held out)."""
    rng = np.random.default_rng(config.seed)
    parts, names = [], []
    for g, name in enumerate(data.group_names):
        if any(name.startswith(e) for e in exclude):
            continue
        clip = next((c for c in clips if Path(c).stem == name), None)
        rows = np.flatnonzero(data.group == g)
        if clip is None or len(rows) < 10:
            continue
        frames = read_all_frames(clip)
        for src, dests in draw_pairs(data, rows, config, rng):
            part = pair_samples(editor, frames, data, src, dests, config.crop_size)
            part["clip"] = np.full(len(dests), len(names), np.int16)
            parts.append(part)
        names.append(name)
        if progress is not None:
            progress(1)
    out = {k: np.concatenate([p[k] for p in parts]) for k in parts[0]}
    out["clip_names"] = np.array(names)
    return out


def save_pairs(pairs: dict[str, np.ndarray], out: str | Path) -> None:
    """Write a data set of pairs (``build_dataset``) as one .npz, atomically."""
    with atomic_output(Path(out)) as tmp, open(tmp, "wb") as f:
        np.savez(f, **pairs)
