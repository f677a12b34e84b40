"""The evaluation harness: render source faces with a generator and measure how good they are.

Two kinds of job, both returning typed results that ``write_report`` turns into a JSON report,
a markdown table and a contact sheet PNG:

- ``evaluate_targets``: each source photo x each AU target (emotion prototypes at a few
  intensities, winks, half smiles). Per output: the AUs re-measured by the project's own
  extractor (MediaPipe + ``reenact.aus``), the identity distance to the source (dlib's
  descriptor, optional), the seam of the paste-back and G's attention statistics.
- ``evaluate_videos``: each source photo driven by each driving clip (the pipeline's smoothing
  and AU transfer, relative by default). Adds AU correlation over time and temporal stability
  (change outside the face mask, flicker inside it).

The outputs are pasted back into the full-resolution photo by ``reenact.paste.Paster`` when it is
available (``EvalConfig.paste``); otherwise the 128 crop itself is evaluated ("crop" mode, no
seam). A reference row measures the unchanged source against the same targets: a generator that
does nothing scores that baseline, so fidelity is only good where it beats it.
"""

from __future__ import annotations

import datetime
import json
import platform
from collections.abc import Callable, Iterator, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import torch

from reenact.align import Alignment, align_face, warp_to_crop
from reenact.au import GESTURES, TABLE_AU_NAMES, preset, table_to_cond
from reenact.aus import RELIABLE_AUS, WEAK_AUS, AUTrack, aus_from_face
from reenact.errors import InputError, NoFaceError
from reenact.metrics import (
    AttentionStats,
    AUFidelity,
    SeamStats,
    TemporalStability,
    attention_stats,
    au_changes,
    au_fidelity,
    frame_changes,
    seam_stats,
    stability_from_changes,
)
from reenact.tracking import FaceObservation, FaceTracker

ProgressFn = Callable[[int], None]

EMOTIONS: tuple[str, ...] = ("happy", "sad", "surprise", "fear", "anger", "disgust", "contempt")
EVAL_GESTURES: tuple[str, ...] = ("wink_left", "wink_right", "half_smile_left", "half_smile_right")
#: Name of the built-in source photo (scikit-image's astronaut, public domain).
ASTRONAUT = "astronaut"
DEFAULT_SOURCES: tuple[str, ...] = (ASTRONAUT, "media/single_face.jpg", "media/multi_face.jpg")
#: Side of the measured window around the source face, in units of its landmark box.
MEASURE_ZOOM = 2.0


@dataclass(frozen=True)
class EvalConfig:
    """Options of the evaluation harness."""

    emotions: tuple[str, ...] = EMOTIONS  # emotion prototypes to request
    intensities: tuple[float, ...] = (0.5, 1.0)  # intensities of each emotion prototype
    gestures: tuple[str, ...] = EVAL_GESTURES  # one-sided gestures, at intensity 1
    paste: bool = True  # paste back at full resolution (reenact.paste); False: score the crop
    identity: bool = True  # dlib identity distances (needs the eval extra; skipped without it)
    batch_size: int = 8  # generator batch
    max_video_frames: int = 96  # frames of each driving clip used (from its start)
    transfer: str = "relative"  # video AU transfer as in the pipeline: relative | absolute
    cell_size: int = 160  # contact sheet cell side in pixels


@dataclass(frozen=True)
class EvalSource:
    """One source face: the photo, the chosen face, and a short name."""

    name: str
    image: np.ndarray  # (H, W, 3) uint8 RGB
    face: FaceObservation


@dataclass(frozen=True)
class EvalTarget:
    """One requested expression: a name and an AU-table row (23,) in [0, 1]."""

    name: str
    aus: np.ndarray


def default_targets(config: EvalConfig = EvalConfig()) -> tuple[EvalTarget, ...]:
    """The emotion prototypes at each intensity, then the gestures at intensity 1."""
    targets = [EvalTarget(f"{e}@{i:g}", preset(e, i)) for e in config.emotions for i in config.intensities]
    targets += [EvalTarget(g, preset(g, 1.0)) for g in config.gestures if g in GESTURES]
    return tuple(targets)


# ---------------------------------------------------------------------------------------------
# Sources


def load_sources(specs: Sequence[str], *, tracker: FaceTracker) -> list[EvalSource]:
    """Source faces from image paths, registered media names (``media/...``) or ``astronaut``.

    Every face MediaPipe finds in a photo becomes a source (left to right, ``name#k``).

    Raises:
        ImageReadError / WeightsError: an unreadable image or unregistered media name.
        NoFaceError: a photo without any face.
    """
    from reenact.images import load_image

    sources = []
    for spec in specs:
        if spec == ASTRONAUT:
            try:
                from skimage import data
            except ImportError as exc:
                raise InputError("the astronaut source needs scikit-image (the dev extra); "
                                 "pass --sources PHOTO instead") from exc
            image, name = np.array(data.astronaut()), ASTRONAUT
        else:
            path = Path(spec)
            if not path.exists() and spec.startswith("media/"):
                from reenact.weights import fetch

                path = fetch(spec, quiet=True)
            image, name = load_image(path), path.stem
        faces = sorted(tracker.detect_all(image), key=lambda f: f.box[0])
        if not faces:
            raise NoFaceError(f"no face found in source {spec}; give a photo with a visible face")
        for k, face in enumerate(faces):
            sources.append(EvalSource(name if len(faces) == 1 else f"{name}#{k}", image, face))
    return sources


