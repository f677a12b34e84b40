"""Render a batch: every face photo x every AU target -> one image, plus a manifest.

``RenderBatchPipeline`` (``reenact render-batch FACES TARGETS OUT_DIR``) has the components of
every pipeline (a face editor and a source tracker factory, ``reenact.pipelines.base``). A call
renders one shard of the (face, target) grid:

1. ``check_outputs`` OUT_DIR is no input and can be written (created if missing)
2. ``plan``          this shard's faces (``shard=(k, n)``: faces k, k+n, ... so that each face is
                     detected once), minus the pairs an earlier run finished
3. ``prepare_face``  per face: read it, find and align its face (a failure is recorded)
4. ``render``        its targets through the editor in batches, each image written to a
                     temporary file and renamed, its manifest row appended after it exists

So a rerun skips what is done and redoes anything half-written; stale temporary files of the
shard's own faces are removed.

Outputs: ``OUT_DIR/<face>__<target>.png`` (the full photo with the face animated, or with
``crop=True`` the 128x128 aligned face crop) and ``OUT_DIR/manifest.jsonl`` (one manifest per
shard, ``manifest-K-of-N.jsonl``, when there are several). A row::

    {"source": "faces/a.jpg", "target": "happy", "aus": {"AU01": 0.0, ...}, "output": "a__happy.png",
     "face_found": true, "reason": null}

Targets: ``reenact.au.targets.read_targets`` (a CSV, or a YAML/JSON list of named AU rows).
"""

from __future__ import annotations

import json
import os
import re
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TextIO

import numpy as np
from PIL import Image

from reenact.au.space import TABLE_AU_NAMES
from reenact.au.targets import SAFE_NAME, Target
from reenact.errors import InputError, OutputError, ReenactError
from reenact.io.files import atomic_output, check_writable_folder, same_file
from reenact.io.images import list_images, load_image
from reenact.model.editor import SourceFace
from reenact.pipelines.base import Pipeline

Progress = Callable[[int], None]


@dataclass
class BatchSummary:
    """What one ``RenderBatchPipeline`` call did."""

    rendered: int = 0  # images written now
    skipped: int = 0  # (face, target) pairs already done by an earlier run
    no_face: int = 0  # faces without a usable face (their pairs are recorded, not rendered)
    faces: int = 0  # faces in this shard
    seconds: float = 0.0
    reasons: dict[str, int] = field(default_factory=dict)

    def line(self) -> str:
        why = "; ".join(f"{k}: {v}" for k, v in sorted(self.reasons.items()))
        return (f"{self.rendered} rendered, {self.skipped} already done, {self.no_face} faces skipped"
                f"{' (' + why + ')' if why else ''}, {self.faces} faces in this shard, {self.seconds:.1f} s")


