"""The colour of real open mouths' dark interior, relative to the lips: the cavity model's numbers.

    python benchmarks/mouth_interiors.py                  # TFEID photos + MEAD clips in ../shared
    python benchmarks/mouth_interiors.py --tfeid DIR --clips A.mp4 B.mp4

Where the warp opens a mouth beyond the photo's own opening, the new gap shows the oral cavity
(``reenact.model.interior.cavity_colour``): the lips' median colour x a per-channel ratio that
depends on the height in the opening (``CAVITY_PROFILE``) and falls off towards the corners
(``CAVITY_CORNERS``). This script measures those ratios on real faces (development data, not
committed): every TFEID photo and every 6th frame of the MEAD clips (the held-out actor W011 left
out) whose mouth is open (inner-lip gap >= 0.2 of the mouth's width, mouth >= 40 px wide). In
each face, the pixels inside the inner lip contour darker than half the lips' mean (the cavity:
not teeth, not a lit tongue) are binned by ``mouth_coordinates``; per face, the median ratio per
bin; reported, the median over faces (pooled, and per set). Prints tables and the two arrays.
Takes about 2 minutes on 2 cores.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

SHARED = Path(__file__).resolve().parent.parent.parent / "shared"
BINS = 8
HELD_OUT = ("W011",)


def _faces(tfeid: Path, clips: list[Path]):
    """(set name, RGB image) of every photo and every 6th clip frame."""
    from reenact.io.images import load_image
    from reenact.io.video import iter_frames

    for path in sorted(tfeid.glob("*.jpg")):
        yield "TFEID", load_image(path)
    for clip in clips:
        frames = (f for chunk in iter_frames(clip) for f in chunk)
        for i, frame in enumerate(frames):
            if i % 6 == 0:
                yield "MEAD", frame


def face_ratios(image: np.ndarray, landmarks: np.ndarray, *, min_gap: float = 0.2, min_width: float = 40.0):
    """Per face: ((BINS, 3) ratio by height, (BINS,) mean ratio by corner position), or None where
    the mouth is closed, small or shows no cavity."""
    from matplotlib.path import Path as PolyPath

    from reenact.model import mesh as M
    from reenact.model.interior import lip_colour, mouth_coordinates

    lm = landmarks[:, :2].astype(np.float64)
    width = np.linalg.norm(lm[M.LIPS_OUTER_UPPER[-1]] - lm[M.LIPS_OUTER_UPPER[0]])
    up, lo = lm[list(M.LIPS_INNER_UPPER[3:8])], lm[list(M.LIPS_INNER_LOWER[3:8])]
    if width < min_width or np.linalg.norm(up - lo, axis=1).mean() < min_gap * width:
        return None
    poly = lm[list(M.MOUTH_INNER)]
    (x0, y0), (x1, y1) = np.floor(poly.min(0)).astype(int), np.ceil(poly.max(0)).astype(int)
    ys, xs = np.mgrid[max(y0, 0):min(y1 + 1, image.shape[0]), max(x0, 0):min(x1 + 1, image.shape[1])]
    pts = np.stack([xs.ravel(), ys.ravel()], 1).astype(np.float64)
    pts = pts[PolyPath(poly).contains_points(pts)]
    lips = lip_colour(image, lm).astype(np.float64)
    colour = image[pts[:, 1].astype(int), pts[:, 0].astype(int)].astype(np.float64)
    dark = colour.mean(1) < 0.5 * lips.mean()
    if dark.sum() < 20 or lips.min() < 1:
        return None
    t, s = mouth_coordinates(pts[dark], lm)
    ratio = colour[dark] / lips
    by_height, by_corner = np.full((BINS, 3), np.nan), np.full(BINS, np.nan)
    for b in range(BINS):
        m = np.minimum((t * BINS).astype(int), BINS - 1) == b
        if m.sum() >= 3:
            by_height[b] = np.median(ratio[m], 0)
        m = np.minimum((s * BINS).astype(int), BINS - 1) == b
        if m.sum() >= 3:
            by_corner[b] = np.median(ratio[m].mean(1))
    return by_height, by_corner


def measure(tfeid: Path, clips: list[Path]) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Set name ('TFEID', 'MEAD', 'all') -> (faces, BINS, 3) and (faces, BINS) per-face ratios."""
    from reenact.face.tracking import FaceTracker, TrackerConfig

    out: dict[str, tuple[list, list]] = {}
    with FaceTracker(TrackerConfig(max_faces=1)) as tracker:
        for name, image in _faces(tfeid, clips):
            face = tracker.detect(image)
            ratios = None if face is None else face_ratios(image, face.landmarks)
            if ratios is None:
                continue
            for key in (name, "all"):
                out.setdefault(key, ([], []))[0].append(ratios[0])
                out[key][1].append(ratios[1])
    return {k: (np.array(h), np.array(c)) for k, (h, c) in out.items()}


def tables(sets: dict[str, tuple[np.ndarray, np.ndarray]]) -> list[str]:
    names = [k for k in ("TFEID", "MEAD", "all") if k in sets]
    lines = ["| height t | " + " | ".join(f"{n} R / G / B ({len(sets[n][0])} faces)" for n in names) + " |",
             "|---" * (len(names) + 1) + "|"]
    for b in range(BINS):
        cells = [" / ".join(f"{v:.3f}" for v in np.nanmedian(sets[n][0][:, b], 0)) for n in names]
        lines.append(f"| {(b + 0.5) / BINS:.2f} | " + " | ".join(cells) + " |")
    lines += ["", "| corner position s | " + " | ".join(names) + " |", "|---" * (len(names) + 1) + "|"]
    for b in range(BINS):
        cells = [f"{np.nanmedian(sets[n][1][:, b]):.3f}" for n in names]
        lines.append(f"| {(b + 0.5) / BINS:.2f} | " + " | ".join(cells) + " |")
    return lines


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--tfeid", type=Path, default=SHARED / "datasets/tfeid")
    p.add_argument("--clips", type=Path, nargs="*", default=None, help="default: the MEAD clips but W011")
    args = p.parse_args(argv)
    clips = args.clips if args.clips is not None else [
        c for c in sorted((SHARED / "media/talking/mead").glob("*.mp4")) if not c.name.startswith(HELD_OUT)]
    if not args.tfeid.is_dir() or any(not c.is_file() for c in clips):
        print("error: the TFEID folder or a clip is missing; give --tfeid DIR and --clips", file=sys.stderr)
        return 2
    sets = measure(args.tfeid, clips)
    if "all" not in sets:
        print("error: no open mouth was found in these faces", file=sys.stderr)
        return 1
    print("\n".join(tables(sets)) + "\n")
    height, corner = np.nanmedian(sets["all"][0], 0), np.nanmedian(sets["all"][1], 0)
    corner = corner / corner[BINS // 2 - 1: BINS // 2 + 1].mean()
    print("CAVITY_PROFILE =", np.array2string(height.round(3), separator=", "))
    print("CAVITY_CORNERS =", np.array2string(corner.round(3), separator=", "))
    return 0


if __name__ == "__main__":
    sys.exit(main())