# ---------------------------------------------------------------------------------------------
# Rendering


@dataclass(frozen=True)
class Rendered:
    """G's outputs for one source and K requested AU rows.

    Attributes:
        images: (K, H, W, 3) uint8: full-resolution pasted photos, or the crops in crop mode.
        crops: (K, S, S, 3) uint8 composed crops A * I + (1 - A) * C.
        attention: (K, S, S) float32 in [0, 1].
    """

    images: np.ndarray
    crops: np.ndarray
    attention: np.ndarray


def _to_uint8(x: torch.Tensor) -> np.ndarray:
    """(B, 3, S, S) in [-1, 1] -> (B, S, S, 3) uint8."""
    return ((x.float().clamp(-1, 1) + 1) * 127.5).round().to(torch.uint8).permute(0, 2, 3, 1).cpu().numpy()


class FaceRenderer:
    """Renders one source face with a generator, pasted back (``Paster``) or crop only.

    Args:
        generator: a ``reenact.generator.Generator`` (already on its device, in eval mode).
        source: the source face.
        paste: paste back at full resolution with ``reenact.paste.Paster``; False or a missing
            paste module gives crop mode.
    """

    def __init__(self, generator: torch.nn.Module, source: EvalSource, *, paste: bool = True):
        self.generator = generator
        self.device = next(generator.parameters()).device
        self.source = source
        self.alignment: Alignment = align_face(source.face.landmarks, generator.config.image_size)
        self.paster = _make_paster(source, self.alignment) if paste else None
        if self.paster is not None:
            self.paster.to(self.device)
            self.face_crop = self.paster.face_crop
        else:
            frame = torch.from_numpy(source.image).permute(2, 0, 1)[None].float() / 255.0
            m = torch.from_numpy(self.alignment.frame_to_crop).float()[None]
            self.face_crop = (warp_to_crop(frame, m, self.alignment.crop_size) * 2 - 1).to(self.device)

    @property
    def mode(self) -> str:
        return "paste" if self.paster is not None else "crop"

    def mask(self) -> np.ndarray | None:
        """(H, W) float32 paste mask in the photo (None in crop mode)."""
        if self.paster is None:
            return None
        h, w = self.source.image.shape[:2]
        x0, y0, x1, y1 = self.paster.region.box
        full = np.zeros((h, w), np.float32)
        full[y0:y1, x0:x1] = self.paster.region.mask
        return full

    def windows(self, images: np.ndarray) -> list[np.ndarray]:
        """The parts of rendered images that are measured: a window around the source face
        (paste mode) or the whole crop (crop mode)."""
        if self.paster is None:
            return list(images)
        return [face_window(im, self.source.face, zoom=MEASURE_ZOOM) for im in images]

    def source_view(self) -> np.ndarray:
        """The unchanged source as it is measured: its face window, or its crop in crop mode."""
        if self.paster is None:
            return _to_uint8(self.face_crop)[0]
        return face_window(self.source.image, self.source.face, zoom=MEASURE_ZOOM)

    @torch.no_grad()
    def render(self, aus: np.ndarray) -> Rendered:
        """Render K AU-table rows (K, 23) in [0, 1] in one batch."""
        from reenact.generator import compose

        cond = torch.from_numpy(table_to_cond(np.asarray(aus, np.float32))).to(self.device)
        face = self.face_crop.expand(len(cond), -1, -1, -1)
        color, attention = self.generator(face, cond)
        crops = _to_uint8(compose(face, color.float(), attention.float()))
        images = self.paster.paste(color, attention) if self.paster is not None else crops
        return Rendered(images=images, crops=crops, attention=attention[:, 0].float().cpu().numpy())


def _make_paster(source: EvalSource, alignment: Alignment):
    try:
        from reenact.paste import Paster
    except ImportError:  # the paste module is not there yet: crop mode
        return None
    return Paster(source.image, source.face.landmarks, alignment)


def _batches(rows: np.ndarray, size: int) -> Iterator[np.ndarray]:
    for i in range(0, len(rows), size):
        yield rows[i:i + size]


# ---------------------------------------------------------------------------------------------
# Measuring


