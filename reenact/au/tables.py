"""AU tables on disk: reenact's CSV, OpenFace's CSV and py-feat's CSV.

Formats (``read_au_table`` recognises each by its header):

- reenact (ours): ``frame, timestamp, face_found, <23 AU columns>, pose_yaw, pose_pitch,
  pose_roll`` and, for a folder of images, a last ``input`` column. AU columns are
  ``reenact.au.space.TABLE_AU_NAMES`` (17 bilateral AUs, then AU12/AU14/AU45 _L/_R, subject's sides),
  values in [0, 1]; frame counts from 0; timestamp in seconds (empty for unrelated images);
  face_found 0/1; pose in degrees; an empty cell is a missing value (no face, gaps kept missing).
- OpenFace 2 (FeatureExtraction ``.csv``): names carry a leading space (``' AU01_r'``).
  ``AU*_r`` intensities on 0..5 become ours by dividing by 5; ``success`` is face_found;
  ``pose_Rx/Ry/Rz`` (radians, OpenFace's camera axes) become pitch/yaw/roll in degrees.
  OpenFace has all 17 AUs (``AU*_r``) but no left/right: each _L/_R column copies the bilateral
  value. An AU column absent from the file (OpenFace run with a subset) reads as NaN.
- py-feat (Detector ``.csv``): ``AU01..AU43`` are PROBABILITIES in [0, 1] that the AU is present,
  not intensities; they are taken as they are. py-feat has no AU45: its AU43 (eyes closed) fills
  AU45, so a blink reads as eyes closed. No left/right: sides copy the bilateral value. Pose:
  ``Pitch, Roll, Yaw`` in degrees. Several faces in a frame: the one with the largest box is kept.

Writing: ``write_au_table(track, path)`` writes ours; ``openface=True`` writes OpenFace's
convention instead (leading-space names, 1-based frames, ``AU*_r`` = 5 x ours, ``success``,
``confidence`` (1 where a face was found: MediaPipe has no comparable score), ``pose_R*`` in
radians). The OpenFace form has no left/right columns (they are
lost) and writes 0 for AUs of frames without a face (with ``success`` 0), as OpenFace does.
"""

from __future__ import annotations

import csv
import math
import os
from pathlib import Path

import numpy as np

from reenact.au.space import AU_NAMES, SIDED_AUS, TABLE_AU_NAMES, sync_bilateral
from reenact.au.track import AUTrack
from reenact.errors import ScriptError
from reenact.io.files import atomic_output

POSE_COLUMNS = ("pose_yaw", "pose_pitch", "pose_roll")
#: Header of reenact's CSV (plus ``input`` for image folders).
COLUMNS: tuple[str, ...] = ("frame", "timestamp", "face_found", *TABLE_AU_NAMES, *POSE_COLUMNS)
#: OpenFace's 0..5 intensity scale over ours in [0, 1].
OPENFACE_SCALE = 5.0
#: py-feat column used for each of our AUs where the names differ.
PYFEAT_ALIASES: dict[str, str] = {"AU45": "AU43"}


def _cell(text: str) -> float:
    text = text.strip()
    if not text or text.lower() == "nan":
        return math.nan
    return float(text)


def _read_rows(path: Path) -> tuple[list[str], list[list[str]]]:
    if not path.exists():
        raise ScriptError(f"AU table {path} does not exist; check the path")
    try:
        with open(path, newline="") as f:
            rows = list(csv.reader(f))
    except (UnicodeDecodeError, csv.Error, OSError) as exc:
        raise ScriptError(f"{path} is not a readable CSV file ({exc}); give an AU table") from exc
    if not rows:
        raise ScriptError(f"AU table {path} is empty; give a CSV with a header and rows")
    header = [h.strip() for h in rows[0]]
    body = [r for r in rows[1:] if any(c.strip() for c in r)]
    return header, body


def _fps_from_times(times: np.ndarray) -> float:
    """Frame rate from timestamps in seconds; 0.0 when they do not rise."""
    t = times[np.isfinite(times)]
    if len(t) < 2 or t[-1] <= t[0]:
        return 0.0
    return float((len(t) - 1) / (t[-1] - t[0]))


def _numeric(header: list[str], body: list[list[str]], path: Path) -> dict[str, np.ndarray]:
    cols: dict[str, np.ndarray] = {}
    for j, name in enumerate(header):
        try:
            cols[name] = np.array([_cell(r[j]) if j < len(r) else math.nan for r in body], np.float64)
        except ValueError:
            cols[name] = None  # a text column (e.g. py-feat's input)
    if not body:
        raise ScriptError(f"AU table {path} has a header but no rows; give a table with frames")
    return cols


def _bilateral_to_table(bilateral: dict[str, np.ndarray], t: int) -> np.ndarray:
    """(T, 23) table from bilateral columns; sides copy their bilateral value; absent -> NaN."""
    values = np.full((t, len(TABLE_AU_NAMES)), np.nan, np.float32)
    for au in AU_NAMES:
        col = bilateral.get(au)
        if col is None:
            continue
        values[:, TABLE_AU_NAMES.index(au)] = col
        if au in SIDED_AUS:
            values[:, TABLE_AU_NAMES.index(f"{au}_L")] = col
            values[:, TABLE_AU_NAMES.index(f"{au}_R")] = col
    return values


