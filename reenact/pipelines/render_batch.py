"""Batch dataset rendering: every face photo x every AU target -> one image, plus a manifest.

``render_batch`` runs one shard of the (face, target) grid: the faces are split across shards
(``shard=(k, n)`` takes faces k, k+n, k+2n, ... so that each face is detected once), the targets
of one face go through G in batches, and each result is written to a temporary file and renamed.
A manifest row (JSON Lines) is appended only after its image exists, so a rerun skips what is
done and redoes anything half-written; stale temporary files of the shard's own faces are removed.

Outputs: ``OUT_DIR/<face>__<target>.png`` (the full photo with the face animated, or with
``crop=True`` the 128x128 aligned face crop) and ``OUT_DIR/manifest.jsonl`` (one manifest per
shard, ``manifest-K-of-N.jsonl``, when there are several). A row::

    {"source": "faces/a.jpg", "target": "happy", "aus": {"AU01": 0.0, ...}, "output": "a__happy.png",
     "face_found": true, "reason": null}

Targets: a CSV (columns ``name``, ``preset``, ``intensity`` and any AU columns, ours on [0, 1]
or OpenFace ``AU12_r`` on 0..5) or a YAML/JSON list of ``{name, preset, intensity, aus}``.
"""

from __future__ import annotations

import json
import os
import re
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from reenact.au.space import AU_NAMES, PRESETS, TABLE_AU_NAMES, preset, sync_bilateral
from reenact.errors import InputError, OutputError, ReenactError, ScriptError

_SAFE = re.compile(r"[^A-Za-z0-9_.-]+")


@dataclass(frozen=True)
class Target:
    """One AU target: a file-safe name and its (23,) AU row in [0, 1]."""

    name: str
    values: np.ndarray


@dataclass
class BatchSummary:
    """What one ``render_batch`` call did."""

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
    from reenact.io.images import list_images

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


def _target_from_fields(name, preset_name, intensity, aus: dict[str, float],
                        where: str) -> tuple[str, np.ndarray]:
    values = np.zeros(len(TABLE_AU_NAMES), np.float32)
    if preset_name:
        if preset_name not in PRESETS:
            raise ScriptError(f"{where}: unknown preset {preset_name!r}; known: {', '.join(PRESETS)}")
        values = preset(preset_name, intensity)
    idx = {n: i for i, n in enumerate(TABLE_AU_NAMES)}
    for au, v in aus.items():
        if not 0.0 <= v <= 1.0:
            raise ScriptError(f"{where}: {au} must be in [0, 1], got {v}")
        for col in [au] + ([f"{au}_L", f"{au}_R"] if f"{au}_L" in idx else []):
            values[idx[col]] = v
    if not name:
        name = preset_name or ""
    return str(name), sync_bilateral(values[None])[0]


def _au_column(header: str) -> tuple[str, float] | None:
    """CSV header -> (AU name, divisor): ours 'AU12'/'AU12_L'/'AU12_R' on [0, 1], OpenFace
    'AU12_r' (lower-case r) on 0..5."""
    h = header.strip()
    if h.endswith("_r") and h[:-2].upper() in AU_NAMES:  # OpenFace's lower-case intensity suffix
        return h[:-2].upper(), 5.0
    return (h.upper(), 1.0) if h.upper() in TABLE_AU_NAMES else None


def _looks_like_au(header: str) -> bool:
    """An AU-like column name (AU99, au12_x); OpenFace's presence columns AU*_c are allowed and
    ignored, as the YAML form has no such field."""
    return bool(re.match(r"(?i)au\d", header)) and not re.fullmatch(r"AU\d+_c", header)