def measure_aus(images: Sequence[np.ndarray] | np.ndarray, *, tracker: FaceTracker, upscale_below: int = 256,
                ) -> tuple[np.ndarray, list[FaceObservation | None]]:
    """Re-measure AUs on generated images with the project's extractor (IMAGE mode).

    Of several faces in an image, the one nearest the image centre is measured. Images smaller
    than ``upscale_below`` (128 crops) are upscaled first: MediaPipe's detector
    misses faces that fill a tiny image. Returns ((K, 23) with NaN rows where no face was found,
    the faces found, in the coordinates of the image given).
    """
    from PIL import Image

    rows, faces = [], []
    for image in images:
        scale = 1.0
        if max(image.shape[:2]) < upscale_below:
            scale = upscale_below / max(image.shape[:2])
            new_size = (round(image.shape[1] * scale), round(image.shape[0] * scale))
            image = np.asarray(Image.fromarray(image).resize(new_size, Image.Resampling.BICUBIC))
        face = _nearest_to_centre(tracker.detect_all(image), image.shape[:2])
        if face is not None and scale != 1.0:
            face = FaceObservation(landmarks=face.landmarks / scale, blendshapes=face.blendshapes,
                                   transform=face.transform, image_size=face.image_size)
        faces.append(face)
        missing = np.full(len(TABLE_AU_NAMES), np.nan, np.float32)
        rows.append(aus_from_face(face) if face is not None else missing)
    return np.stack(rows), faces


def _nearest_to_centre(faces: list[FaceObservation], size: tuple[int, int]) -> FaceObservation | None:
    if not faces:
        return None
    cy, cx = size[0] / 2, size[1] / 2
    return min(faces, key=lambda f: ((f.box[0] + f.box[2]) / 2 - cx) ** 2
               + ((f.box[1] + f.box[3]) / 2 - cy) ** 2)


class IdentityMeter:
    """Identity distances of outputs to their source (dlib descriptor), or NaN when unavailable."""

    def __init__(self, enabled: bool = True):
        from reenact.identity import FaceDescriber, identity_available

        self.available = enabled and identity_available()
        self._describer = FaceDescriber() if self.available else None

    def descriptor(self, image: np.ndarray, face: FaceObservation | None) -> np.ndarray | None:
        """(128,) descriptor of the face (box from its MediaPipe landmarks, else dlib's detector)."""
        if self._describer is None:
            return None
        from reenact.identity import box_from_landmarks

        try:
            return self._describer.describe(image, box_from_landmarks(face.landmarks) if face else None)
        except NoFaceError:
            return None

    @staticmethod
    def distance(a: np.ndarray | None, b: np.ndarray | None) -> float:
        from reenact.identity import identity_distance

        return identity_distance(a, b) if a is not None and b is not None else float("nan")


# ---------------------------------------------------------------------------------------------
# Image targets


@dataclass(frozen=True)
class SourceResult:
    """Everything measured for one source face over the K targets.

    Attributes:
        source: the source's name.
        mode: "paste" or "crop".
        source_aus: (23,) AUs measured on the unchanged source (the do-nothing baseline).
        requested: (K, 23) requested AUs; measured: (K, 23) re-measured (NaN rows: no face).
        identity: (K,) identity distances to the source (NaN: unavailable or no face).
        seams: one ``SeamStats`` per target (empty in crop mode).
        attention: one ``AttentionStats`` per target.
        cells: (K + 1, c, c, 3) uint8 contact sheet cells: the source, then each output.
    """

    source: str
    mode: str
    source_aus: np.ndarray
    requested: np.ndarray
    measured: np.ndarray
    identity: np.ndarray
    seams: tuple[SeamStats, ...]
    attention: tuple[AttentionStats, ...]
    cells: np.ndarray


@dataclass(frozen=True)
class TargetEvaluation:
    """Result of ``evaluate_targets``."""

    targets: tuple[EvalTarget, ...]
    sources: tuple[SourceResult, ...]
    config: EvalConfig
    meta: dict = field(default_factory=dict)


def face_window(image: np.ndarray, face: FaceObservation, *, zoom: float = 1.7) -> np.ndarray:
    """A square part of ``image`` around a face (side = zoom x its landmark box), edge-padded.

    Measuring on this window (not the whole photo) keeps the re-measured face the source face
    in a photo of several people, and makes MediaPipe and dlib cheaper on large photos.
    """
    x0, y0, x1, y1 = face.box
    cx, cy, half = (x0 + x1) / 2, (y0 + y1) / 2, zoom * max(x1 - x0, y1 - y0) / 2
    left, top = int(round(cx - half)), int(round(cy - half))
    side = max(int(round(2 * half)), 2)
    h, w = image.shape[:2]
    pad = max(0, -left, -top, left + side - w, top + side - h)
    padded = np.pad(image, ((pad, pad), (pad, pad), (0, 0)), mode="edge") if pad else image
    return np.ascontiguousarray(padded[top + pad:top + pad + side, left + pad:left + pad + side])