def _read_ours(cols: dict[str, np.ndarray], body: list[list[str]], header: list[str], path: Path) -> AUTrack:
    missing = [c for c in COLUMNS if c not in cols]
    if missing:
        raise ScriptError(f"AU table {path} lacks columns {', '.join(missing)}; write it with reenact")
    values = np.stack([cols[n] for n in TABLE_AU_NAMES], axis=1).astype(np.float32)
    pose = np.stack([cols[n] for n in POSE_COLUMNS], axis=1).astype(np.float32)
    found = np.nan_to_num(cols["face_found"]) > 0.5
    sources: tuple[str, ...] = ()
    if "input" in header:
        j = header.index("input")
        sources = tuple(r[j] if j < len(r) else "" for r in body)
    _check_range(values, path, 1.0)
    return AUTrack(values=values, found=found, pose=pose, fps=_fps_from_times(cols["timestamp"]),
                   sources=sources)


def _check_range(values: np.ndarray, path: Path, top: float) -> None:
    finite = values[np.isfinite(values)]
    if finite.size and (finite.min() < -1e-3 or finite.max() > top + 1e-3):
        raise ScriptError(
            f"AU values in {path} lie in [{finite.min():.3g}, {finite.max():.3g}], outside [0, {top:g}]; "
            "check the file's format"
        )


def _read_openface(cols: dict[str, np.ndarray], path: Path) -> AUTrack:
    t = len(cols["AU01_r"]) if cols.get("AU01_r") is not None else len(next(iter(cols.values())))
    raw = {au: cols[f"{au}_r"] for au in AU_NAMES if cols.get(f"{au}_r") is not None}
    for col in raw.values():
        _check_range(col[:, None], path, OPENFACE_SCALE)
    bilateral = {au: np.clip(col / OPENFACE_SCALE, 0.0, 1.0) for au, col in raw.items()}
    values = _bilateral_to_table(bilateral, t)
    found = np.nan_to_num(cols["success"]) > 0.5 if cols.get("success") is not None else np.ones(t, bool)
    values[~found] = np.nan
    pose = np.full((t, 3), np.nan, np.float32)
    if all(cols.get(c) is not None for c in ("pose_Rx", "pose_Ry", "pose_Rz")):
        pose = np.degrees(np.stack([cols["pose_Ry"], cols["pose_Rx"], cols["pose_Rz"]], axis=1))
        pose[~found] = np.nan
    times = cols.get("timestamp")
    fps = _fps_from_times(times) if times is not None else 0.0
    return AUTrack(values=sync_bilateral(values), found=found, pose=pose.astype(np.float32), fps=fps)


def _largest_face_rows(cols: dict[str, np.ndarray], n: int) -> np.ndarray:
    """Row indices keeping, for each frame number, the face with the largest box."""
    frames = cols.get("frame")
    if frames is None:
        return np.arange(n)
    width, height = cols.get("FaceRectWidth"), cols.get("FaceRectHeight")
    area = np.nan_to_num(width * height) if width is not None and height is not None else np.ones(n)
    best: dict[float, int] = {}
    for i, f in enumerate(frames):
        if f not in best or area[i] > area[best[f]]:
            best[f] = i
    return np.array([best[f] for f in sorted(best)], int)


def track_from_pyfeat(cols: dict[str, np.ndarray | None], *, inputs: list[str] | None = None,
                      fps: float = 0.0, path: str | os.PathLike = "py-feat output") -> AUTrack:
    """AUTrack from py-feat's columns (name -> (N,) array; a text column may be None).

    Args:
        cols: py-feat's output columns (``AU01``.. ``AU43``, ``FaceScore``, ``FaceRect*``,
            ``frame``, ``Pitch/Roll/Yaw``); N rows, several per frame when several faces.
        inputs: py-feat's ``input`` column (file of each row), if any.
        fps: frame rate for a clip; 0.0 for images.
        path: named in error messages.
    """
    n = len(next(v for v in cols.values() if v is not None))
    keep = _largest_face_rows(cols, n)
    t = len(keep)
    bilateral = {}
    for au in AU_NAMES:
        col = cols.get(PYFEAT_ALIASES.get(au, au))
        if col is not None:
            bilateral[au] = col[keep]
    values = _bilateral_to_table(bilateral, t)
    _check_range(values, Path(path), 1.0)
    score = cols.get("FaceScore")
    found = np.isfinite(score[keep]) if score is not None else np.isfinite(values).any(axis=1)
    values[~found] = np.nan
    pose = np.full((t, 3), np.nan, np.float32)
    if all(cols.get(c) is not None for c in ("Yaw", "Pitch", "Roll")):
        pose = np.stack([cols["Yaw"][keep], cols["Pitch"][keep], cols["Roll"][keep]], axis=1)
    sources = tuple(inputs[i] for i in keep) if inputs else ()
    return AUTrack(values=sync_bilateral(values), found=found, pose=pose.astype(np.float32), fps=fps,
                   sources=sources if len(set(sources)) > 1 else ())