def _read_csv_targets(path: Path) -> list[tuple[str, np.ndarray]]:
    import csv

    with open(path, newline="", encoding="utf-8") as f:
        rows = list(csv.reader(f))
    if len(rows) < 2:
        raise ScriptError(f"{path}: needs a header row and at least one target row")
    header = [h.strip() for h in rows[0]]
    lower = [h.lower() for h in header]
    au_cols = {i: _au_column(h) for i, h in enumerate(header) if _au_column(h)}
    unknown = [h for i, h in enumerate(header) if i not in au_cols and _looks_like_au(h)]
    if unknown:
        raise ScriptError(f"{path}: line 1: unknown AU column {unknown[0]}; known: "
                          f"{', '.join(TABLE_AU_NAMES)} (or OpenFace AU*_r)")
    if not au_cols and "preset" not in lower:
        raise ScriptError(f"{path}: line 1: no AU columns (AU01 ... AU45_R, or OpenFace AU*_r) "
                          "and no preset column")
    out = []
    for line_no, row in enumerate(rows[1:], start=2):
        if not any(c.strip() for c in row):
            continue
        cell = dict(zip(lower, (c.strip() for c in row), strict=False))
        where = f"{path}: line {line_no}"
        try:
            intensity = float(cell.get("intensity") or 1.0)
            aus = {name: float(row[i]) / div for i, (name, div) in au_cols.items()
                   if i < len(row) and row[i].strip()}
        except ValueError as exc:
            raise ScriptError(f"{where}: not a number ({exc})") from exc
        out.append(_target_from_fields(cell.get("name"), cell.get("preset"), intensity, aus, where))
    return out


def _read_structured_targets(path: Path) -> list[tuple[str, np.ndarray]]:
    from reenact.au.script import parse_text

    data, where = parse_text(path.read_text(encoding="utf-8"), path)
    items = data.get("targets") if isinstance(data, dict) else data
    if not isinstance(items, list) or not items:
        raise where.error((), "targets must be a list of {name, preset, intensity, aus}")
    base = ("targets",) if isinstance(data, dict) else ()
    out = []
    for i, item in enumerate(items):
        at = (*base, i)
        if not isinstance(item, dict) or not ({"preset", "aus"} & set(item)):
            raise where.error(at, "a target needs a preset or aus")
        aus = item.get("aus") or {}
        if not isinstance(aus, dict) or any(str(k).upper() not in TABLE_AU_NAMES for k in aus):
            raise where.error((*at, "aus"), "aus must map AU names (AU01, AU12_L ...) to values")
        try:
            values = {str(k).upper(): float(v) for k, v in aus.items()}
            intensity = float(item.get("intensity", 1.0))
        except (TypeError, ValueError) as exc:
            raise where.error(at, f"not a number ({exc})") from exc
        line = where.lines.get(at)
        loc = f"{path}: line {line}" if line else str(path)
        out.append(_target_from_fields(item.get("name"), item.get("preset"), intensity, values, loc))
    return out


def read_targets(path: str | os.PathLike) -> list[Target]:
    """AU targets from a CSV, JSON or YAML file (see the module docstring).

    Raises:
        InputError: missing file. ScriptError: malformed rows (naming the line), duplicate names.
    """
    path = Path(path)
    if not path.is_file():
        raise InputError(f"targets {path} does not exist; give a CSV/JSON/YAML table of AU targets")
    raw = _read_csv_targets(path) if path.suffix.lower() in (".csv", ".tsv", ".txt") \
        else _read_structured_targets(path)
    targets, seen = [], set()
    for i, (name, values) in enumerate(raw):
        safe = _SAFE.sub("_", name).strip("._") or f"target{i:04d}"
        if safe in seen:
            raise ScriptError(f"{path}: target name {safe!r} appears twice; names must be unique")
        seen.add(safe)
        targets.append(Target(name=safe, values=values))
    return targets


def face_keys(faces: list[Path]) -> list[str]:
    """File-safe, unique output names of the faces (stems; repeated stems get -2, -3 ...)."""
    keys, count = [], {}
    for face in faces:
        stem = _SAFE.sub("_", face.stem) or "face"
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
    from reenact.io.files import same_file

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


