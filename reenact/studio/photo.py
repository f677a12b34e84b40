"""Edit one photo with one AU row: the studio's slider path, as a library function.

The face is found and aligned with the pipelines' ``prepare_source`` (the CLI's face choice:
the largest face, or the k-th from the left) and prepared once with ``editor.prepare``; every
slider change is then one ``editor.edit`` of a single target row, exactly the call the CLI's
render loop (``reenact.render.renderer.render_batches``) makes per batch.

AU rows follow ``reenact.au.space.TABLE_AU_NAMES`` (23 values in [0, 1]). Slider values are named
(``{"AU12_L": 0.4, "AU26": 0.2}``); in relative mode they are changes in [-1, 1] added to the
face's own AUs, in absolute mode the target values themselves.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace

import numpy as np

from reenact.au.space import SIDED_AUS, TABLE_AU_NAMES, sync_bilateral
from reenact.errors import InputError
from reenact.face.tracking import FaceTracker, TrackerConfig
from reenact.model.editor import FaceEditor, PreparedFace, SourceFace
from reenact.pipelines.base import Pipeline, PipelineConfig

_INDEX = {n: i for i, n in enumerate(TABLE_AU_NAMES)}


@dataclass(frozen=True)
class FaceBox:
    """One face of a photo: its index from the left (``--face-index``) and its pixel box."""

    index: int
    box: tuple[float, float, float, float]  # x0, y0, x1, y1 in photo pixels


def find_faces(image: np.ndarray, config: TrackerConfig = TrackerConfig()) -> list[FaceBox]:
    """Every face of an (H, W, 3) uint8 photo, ordered from the left as ``--face-index`` counts."""
    with FaceTracker(config, video=False) as tracker:
        faces = tracker.detect_all(image)
    ordered = sorted(faces, key=lambda f: f.box[0])
    return [FaceBox(index=i, box=tuple(float(v) for v in f.box)) for i, f in enumerate(ordered)]


def target_row(source_aus: np.ndarray, values: Mapping[str, float], *, relative: bool) -> np.ndarray:
    """Named slider values -> the (23,) target AU row for a face with ``source_aus`` (23,).

    A bilateral name of a sided AU (``AU12``) sets both sides; the bilateral columns of sided
    AUs are then the mean of their sides. Relative: ``clip(source + values)``; absolute: the
    values, with unnamed AUs at 0.

    Raises:
        InputError: an unknown AU name, or a value that is not a finite number in range.
    """
    lo = -1.0 if relative else 0.0
    row = np.zeros(len(TABLE_AU_NAMES), np.float32)
    for name, value in values.items():
        if name not in _INDEX:
            raise InputError(f"unknown AU {name!r}; known: {', '.join(TABLE_AU_NAMES)}")
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not lo <= value <= 1.0:
            raise InputError(f"{name} must be a number in [{lo:g}, 1], got {value!r}")
        cols = [name] + ([f"{name}_L", f"{name}_R"] if name in SIDED_AUS else [])
        for col in cols:
            row[_INDEX[col]] = value
    if relative:
        row = np.asarray(source_aus, np.float32) + row
    return sync_bilateral(np.clip(row, 0.0, 1.0)[None])[0]


class PhotoEdit:
    """One photo with one face prepared for an editor; ``render`` edits it with one AU row.

    Args:
        editor: the face model (``reenact.model.registry.build_editor``).
        image: (H, W, 3) uint8 RGB photo.
        face_index: the k-th face from the left, or None for the largest (as ``--face-index``).
        config: pipeline options (precision; its tracker's face choice is replaced).

    Raises:
        NoFaceError: no face, or no face ``face_index``.
    """

    def __init__(self, editor: FaceEditor, image: np.ndarray, *, face_index: int | None = None,
                 config: PipelineConfig = PipelineConfig()):
        config = replace(config, tracker=replace(config.tracker, face_index=face_index))
        self.pipeline = Pipeline(editor, config)
        self.editor = editor
        self.face_index = face_index
        self.source: SourceFace = self.pipeline.prepare_source(_checked(image))
        self.prepared: PreparedFace = editor.prepare(self.source)

    @property
    def box(self) -> tuple[int, int, int, int]:
        """(x0, y0, x1, y1) of the photo that an edit may change; outside it is the photo itself."""
        return tuple(int(v) for v in self.prepared.box)

    def target(self, values: Mapping[str, float], *, relative: bool) -> np.ndarray:
        """(23,) target row of named slider values for this face (see ``target_row``)."""
        return target_row(self.source.aus, values, relative=relative)

    def render_region(self, target: np.ndarray) -> np.ndarray:
        """The edited box (h, w, 3) uint8 for one (23,) target row (the photo around it is unchanged)."""
        target = np.asarray(target, np.float32)
        if target.shape != (len(TABLE_AU_NAMES),) or not np.isfinite(target).all():
            raise InputError(f"a target row must be ({len(TABLE_AU_NAMES)},) finite AU values")
        batch = self.editor.edit(self.prepared, np.clip(target, 0.0, 1.0)[None],
                                 precision=self.pipeline.precision)
        return batch.regions[0]

    def render(self, target: np.ndarray) -> np.ndarray:
        """The whole edited photo (H, W, 3) uint8 for one (23,) target row."""
        return self.prepared.assemble(self.render_region(target)[None])[0]


def _checked(image: np.ndarray) -> np.ndarray:
    if not isinstance(image, np.ndarray) or image.ndim != 3 or image.shape[2] != 3 or image.dtype != np.uint8:
        shape = getattr(image, "shape", type(image).__name__)
        raise InputError(f"a photo must be an (H, W, 3) uint8 RGB array, got {shape}")
    return np.ascontiguousarray(image)


def edit_photo(editor: FaceEditor, image: np.ndarray, values: Mapping[str, float], *,
               relative: bool = True, face_index: int | None = None) -> np.ndarray:
    """One edited photo (H, W, 3) uint8: ``image`` with named AU values (relative changes or absolute)."""
    photo = PhotoEdit(editor, image, face_index=face_index)
    return photo.render(photo.target(values, relative=relative))