def _read_pyfeat(cols: dict[str, np.ndarray], body: list[list[str]], header: list[str],
                 path: Path) -> AUTrack:
    inputs = None
    if "input" in header:
        j = header.index("input")
        inputs = [r[j] if j < len(r) else "" for r in body]
    fps = _fps_from_times(cols["approx_time"]) if cols.get("approx_time") is not None else 0.0
    return track_from_pyfeat(cols, inputs=inputs, fps=fps, path=path)


def detect_format(header: list[str]) -> str:
    """"reenact", "openface" or "pyfeat" from a CSV header (names stripped of spaces)."""
    names = set(header)
    if "face_found" in names and "AU01" in names:
        return "reenact"
    if "AU01_r" in names or any(n.endswith("_r") and n.startswith("AU") for n in names):
        return "openface"
    if "FaceScore" in names or ("AU01" in names and "AU43" in names):
        return "pyfeat"
    raise ScriptError(
        "unknown AU table format: expected reenact's (face_found, AU01...), OpenFace's (AU01_r...) "
        "or py-feat's (FaceScore, AU01...) columns"
    )


def read_au_table(path: str | os.PathLike, *, fmt: str | None = None) -> AUTrack:
    """Read an AU table (reenact, OpenFace or py-feat CSV; see the module docstring).

    Args:
        path: the CSV file.
        fmt: "reenact", "openface" or "pyfeat"; None detects it from the header.

    Returns:
        AUTrack in reenact's conventions (values in [0, 1], TABLE_AU_NAMES columns, NaN rows
        where no face).

    Raises:
        ScriptError: missing, unreadable or unrecognised file, or values outside the format's range.
    """
    path = Path(path)
    header, body = _read_rows(path)
    fmt = fmt or detect_format(header)
    cols = _numeric(header, body, path)
    if fmt == "reenact":
        return _read_ours(cols, body, header, path)
    if fmt == "openface":
        return _read_openface(cols, path)
    if fmt == "pyfeat":
        return _read_pyfeat(cols, body, header, path)
    raise ScriptError(f"unknown AU table format {fmt!r}; use reenact, openface or pyfeat")


def _fmt(x: float, digits: int = 4) -> str:
    return "" if not np.isfinite(x) else f"{x:.{digits}f}"


def _rows_ours(track: AUTrack) -> tuple[list[str], list[list[str]]]:
    header = list(COLUMNS) + (["input"] if track.sources else [])
    times = track.timestamps
    rows = []
    for i in range(len(track)):
        row = [str(i), _fmt(times[i], 6), str(int(track.found[i]))]
        row += [_fmt(v) for v in track.values[i]]
        row += [_fmt(v, 3) for v in track.pose[i]]
        if track.sources:
            row.append(track.sources[i])
        rows.append(row)
    return header, rows


def _rows_openface(track: AUTrack) -> tuple[list[str], list[list[str]]]:
    header = ["frame", "face_id", "timestamp", "confidence", "success", "pose_Rx", "pose_Ry", "pose_Rz"]
    header += [f"{au}_r" for au in AU_NAMES]
    idx = [track.names.index(au) for au in AU_NAMES]
    times = np.nan_to_num(track.timestamps, nan=0.0)
    rows = []
    for i in range(len(track)):
        ok = bool(track.found[i]) and np.isfinite(track.values[i, idx]).all()
        yaw, pitch, roll = np.radians(np.nan_to_num(track.pose[i])) if ok else (0.0, 0.0, 0.0)
        aus = track.values[i, idx] * OPENFACE_SCALE if ok else np.zeros(len(idx))
        row = [str(i + 1), "0", f"{times[i]:.3f}", str(int(ok)), str(int(ok)),
               f"{pitch:.6f}", f"{yaw:.6f}", f"{roll:.6f}"] + [f"{v:.2f}" for v in aus]
        rows.append(row)
    return header, rows


def write_au_table(track: AUTrack, path: str | os.PathLike, *, openface: bool = False) -> Path:
    """Write an AU track as CSV (atomically: no partial file on failure).

    Args:
        track: the AUs to write (TABLE_AU_NAMES columns).
        path: output .csv.
        openface: write OpenFace's column convention instead of reenact's (see module docstring).

    Raises:
        OutputError: the output path cannot be written.
    """
    if tuple(track.names) != TABLE_AU_NAMES:
        raise ScriptError("write_au_table needs a track with reenact.au.space.TABLE_AU_NAMES columns")
    header, rows = _rows_openface(track) if openface else _rows_ours(track)
    path = Path(path)
    with atomic_output(path) as tmp:
        with open(tmp, "w", newline="") as f:
            if openface:  # OpenFace separates cells with ", " (hence its ' AU01_r' names)
                f.writelines(", ".join(r) + "\n" for r in [header, *rows])
            else:
                writer = csv.writer(f, lineterminator="\n")
                writer.writerow(header)
                writer.writerows(rows)
    return path