def render_batch(pipeline, faces: list[Path], targets: list[Target], out_dir: str | os.PathLike, *,
                 shard: tuple[int, int] = (0, 1), crop: bool = False,
                 progress: Callable[[int], None] | None = None) -> BatchSummary:
    """Render this shard's (face, target) pairs that are not done yet.

    Args:
        pipeline: a ``ReenactPipeline`` (its generator, tracker, paster and batch size are used).
        faces: all face photos (the shard picks its own).
        targets: all AU targets.
        out_dir: output folder (created if missing).
        shard: (k, n): this process renders faces k, k+n, ...
        crop: write the 128x128 aligned crop instead of the full photo.
        progress: called with the number of pairs just finished (rendered, skipped or no face).
    """
    from reenact.io.files import check_writable_folder

    t0 = time.perf_counter()
    out_dir = Path(out_dir)
    check_out_dir(out_dir, faces, targets)
    check_writable_folder(out_dir)  # also removes stale temporaries of killed runs
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise OutputError(f"cannot create the output folder {out_dir} ({exc.strerror}); choose another "
                          "output folder") from exc
    k, n = shard
    keys = face_keys(faces)
    mine = [(f, key) for i, (f, key) in enumerate(zip(faces, keys, strict=True)) if i % n == k]
    _remove_stale(out_dir, [key for _, key in mine])
    done = read_done(out_dir)
    summary = BatchSummary(faces=len(mine))
    with open(out_dir / manifest_name(shard), "a", encoding="utf-8") as manifest:
        for face_path, key in mine:
            todo = [t for t in targets if (str(face_path), t.name) not in done]
            summary.skipped += len(targets) - len(todo)
            if progress is not None and len(targets) > len(todo):
                progress(len(targets) - len(todo))
            if todo:
                _render_face(pipeline, face_path, key, todo, out_dir, manifest, summary, crop, progress)
    summary.seconds = time.perf_counter() - t0
    return summary


def _row(face: Path, target: Target, output: str | None, found: bool, reason: str | None) -> str:
    aus = {n: round(float(v), 4) for n, v in zip(TABLE_AU_NAMES, target.values, strict=True)}
    return json.dumps({"source": str(face), "target": target.name, "aus": aus, "output": output,
                       "face_found": found, "reason": reason}) + "\n"


def _render_face(pipeline, face_path: Path, key: str, todo: list[Target], out_dir: Path, manifest,
                 summary: BatchSummary, crop: bool, progress) -> None:
    from reenact.io.images import load_image
    from reenact.pipelines.reenact_video import check_stop

    try:
        src = pipeline.prepare_source(load_image(face_path))
    except ReenactError as exc:  # unreadable photo or no face: recorded, the batch goes on
        reason = str(exc)
        summary.no_face += 1
        short = "no face" if "face" in reason.lower() else "unreadable"
        summary.reasons[short] = summary.reasons.get(short, 0) + 1
        manifest.writelines(_row(face_path, t, None, False, reason) for t in todo)
        manifest.flush()
        if progress is not None:
            progress(len(todo))
        return
    from reenact.model.editor import render_batches

    editor = pipeline.editor
    prepared = editor.prepare(src)
    targets = np.stack([t.values for t in todo])
    batches = render_batches(editor, prepared, targets, batch_size=pipeline.batch_size,
                             precision=pipeline.precision, check_stop=check_stop)
    for start, batch in batches:
        chunk = todo[start:start + len(batch.regions)]
        if crop and batch.crops is None:
            raise InputError(f"the {editor.name} model makes no aligned crops; render without --crop")
        images = batch.crops if crop else prepared.assemble(batch.regions)
        for target, image in zip(chunk, images, strict=True):
            name = f"{key}__{target.name}.png"
            _write_png(image, out_dir / name)
            manifest.write(_row(face_path, target, name, True, None))
            manifest.flush()
            summary.rendered += 1
        if progress is not None:
            progress(len(chunk))


def _write_png(image: np.ndarray, path: Path) -> None:
    from PIL import Image

    from reenact.io.files import atomic_output

    with atomic_output(path) as tmp:
        Image.fromarray(image).save(tmp, format="PNG", compress_level=3)
