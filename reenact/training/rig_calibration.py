"""Closed-loop calibration of the AU rig and the whole ``reenact fit-rig`` job.

The regression's bases move the landmarks as real faces do per AU unit, but a warp alone shows a
muscle less clearly than a real face (no bulging, no new teeth), and noisy labels shrink the
fitted slopes. So each basis is scaled by a gain found in closed loop: neutral faces are warped by
gain x basis and re-measured with the project's AU extractor; the gain is where the re-measured
AU first rises by ``CalibrationConfig.target``. Lowering an AU keeps the regression's own basis.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from reenact.model.rig import AURig
from reenact.training.landmarks import LandmarkSet
from reenact.training.rig import RigFitReport, fit_rig
from reenact.training.rig_lids import basis_closure, closure_gain_caps, real_closure

LOWER_GAIN = 1.5  # the most a lowering basis is scaled up from the regression's


@dataclass(frozen=True)
class CalibrationConfig:
    """Closed-loop gain per AU: warp faces by gain x basis, re-measure, aim at ``target``."""

    gains: tuple[float, ...] = (1.0, 2.0, 3.0, 4.0)
    target: float = 0.75  # wanted rise of the re-measured AU for a unit request from a calm face
    max_gain: float = 3.0  # more exaggerates the geometry beyond what faces do
    weak_gain: float = 2.0  # AUs MediaPipe cannot measure (AU06, AU09) get this fixed gain


def au_responses(rig: AURig, sources, gains: Sequence[float], *, tracker, editor_factory) -> np.ndarray:
    """(20, len(gains)) mean rise of each re-measured cond value when a face is warped by
    gain x that basis, over ``sources`` (``SourceFace`` list)."""
    from reenact.au.blendshapes import aus_from_face
    from reenact.au.space import COND_NAMES, TABLE_AU_NAMES

    editor = editor_factory(rig)
    col = [TABLE_AU_NAMES.index(n) for n in COND_NAMES]
    total = np.zeros((len(COND_NAMES), len(gains)))
    n = 0
    for src in sources:
        prepared = editor.prepare(src)
        motions = np.stack([g * rig.bases[k] for k in range(len(COND_NAMES)) for g in gains])
        batch = editor.edit(prepared, np.repeat(src.aus[None], len(motions), 0), motion=motions)
        frames = prepared.assemble(batch.regions)
        found = [tracker.detect(f) for f in frames]
        if any(f is None for f in found):
            continue
        measured = np.stack([aus_from_face(f) for f in found])[:, col]  # (20 * G, 20)
        rise = measured.reshape(len(COND_NAMES), len(gains), -1) - src.aus[col][None, None]
        total += rise[np.arange(len(COND_NAMES)), :, np.arange(len(COND_NAMES))]
        n += 1
    return total / max(n, 1)


def calibration_gains(responses: np.ndarray, gains: Sequence[float], config: CalibrationConfig,
                      *, weak: Sequence[int] = ()) -> np.ndarray:
    """(20,) gain per cond value: where its response curve first reaches ``config.target``
    (linear interpolation; the largest tried gain where it never does, at most ``max_gain``)."""
    g = np.concatenate([[0.0], np.asarray(gains, np.float64)])
    out = np.empty(len(responses))
    for k, r in enumerate(responses):
        curve = np.maximum.accumulate(np.concatenate([[0.0], r]))
        above = np.flatnonzero(curve >= config.target)
        if k in weak:
            out[k] = config.weak_gain
        elif not len(above):
            out[k] = g[-1]
        else:
            i = above[0]
            t = (config.target - curve[i - 1]) / max(curve[i] - curve[i - 1], 1e-9)
            out[k] = g[i - 1] + t * (g[i] - g[i - 1])
    return np.minimum(out, config.max_gain)


# ------------------------------------------------------------------------------ whole fit job


@dataclass(frozen=True)
class RigJob:
    """Inputs of ``reenact fit-rig`` (see ``run_fit``)."""

    clips: tuple[Path, ...]  # talking clips: pairs within each clip
    posed: Path | None  # a posed set named like TFEID (performer = 2 chars, expression = 5th char)
    photos: tuple[Path, ...]  # photo folders: unrelated faces
    max_photos: int = 2500  # photos used per folder (chosen at random)
    held_out: tuple[str, ...] = ()  # clip-name prefixes scored, not fitted
    calibration_faces: int = 20  # neutral posed photos used for the closed-loop calibration
    cache: Path | None = None  # folder keeping the measured landmarks (re-used when present)
    seed: int = 0


def _measured(job: RigJob, progress) -> tuple[LandmarkSet, LandmarkSet, LandmarkSet]:
    import random

    from reenact.training.landmarks import detect_photos, tfeid_groups, track_clips

    def cached(name: str, make):
        path = job.cache / f"{name}.npz" if job.cache else None
        if path is not None and path.is_file():
            return LandmarkSet.load(path)
        data = make()
        if path is not None:
            path.parent.mkdir(parents=True, exist_ok=True)
            data.save(path)
        return data

    rng = random.Random(job.seed)
    photos = []
    for folder in job.photos:
        files = [p for p in Path(folder).rglob("*") if p.is_file()
                 and p.suffix.lower() in (".jpg", ".jpeg", ".png", ".webp", ".bmp")]
        rng.shuffle(files)
        photos += files[: job.max_photos]
    clips = cached("clips", lambda: track_clips(job.clips, progress=progress))
    if job.posed is not None:
        p, g, names = tfeid_groups(job.posed)
        posed = cached("posed", lambda: detect_photos(p, groups=g, group_names=names, progress=progress))
    else:
        posed = cached("posed", lambda: detect_photos([]))
    unrelated = cached("photos", lambda: detect_photos(photos, progress=progress))
    return clips, posed, unrelated


def posed_neutral(posed: LandmarkSet) -> np.ndarray:
    """(N,) bool: TFEID-style names whose expression letter (5th character) is 'a' (neutral)."""
    return np.array([Path(f).name[4:5] == "a" for f in posed.files], bool)


def run_fit(job: RigJob, *, progress=None) -> tuple[AURig, RigFitReport, np.ndarray]:
    """Measure, fit, localise, calibrate: the whole rig. Returns (rig, report, gains (20,)).

    The gains are capped where a basis would close the eyes more than real faces do when that
    AU rises (``reenact.training.rig_lids``)."""
    from reenact.au.space import COND_NAMES
    from reenact.face.tracking import FaceTracker
    from reenact.model.warp_editor import WarpEditor

    clips, posed, photos = _measured(job, progress)
    neutral = posed_neutral(posed)
    rig, report = fit_rig(clips, posed, photos, posed_neutral=neutral, held_out_groups=job.held_out)
    sources = calibration_sources(posed, neutral, job.calibration_faces)
    cfg = CalibrationConfig()
    with FaceTracker() as tracker:
        responses = au_responses(rig, sources, cfg.gains, tracker=tracker, editor_factory=WarpEditor)
    weak = [COND_NAMES.index("AU06"), COND_NAMES.index("AU09")]
    real = real_closure([(clips, None), (posed, neutral)], held_out_groups=job.held_out)
    caps = closure_gain_caps(basis_closure(rig), real)
    gains = symmetric(np.minimum(calibration_gains(responses, cfg.gains, cfg, weak=weak), caps))
    meta = {**rig.metadata, "gains": ",".join(f"{g:.3f}" for g in gains),
            "calibration_faces": str(len(sources)),
            "eye_closure_caps": ",".join(f"{c:.3f}" for c in caps)}
    lower = rig.bases * np.clip(gains, 1.0, LOWER_GAIN)[:, None, None]
    calibrated = AURig(bases=(rig.bases * gains[:, None, None]).astype(np.float32), mean=rig.mean,
                       rigid_weights=rig.rigid_weights, metadata=meta, lower_bases=lower.astype(np.float32))
    return calibrated, report, gains


def symmetric(gains: np.ndarray) -> np.ndarray:
    """Left and right of each sided AU share the mean of their gains (the rig stays symmetric)."""
    from reenact.au.space import COND_NAMES

    out = np.array(gains, np.float64, copy=True)
    for name in COND_NAMES:
        if name.endswith("_L"):
            i, j = COND_NAMES.index(name), COND_NAMES.index(name[:-2] + "_R")
            out[i] = out[j] = 0.5 * (gains[i] + gains[j])
    return out


def calibration_sources(posed: LandmarkSet, neutral: np.ndarray, n: int) -> list:
    """``SourceFace`` s of up to n neutral posed photos (one per performer where possible)."""
    from reenact.au.blendshapes import aus_from_face
    from reenact.face.align import align_face
    from reenact.face.tracking import FaceTracker, TrackerConfig
    from reenact.io.images import load_image
    from reenact.model.editor import SourceFace
    from reenact.training.prepare import upscale_small

    seen, files = set(), []
    for i in np.flatnonzero(neutral):
        if posed.group[i] not in seen:
            seen.add(posed.group[i])
            files.append(posed.files[i])
    sources = []
    with FaceTracker(TrackerConfig(max_faces=1)) as tracker:
        for f in files[:n]:
            image = upscale_small(load_image(f), 256)
            face = tracker.detect(image)
            if face is not None:
                sources.append(SourceFace(image=image, face=face, alignment=align_face(face.landmarks),
                                          aus=aus_from_face(face), n_faces=1))
    return sources