def face_cell(image: np.ndarray, face: FaceObservation, size: int, *, zoom: float = 1.7) -> np.ndarray:
    """``face_window`` resized to a (size, size, 3) uint8 contact-sheet cell."""
    from PIL import Image

    part = face_window(image, face, zoom=zoom)
    return np.asarray(Image.fromarray(part).resize((size, size), Image.Resampling.LANCZOS))


def _cells(renderer: FaceRenderer, images: np.ndarray, size: int) -> list[np.ndarray]:
    from PIL import Image

    if renderer.mode == "paste":
        return [face_cell(im, renderer.source.face, size) for im in images]
    return [np.asarray(Image.fromarray(im).resize((size, size), Image.Resampling.LANCZOS)) for im in images]


def evaluate_source(generator: torch.nn.Module, source: EvalSource, targets: Sequence[EvalTarget], *,
                    tracker: FaceTracker, identity: IdentityMeter, config: EvalConfig = EvalConfig(),
                    progress: ProgressFn | None = None) -> SourceResult:
    """Render one source with every target and measure the outputs (see ``SourceResult``)."""
    renderer = FaceRenderer(generator, source, paste=config.paste)
    requested = np.stack([t.aus for t in targets]).astype(np.float32)
    source_aus, (source_face,) = measure_aus([renderer.source_view()], tracker=tracker)
    src_desc = identity.descriptor(renderer.source_view(), source_face)
    mask = renderer.mask()
    measured, ids, seams, attn = [], [], [], []
    cells = [face_cell(source.image, source.face, config.cell_size)]
    for rows in _batches(requested, config.batch_size):
        out = renderer.render(rows)
        windows = renderer.windows(out.images)
        aus, faces = measure_aus(windows, tracker=tracker)
        measured.append(aus)
        for image, window, face in zip(out.images, windows, faces, strict=True):
            ids.append(identity.distance(src_desc, identity.descriptor(window, face)))
            if mask is not None:
                seams.append(seam_stats(image, source.image, mask))
        attn += [attention_stats(a) for a in out.attention]
        cells += _cells(renderer, out.images, config.cell_size)
        if progress is not None:
            progress(len(rows))
    return SourceResult(source=source.name, mode=renderer.mode, source_aus=source_aus[0],
                        requested=requested, measured=np.concatenate(measured), identity=np.array(ids),
                        seams=tuple(seams), attention=tuple(attn), cells=np.stack(cells))


def evaluate_targets(generator: torch.nn.Module, sources: Sequence[EvalSource],
                     targets: Sequence[EvalTarget] | None = None, *, tracker: FaceTracker,
                     config: EvalConfig = EvalConfig(), progress: ProgressFn | None = None,
                     meta: dict | None = None) -> TargetEvaluation:
    """Evaluate every source x target (``progress`` is called with the outputs just done).

    Args:
        generator: G on its device, in eval mode.
        sources: source faces (``load_sources``).
        targets: requested expressions (default ``default_targets(config)``).
        tracker: an IMAGE-mode ``FaceTracker`` used to re-measure AUs.
    """
    if tracker.video:
        raise InputError("evaluate_targets needs a FaceTracker in IMAGE mode")
    if not sources:
        raise InputError("no source faces to evaluate")
    targets = tuple(targets or default_targets(config))
    identity = IdentityMeter(config.identity)
    results = tuple(evaluate_source(generator, s, targets, tracker=tracker, identity=identity,
                                    config=config, progress=progress) for s in sources)
    info = {"identity_model": "dlib_face_recognition_resnet_model_v1" if identity.available else None,
            **(meta or {})}
    return TargetEvaluation(targets=targets, sources=results, config=config, meta=info)


# ---------------------------------------------------------------------------------------------
# Driving videos


@dataclass(frozen=True)
class VideoResult:
    """One source driven by one clip.

    Attributes:
        fidelity: requested (the transferred driver AUs) vs re-measured on the output, over time.
        baseline: the same for the unchanged source (a still photo: no correlation).
        stability: frame-to-frame change outside / inside the face mask, flicker.
        identity: identity distances of sampled output frames to the source.
        attention: statistics over all frames' attention.
        cells: (2, n, c, c, 3) uint8: driver frames (row 0) and outputs (row 1) at n sample times.
        sample_frames: the n frame indices of the cells.
    """

    source: str
    driver: str
    n_frames: int
    mode: str
    fidelity: AUFidelity
    baseline: AUFidelity
    stability: TemporalStability
    identity: np.ndarray
    attention: AttentionStats
    cells: np.ndarray
    sample_frames: tuple[int, ...] = ()


@dataclass(frozen=True)
class VideoEvaluation:
    """Result of ``evaluate_videos``."""

    results: tuple[VideoResult, ...]
    config: EvalConfig
    meta: dict = field(default_factory=dict)