class RenderBatchPipeline(Pipeline):
    """Render faces x AU targets into a folder with a manifest (see the module docstring)."""

    def __call__(self, faces: list[Path], targets: list[Target], out_dir: str | os.PathLike, *,
                 shard: tuple[int, int] = (0, 1), crop: bool = False,
                 progress: Progress | None = None) -> BatchSummary:
        """Render this shard's (face, target) pairs that are not done yet.

        Args:
            faces: all face photos (the shard picks its own; ``list_faces``).
            targets: all AU targets (``reenact.au.targets.read_targets``).
            out_dir: output folder (created if missing).
            shard: (k, n): this process renders faces k, k+n, ...
            crop: write the 128x128 aligned crop instead of the full photo.
            progress: called with the number of pairs just finished (rendered, skipped or no face).
        """
        t0 = time.perf_counter()
        out_dir = self.check_outputs(out_dir, faces, targets)  # 1
        mine, done = self.plan(faces, out_dir, shard)  # 2
        summary = BatchSummary(faces=len(mine))
        with open(out_dir / manifest_name(shard), "a", encoding="utf-8") as manifest:
            for face_path, key in mine:
                todo = [t for t in targets if (str(face_path), t.name) not in done]
                summary.skipped += len(targets) - len(todo)
                if progress is not None and len(targets) > len(todo):
                    progress(len(targets) - len(todo))
                if not todo:
                    continue
                rows = _ManifestSink(out_dir, manifest, face_path, key, todo, summary, progress)
                src = self.prepare_face(face_path, rows)  # 3
                if src is not None:
                    self.render(src, np.stack([t.values for t in todo]), rows, crops=crop,
                                batch_size=self.batch_size)  # 4
        summary.seconds = time.perf_counter() - t0
        return summary

    def check_outputs(self, out_dir: str | os.PathLike, faces: list[Path], targets: list[Target]) -> Path:
        """Step 1: OUT_DIR mixes with no input and can be written; created if missing."""
        out_dir = Path(out_dir)
        check_out_dir(out_dir, faces, targets)
        check_writable_folder(out_dir)  # also removes stale temporaries of killed runs
        try:
            out_dir.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise OutputError(f"cannot create the output folder {out_dir} ({exc.strerror}); choose another "
                              "output folder") from exc
        return out_dir

    def plan(self, faces: list[Path], out_dir: Path, shard: tuple[int, int]):
        """Step 2: this shard's (face, output key) pairs, and the (source, target) pairs done."""
        k, n = shard
        keys = face_keys(faces)
        mine = [(f, key) for i, (f, key) in enumerate(zip(faces, keys, strict=True)) if i % n == k]
        _remove_stale(out_dir, [key for _, key in mine])
        return mine, read_done(out_dir)

    def prepare_face(self, face_path: Path, rows: _ManifestSink) -> SourceFace | None:
        """Step 3: the face of one photo, or None when it is unreadable or shows no face (its
        pairs are recorded with the reason, and the batch goes on)."""
        try:
            return self.prepare_source(load_image(face_path))
        except ReenactError as exc:
            rows.no_face(str(exc))
            return None


class _ManifestSink:
    """The frame sink of one face: each image as ``<key>__<target>.png`` (atomically), then its
    manifest row. Runs in the renderer's writer thread."""

    def __init__(self, out_dir: Path, manifest: TextIO, face: Path, key: str, todo: list[Target],
                 summary: BatchSummary, progress: Progress | None):
        self.out_dir, self.manifest, self.face, self.key = out_dir, manifest, face, key
        self.todo, self.summary, self.progress = todo, summary, progress
        self.done = 0

    def __enter__(self) -> _ManifestSink:
        return self

    def __exit__(self, *exc) -> None:
        return None

    def write(self, images: np.ndarray) -> None:
        chunk = self.todo[self.done:self.done + len(images)]
        for target, image in zip(chunk, images, strict=True):
            name = f"{self.key}__{target.name}.png"
            with atomic_output(self.out_dir / name) as tmp:
                Image.fromarray(image).save(tmp, format="PNG", compress_level=3)
            self.manifest.write(_row(self.face, target, name, True, None))
            self.manifest.flush()
            self.summary.rendered += 1
        self.done += len(chunk)
        if self.progress is not None:
            self.progress(len(chunk))

    def no_face(self, reason: str) -> None:
        """Record every pair of the face as not rendered, with why."""
        self.summary.no_face += 1
        short = "no face" if "face" in reason.lower() else "unreadable"
        self.summary.reasons[short] = self.summary.reasons.get(short, 0) + 1
        self.manifest.writelines(_row(self.face, t, None, False, reason) for t in self.todo)
        self.manifest.flush()
        if self.progress is not None:
            self.progress(len(self.todo))

    def result(self) -> None:
        return None


def parse_shard(text: str | None) -> tuple[int, int]:
    """``"K/N"`` (0 <= K < N) -> (K, N); None -> (0, 1)."""
    if not text:
        return 0, 1
    m = re.fullmatch(r"\s*(\d+)\s*/\s*(\d+)\s*", text)
    if not m or int(m.group(2)) < 1 or int(m.group(1)) >= int(m.group(2)):
        raise InputError(f"--shard must be K/N with 0 <= K < N (e.g. 0/4), got {text!r}")
    return int(m.group(1)), int(m.group(2))


def list_faces(path: str | os.PathLike) -> list[Path]:
    """The face photos: a folder's images (sorted) or a list file (one path per line; relative
    paths are relative to the list file; blank lines and # comments ignored)."""
    path = Path(path)
    if path.is_dir():
        return list_images(path)
    if not path.is_file():
        raise InputError(f"faces {path} does not exist; give a folder of photos or a list file")
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except UnicodeDecodeError as exc:
        raise InputError(f"{path} is not a text list of photo paths") from exc
    faces = []
    for line in lines:
        line = line.strip()
        if line and not line.startswith("#"):
            p = Path(line)
            faces.append(p if p.is_absolute() else path.parent / p)
    if not faces:
        raise InputError(f"the list {path} names no photos")
    return faces