def driver_track(path: str | Path, *, max_frames: int) -> tuple[AUTrack, np.ndarray, float]:
    """The driver's raw AU track (NaN rows where no face), its (T, H, W, 3) frames and fps.

    Raises:
        VideoReadError: unreadable clip. NoFaceError: no face in any of the frames used.
    """
    from reenact.extract import extract_au_track
    from reenact.video import probe_video, read_all_frames

    info = probe_video(path)
    frames = read_all_frames(path, max_frames=max_frames)
    with FaceTracker(video=True) as tracker:
        raw = extract_au_track([frames], info.fps, tracker=tracker)
    if not raw.found.any():
        raise NoFaceError(f"no face found in the first {len(frames)} frames of {path}; "
                          "give a driving clip with a face")
    return raw, frames, info.fps


def driving_targets(source_aus: np.ndarray, raw: AUTrack, *, mode: str = "relative") -> np.ndarray:
    """The source's target AUs (T, 23) for a driver, exactly as the pipeline makes them:
    gap policy + smoothing (defaults), neutral baseline, then ``transfer_aus`` in ``mode``."""
    from reenact.smoothing import neutral_baseline, smooth_track
    from reenact.transfer import TransferConfig, transfer_aus

    track = smooth_track(raw)
    return transfer_aus(source_aus, track.values, neutral=neutral_baseline(raw),
                        config=TransferConfig(mode=mode))


def _sample_idx(n: int, k: int) -> np.ndarray:
    return np.unique(np.linspace(0, n - 1, min(k, n)).round().astype(int))


def evaluate_video(generator: torch.nn.Module, source: EvalSource, driver: str | Path, *,
                   identity: IdentityMeter, config: EvalConfig = EvalConfig(), n_cells: int = 6,
                   progress: ProgressFn | None = None) -> VideoResult:
    """Drive one source with one clip (AU transfer as in the pipeline) and measure the result."""
    from reenact.extract import extract_au_track

    raw, driver_frames, fps = driver_track(driver, max_frames=config.max_video_frames)
    aus = driving_targets(aus_from_face(source.face), raw, mode=config.transfer)
    renderer = FaceRenderer(generator, source, paste=config.paste)
    mask = renderer.mask()
    if mask is None:
        mask = np.ones(renderer.face_crop.shape[-2:], np.float32)  # crop mode: the crop is all face
    outside_mask = (mask <= 0).astype(np.float32)  # beyond the feather: must never change
    samples = set(_sample_idx(len(aus), n_cells).tolist())
    with FaceTracker() as tracker:
        source_aus, (source_face,) = measure_aus([renderer.source_view()], tracker=tracker)
    src_desc = identity.descriptor(renderer.source_view(), source_face)
    inside, outside, ids, attn, outputs, prev = [], [], [], [], [], None

    def frames_out() -> Iterator[np.ndarray]:
        nonlocal prev
        for start, rows in zip(range(0, len(aus), config.batch_size), _batches(aus, config.batch_size),
                               strict=True):
            out = renderer.render(rows)
            attn.append(out.attention.astype(np.float16))
            for k, image in enumerate(out.images):
                if prev is not None:
                    pair = np.stack([prev, image])
                    inside.append(frame_changes(pair, mask)[0])
                    outside.append(frame_changes(pair, outside_mask)[0])
                if start + k in samples:
                    outputs.append(image)
                prev = image
            if progress is not None:
                progress(len(rows))
            yield np.stack(renderer.windows(out.images))

    with FaceTracker(video=True) as tracker:
        measured = extract_au_track(frames_out(), fps, tracker=tracker).values
    windows = renderer.windows(np.stack(outputs))
    with FaceTracker() as tracker:
        _, faces = measure_aus(windows, tracker=tracker)
    ids = [identity.distance(src_desc, identity.descriptor(w, f))
           for w, f in zip(windows, faces, strict=True)]
    cells = _video_cells(driver_frames, outputs, sorted(samples), renderer, config.cell_size)
    return VideoResult(
        source=source.name, driver=Path(driver).name, n_frames=len(aus), mode=renderer.mode,
        fidelity=au_fidelity(aus, measured),
        baseline=au_fidelity(aus, np.tile(source_aus[0], (len(aus), 1))),
        stability=stability_from_changes(np.array(inside), np.array(outside), au_changes(aus)),
        identity=np.array(ids), attention=attention_stats(np.concatenate(attn).astype(np.float32)),
        cells=cells, sample_frames=tuple(sorted(samples)))