def face_keys(faces: list[Path]) -> list[str]:
    """File-safe, unique output names of the faces (stems; repeated stems get -2, -3 ...)."""
    keys, count = [], {}
    for face in faces:
        stem = SAFE_NAME.sub("_", face.stem) or "face"
        count[stem] = count.get(stem, 0) + 1
        keys.append(stem if count[stem] == 1 else f"{stem}-{count[stem]}")
    return keys


def manifest_name(shard: tuple[int, int]) -> str:
    return "manifest.jsonl" if shard[1] == 1 else f"manifest-{shard[0]}-of-{shard[1]}.jsonl"


def read_done(out_dir: Path) -> set[tuple[str, str]]:
    """(source, target) pairs recorded in any manifest of ``out_dir`` whose output exists (or
    that had no face). A half-written last line (a killed run) is ignored."""
    done = set()
    for manifest in out_dir.glob("manifest*.jsonl"):
        for line in manifest.read_text(encoding="utf-8").splitlines():
            try:
                row = json.loads(line)
            except json.JSONDecodeError:
                continue
            out = row.get("output")
            if (out is None and not row.get("face_found")) or (out is not None and (out_dir / out).is_file()):
                done.add((row["source"], row["target"]))
    return done


def check_out_dir(out_dir: str | os.PathLike, faces: list[Path], targets: list[Target], *,
                  inputs: Mapping[str, os.PathLike | None] | None = None) -> None:
    """Fail before any work if OUT_DIR would overwrite an input or mix with the faces.

    Args:
        out_dir: the output folder.
        faces, targets: as for ``render_batch`` (they name the output files).
        inputs: other input files or folders by label ("the TARGETS file", "the FACES folder" ...).

    Raises:
        OutputError: OUT_DIR is an input or the faces' folder (the rendered PNGs would be read
            as faces by the next run), or an input sits in OUT_DIR under an output's name.
    """
    out_dir = Path(out_dir)
    named = [(label, Path(p)) for label, p in (inputs or {}).items() if p is not None]
    for label, path in named:
        if same_file(path, out_dir):
            raise OutputError(f"OUT_DIR {out_dir} is also {label}; choose a new output folder")
    in_out_dir: dict[Path, bool] = {}
    for folder in {f.parent for f in faces} | {p.parent for _, p in named}:
        in_out_dir[folder] = same_file(folder, out_dir)
    if any(in_out_dir[f.parent] for f in faces):
        raise OutputError(f"OUT_DIR {out_dir} holds the face photos: the next run would read the rendered "
                          "PNGs as faces; choose another output folder")
    keys, names = set(face_keys(faces)), [t.name for t in targets]
    for label, path in named:
        if in_out_dir[path.parent] and _is_output_name(path.name, keys, names):
            raise OutputError(f"{label} {path} has the name of an output in OUT_DIR: it would be "
                              "overwritten; move it or choose another output folder")


def _is_output_name(name: str, keys: set[str], targets: list[str]) -> bool:
    """Whether ``name`` is a manifest or a ``<face>__<target>.png`` of this batch."""
    if re.fullmatch(r"manifest.*\.jsonl", name):
        return True
    stem = name[:-4] if name.endswith(".png") else None
    return stem is not None and any(stem.endswith(f"__{t}") and stem[:-len(t) - 2] in keys for t in targets)


def _remove_stale(out_dir: Path, keys: list[str]) -> None:
    for key in keys:
        for tmp in out_dir.glob(f".{key}__*.part.png"):
            tmp.unlink(missing_ok=True)




def _row(face: Path, target: Target, output: str | None, found: bool, reason: str | None) -> str:
    aus = {n: round(float(v), 4) for n, v in zip(TABLE_AU_NAMES, target.values, strict=True)}
    return json.dumps({"source": str(face), "target": target.name, "aus": aus, "output": output,
                       "face_found": found, "reason": reason}) + "\n"