def _video_cells(driver_frames: np.ndarray, outputs: list[np.ndarray], idx: list[int],
                 renderer: FaceRenderer, size: int) -> np.ndarray:
    from PIL import Image

    def square(im: np.ndarray) -> np.ndarray:
        h, w = im.shape[:2]
        s = min(h, w)
        part = im[(h - s) // 2:(h - s) // 2 + s, (w - s) // 2:(w - s) // 2 + s]
        return np.asarray(Image.fromarray(part).resize((size, size), Image.Resampling.LANCZOS))

    with FaceTracker() as tracker:  # the driver's face where it is found, else the centre square
        faces = [tracker.detect(driver_frames[i]) for i in idx]
    top = [face_cell(driver_frames[i], f, size) if f is not None else square(driver_frames[i])
           for i, f in zip(idx, faces, strict=True)]
    bottom = _cells(renderer, np.stack(outputs), size)
    return np.stack([np.stack(top), np.stack(bottom)])


def evaluate_videos(generator: torch.nn.Module, sources: Sequence[EvalSource],
                    drivers: Sequence[str | Path], *,
                    config: EvalConfig = EvalConfig(), progress: ProgressFn | None = None,
                    meta: dict | None = None) -> VideoEvaluation:
    """Evaluate every source x driving clip (``progress`` is called with the frames just done)."""
    if not sources or not drivers:
        raise InputError("video evaluation needs at least one source and one driving clip")
    identity = IdentityMeter(config.identity)
    results = tuple(evaluate_video(generator, s, d, identity=identity, config=config, progress=progress)
                    for d in drivers for s in sources)
    info = {"identity_model": "dlib_face_recognition_resnet_model_v1" if identity.available else None,
            **(meta or {})}
    return VideoEvaluation(results=results, config=config, meta=info)


# ---------------------------------------------------------------------------------------------
# Summaries and report files


def _finite(x) -> float | int | None:
    if isinstance(x, (int, np.integer)) and not isinstance(x, bool):
        return int(x)
    x = float(x)
    return round(x, 4) if np.isfinite(x) else None


def _identity_summary(dist: np.ndarray) -> dict:
    d = np.asarray(dist, np.float64)
    d = d[np.isfinite(d)]
    if not d.size:
        return {"median": None, "worst": None, "n": 0}
    return {"median": _finite(np.median(d)), "worst": _finite(d.max()), "n": int(d.size)}


def _fidelity_dict(f: AUFidelity, *, with_corr: bool) -> dict:
    out = {"mae": _finite(f.mae), "reliable_mae": _finite(f.reliable_mae), "weak_mae": _finite(f.weak_mae),
           "active_mae": _finite(f.active_mae), "n_rows": f.n_rows, "n_missing": f.n_missing,
           "per_au_mae": {k: _finite(v) for k, v in f.per_au_mae.items()}}
    if with_corr:
        out["reliable_corr"] = _finite(f.reliable_corr)
        out["per_au_corr"] = {k: _finite(v) for k, v in f.per_au_corr.items()}
    return out


def _mean_dataclass(items: Sequence) -> dict | None:
    if not items:
        return None
    keys = asdict(items[0]).keys()
    return {k: _finite(np.nanmean([getattr(i, k) for i in items])) for k in keys}


def _worst_dataclass(items: Sequence, keys: Sequence[str]) -> dict | None:
    if not items:
        return None
    return {k: _finite(np.nanmax([getattr(i, k) for i in items])) for k in keys}


def summarize_targets(ev: TargetEvaluation) -> dict:
    """JSON-ready summary: overall, per target, per source, baseline; NaN become null."""
    req = np.concatenate([s.requested for s in ev.sources])
    mea = np.concatenate([s.measured for s in ev.sources])
    base = np.concatenate([np.tile(s.source_aus, (len(s.requested), 1)) for s in ev.sources])
    ids = np.concatenate([s.identity for s in ev.sources])
    seams = [x for s in ev.sources for x in s.seams]
    attn = [x for s in ev.sources for x in s.attention]
    per_target = {}
    for k, t in enumerate(ev.targets):
        f = au_fidelity(np.stack([s.requested[k] for s in ev.sources]),
                        np.stack([s.measured[k] for s in ev.sources]))
        per_target[t.name] = {"mae": _finite(f.mae), "reliable_mae": _finite(f.reliable_mae),
                              "active_mae": _finite(f.active_mae), "n_missing": f.n_missing,
                              "identity": _identity_summary([s.identity[k] for s in ev.sources]),
                              "attention_mean": _finite(np.mean([s.attention[k].mean for s in ev.sources]))}
    per_source = {s.source: {"mode": s.mode, "mae": _finite(au_fidelity(s.requested, s.measured).mae),
                             "identity": _identity_summary(s.identity)} for s in ev.sources}
    return {
        "kind": "targets",
        "mode": ev.sources[0].mode,
        "n_sources": len(ev.sources), "n_targets": len(ev.targets),
        "fidelity": _fidelity_dict(au_fidelity(req, mea), with_corr=False),
        "baseline_unchanged_source": _fidelity_dict(au_fidelity(req, base), with_corr=False),
        "identity": _identity_summary(ids),
        "seam_mean": _mean_dataclass(seams),
        "seam_worst": _worst_dataclass(seams, ("boundary_step", "band_step", "gradient_excess")),
        "attention": _mean_dataclass(attn),
        "per_target": per_target,
        "per_source": per_source,
        "reliable_aus": list(RELIABLE_AUS), "weak_aus": list(WEAK_AUS),
    }


def summarize_videos(ev: VideoEvaluation) -> dict:
    """JSON-ready summary of a video evaluation."""
    runs = []
    for r in ev.results:
        runs.append({"source": r.source, "driver": r.driver, "n_frames": r.n_frames, "mode": r.mode,
                     "fidelity": _fidelity_dict(r.fidelity, with_corr=True),
                     "baseline_unchanged_source": _fidelity_dict(r.baseline, with_corr=False),
                     "stability": {k: _finite(v) for k, v in asdict(r.stability).items()},
                     "identity": _identity_summary(r.identity),
                     "attention": {k: _finite(v) for k, v in asdict(r.attention).items()}})
    ids = np.concatenate([r.identity for r in ev.results])
    return {"kind": "videos", "runs": runs, "identity": _identity_summary(ids),
            "reliable_aus": list(RELIABLE_AUS), "weak_aus": list(WEAK_AUS)}


def run_meta(weights: str | Path | None, generator: torch.nn.Module) -> dict:
    """Date, machine, weights file (with sha256) and generator config, for the report."""
    from reenact.weights import sha256_of

    info = {"date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
            "machine": f"{platform.node()} {platform.machine()} {platform.processor() or ''}".strip(),
            "torch": torch.__version__, "device": str(next(generator.parameters()).device),
            "generator": generator.config.to_dict()}
    if weights is not None:
        info["weights"] = str(weights)
        info["weights_sha256"] = sha256_of(Path(weights))
    else:
        info["weights"] = "random (untrained) generator"
    return info


def _fmt(x) -> str:
    return "n/a" if x is None else f"{x:.3f}"


def markdown_targets(summary: dict, meta: dict) -> str:
    """The markdown report of ``summarize_targets``."""
    f, b = summary["fidelity"], summary["baseline_unchanged_source"]
    ident, seam, att = summary["identity"], summary["seam_mean"], summary["attention"]
    lines = [f"# Quality: {summary['n_sources']} sources x {summary['n_targets']} AU targets",
             "", f"{meta.get('date', '')}, weights `{meta.get('weights')}`, mode {summary['mode']}", "",
             "| metric | generator | unchanged source |", "|---|---|---|",
             f"| AU MAE, all 23 | {_fmt(f['mae'])} | {_fmt(b['mae'])} |",
             f"| AU MAE, reliable AUs | {_fmt(f['reliable_mae'])} | {_fmt(b['reliable_mae'])} |",
             f"| AU MAE, weak AUs ({', '.join(summary['weak_aus'])}) | {_fmt(f['weak_mae'])} | "
             f"{_fmt(b['weak_mae'])} |",
             f"| AU MAE, requested AUs (>= 0.2) | {_fmt(f['active_mae'])} | {_fmt(b['active_mae'])} |",
             f"| outputs without a re-measured face | {f['n_missing']} of {f['n_rows'] + f['n_missing']} | |",
             f"| identity distance median / worst | {_fmt(ident['median'])} / {_fmt(ident['worst'])} | 0 |"]
    if seam:
        worst = summary["seam_worst"]
        lines.append(f"| seam boundary step mean / worst | {_fmt(seam['boundary_step'])} / "
                     f"{_fmt(worst['boundary_step'])} | 0 |")
        lines.append(f"| seam band step / gradient excess | {_fmt(seam['band_step'])} / "
                     f"{_fmt(seam['gradient_excess'])} | 0 |")
    lines.append(f"| attention mean / near 0 / near 1 | {_fmt(att['mean'])} / {_fmt(att['frac_near_0'])} / "
                 f"{_fmt(att['frac_near_1'])} | |")
    lines += ["", "| target | AU MAE | reliable MAE | requested-AU MAE | identity median | attention mean |",
              "|---|---|---|---|---|---|"]
    for name, t in summary["per_target"].items():
        lines.append(f"| {name} | {_fmt(t['mae'])} | {_fmt(t['reliable_mae'])} | {_fmt(t['active_mae'])} | "
                     f"{_fmt(t['identity']['median'])} | {_fmt(t['attention_mean'])} |")
    lines += ["", "| AU | MAE | unchanged source MAE |", "|---|---|---|"]
    for au in TABLE_AU_NAMES:
        weak = " (weak)" if au.split("_")[0] in summary["weak_aus"] else ""
        lines.append(f"| {au}{weak} | {_fmt(f['per_au_mae'][au])} | {_fmt(b['per_au_mae'][au])} |")
    return "\n".join(lines) + "\n"


def markdown_videos(summary: dict, meta: dict) -> str:
    """The markdown report of ``summarize_videos``."""
    lines = ["# Quality: driving videos", "", f"{meta.get('date', '')}, weights `{meta.get('weights')}`", "",
             "| source | driver | frames | AU MAE (reliable) | unchanged MAE | AU corr (reliable) | "
             "identity med / worst | outside change | inside change | flicker | still-driver change |",
             "|---|---|---|---|---|---|---|---|---|---|---|"]
    for r in summary["runs"]:
        f, s, i = r["fidelity"], r["stability"], r["identity"]
        lines.append(f"| {r['source']} | {r['driver']} | {r['n_frames']} | {_fmt(f['reliable_mae'])} | "
                     f"{_fmt(r['baseline_unchanged_source']['reliable_mae'])} | {_fmt(f['reliable_corr'])} | "
                     f"{_fmt(i['median'])} / {_fmt(i['worst'])} | {s['outside_change']:.5f} | "
                     f"{_fmt(s['inside_change'])} | {_fmt(s['flicker'])} | "
                     f"{_fmt(s['still_inside_change'])} |")
    return "\n".join(lines) + "\n"


def contact_sheet(rows: Sequence[np.ndarray], row_labels: Sequence[str], col_labels: Sequence[str],
                  *, notes: Sequence[Sequence[str]] | None = None) -> np.ndarray:
    """Grid image (uint8 RGB) of equally sized cells with column headers, row labels and notes.

    Args:
        rows: per row, (n, c, c, 3) uint8 cells (n equal to len(col_labels)).
        row_labels / col_labels: text beside each row / above each column.
        notes: optional short text under each cell, per row and column.
    """
    from PIL import Image, ImageDraw, ImageFont

    n_cols, c = len(col_labels), rows[0].shape[1]
    head, label_w, note_h = 22, 110, 16 if notes else 0
    sheet = Image.new("RGB", (label_w + n_cols * c, head + len(rows) * (c + note_h)), "white")
    draw = ImageDraw.Draw(sheet)
    font = ImageFont.load_default()
    for j, name in enumerate(col_labels):
        draw.text((label_w + j * c + 4, 5), name[:24], fill="black", font=font)
    for i, cells in enumerate(rows):
        y = head + i * (c + note_h)
        draw.text((4, y + c // 2), row_labels[i][:18], fill="black", font=font)
        for j, cell in enumerate(cells):
            sheet.paste(Image.fromarray(cell), (label_w + j * c, y))
            if notes:
                draw.text((label_w + j * c + 3, y + c + 2), notes[i][j][:30], fill="black", font=font)
    return np.asarray(sheet)


def targets_sheet(ev: TargetEvaluation) -> np.ndarray:
    """Contact sheet sources x targets; under each output its AU MAE and identity distance."""
    notes = []
    for s in ev.sources:
        row = [f"src: {s.mode}"]
        for k in range(len(ev.targets)):
            mae = np.abs(s.requested[k] - s.measured[k]).mean()
            row.append(("MAE " + (f"{mae:.2f}" if np.isfinite(mae) else "noface")) +
                       (f" id {s.identity[k]:.2f}" if np.isfinite(s.identity[k]) else ""))
        notes.append(row)
    return contact_sheet([s.cells for s in ev.sources], [s.source for s in ev.sources],
                         ["source"] + [t.name for t in ev.targets], notes=notes)


def videos_sheet(ev: VideoEvaluation) -> np.ndarray:
    """Contact sheet: per run, a row of driver frames and a row of outputs at the same times."""
    rows, labels = [], []
    n = max(r.cells.shape[1] for r in ev.results)
    for r in ev.results:
        for k, kind in enumerate(("driver", "output")):
            cells = r.cells[k]
            if len(cells) < n:
                cells = np.concatenate([cells, np.full((n - len(cells), *cells.shape[1:]), 255, np.uint8)])
            rows.append(cells)
            labels.append(f"{kind}: {r.source if k else r.driver}")
    frames = max((r.sample_frames for r in ev.results), key=len)
    return contact_sheet(rows, labels, [f"frame {i}" for i in frames] + [""] * (n - len(frames)))


def write_report(evaluation: TargetEvaluation | VideoEvaluation, out_dir: str | Path) -> dict[str, Path]:
    """Write report.json, report.md and contact_sheet.png into ``out_dir`` (created; atomic files)."""
    from PIL import Image

    from reenact.io_utils import atomic_output

    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    if isinstance(evaluation, TargetEvaluation):
        summary, md, sheet = summarize_targets(evaluation), markdown_targets, targets_sheet(evaluation)
    else:
        summary, md, sheet = summarize_videos(evaluation), markdown_videos, videos_sheet(evaluation)
    report = {"meta": evaluation.meta, "config": asdict(evaluation.config), "summary": summary}
    paths = {"json": out_dir / "report.json", "markdown": out_dir / "report.md",
             "sheet": out_dir / "contact_sheet.png"}
    with atomic_output(paths["json"]) as tmp:
        tmp.write_text(json.dumps(report, indent=2, allow_nan=False))
    with atomic_output(paths["markdown"]) as tmp:
        tmp.write_text(md(summary, evaluation.meta))
    with atomic_output(paths["sheet"]) as tmp:
        Image.fromarray(sheet).save(tmp)
    return paths
