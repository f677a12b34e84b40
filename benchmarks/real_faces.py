"""What real faces score on the AU-target bars: the requested-AU MAE, the identity distance, the
dlib geometry checks and the sharpness ratio.

    python benchmarks/real_faces.py                       # MEAD level-3 clips and TFEID, ../shared
    python benchmarks/real_faces.py --mead DIR --tfeid DIR
    python benchmarks/real_faces.py --only geometry       # the dlib geometry tables only (~3 min)
    python benchmarks/real_faces.py --only sharpness      # the sharpness table only (same pairs)
    python benchmarks/real_faces.py --only smile-sharpness  # the same from a smile with teeth (~1 min)

The AU-target evaluation scores a model by the requested-AU MAE: the mean |requested - measured|
over the AUs a target asks for (>= 0.25), measured by the same MediaPipe-based reader
(``reenact.au.blendshapes``) on the output. This script scores real faces the same way, to show
which part of a model's error the reader itself leaves:

- MEAD (development data, not committed): each actor's level-3 (strongest) clip of an emotion,
  scored against that emotion's prototype (``EMOTION_PROTOTYPES``), frame by frame. Reported per
  clip: the best frame (an optimistic ceiling: the minimum over ~100 frames), and the frame at
  the 90th percentile of expression strength (sum of the requested AUs' readings).
- TFEID (development data): every photo of an emotion, scored against its prototype; median per
  posing type (1 theatrical, 2 posed to Ekman's FACS criteria, 3 personal event). The reader's
  ramps were calibrated on TFEID, which favours it.
- Identity (``reenact.eval.identity``, dlib's descriptor in dlib's own detector box, as the
  evaluation measures it): each MEAD actor's neutral clip's first frame against every 10th frame
  of the same actor's neutral clip (speech only) and of each level-3 emotion clip (the same
  person, the same session: any distance is what expression and speech do to the descriptor);
  and each TFEID performer's first neutral photo against every posed emotion photo of theirs.
- Geometry (``reenact.eval.geometry``, dlib's 68 points, the checks ``reenact eval`` applies to
  outputs): each real expressive face against the same person's neutral face, as if a model had
  turned the neutral face into it. MEAD: every frame of a level-3 emotion clip at or above the
  90th percentile of strength (as above) against the actor's calmest neutral frame (the frame of
  the neutral clip with the smallest summed AU reading: that clip is speech, and its first frame
  can have the mouth open). TFEID: every front-view posed photo against the same performer's
  calmest front neutral photo (``PP01...``). The checks run twice: requested = the emotion's
  prototype (what an evaluation asks), and requested = the face's own AU reading (whether the
  geometry agrees with what the AU reader saw). Reported: pass rate (number of checks) and the
  mean brow_height change.
- Sharpness (``reenact eval``'s ratio: variance of the Laplacian inside the MediaPipe face mask,
  each face in its own mask): the same pairs' expressive face / its neutral face, per (faces,
  emotion). What the bar (>= 0.9) asks of a model, a real face of the same person does here.
  Most of the evaluation's sources smile with their teeth showing; so also each TFEID type-2
  (FACS-posed) front photo against the same performer's smile whose lips are parted (inner-lip
  gap >= 0.08 of the inter-ocular distance): what closing a smile does to the ratio.

Prints markdown tables (paste into docs/results.md). Takes about 6-8 minutes on 2 cores (the
geometry tables reuse the AU readings).
"""

from __future__ import annotations

import argparse
import functools
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
SHARED = ROOT.parent / "shared"

MEAD_EMOTIONS = {"happy": "happy", "sad": "sad", "surprised": "surprise", "fear": "fear",
                 "angry": "anger", "disgusted": "disgust", "contempt": "contempt"}
TFEID_EMOTIONS = {"b": "happy", "c": "sad", "d": "anger", "e": "disgust", "f": "fear", "g": "surprise"}
ORDER = ("happy", "sad", "surprise", "fear", "anger", "disgust", "contempt")
ACTIVE = 0.25
STRONG = 0.9  # geometry: MEAD frames at or above this quantile of expression strength


@functools.cache
def raw_aus(path: Path):
    """The AU reader's raw per-frame (per-image) ``AUTrack`` of a clip or an image folder, once."""
    from reenact.au.extract import extract_aus

    return extract_aus(path).raw


def prototype_errors(values: np.ndarray, emotion: str) -> tuple[np.ndarray, np.ndarray]:
    """Requested-AU MAE (N,) of N AU-table rows against one emotion's prototype, and the rows'
    strength (N,): the sum of the requested AUs' readings."""
    from reenact.au.space import EMOTION_PROTOTYPES, table_from_values

    req = table_from_values(EMOTION_PROTOTYPES[emotion])
    active = req >= ACTIVE
    values = np.asarray(values)[:, active]
    return np.abs(values - req[active]).mean(1), values.sum(1)


def mead_table(folder: Path) -> list[str]:
    rows: dict[str, dict[str, tuple[float, float]]] = {}
    for clip in sorted(folder.glob("*_level3_001.mp4")):
        actor, _, name = clip.stem.split("_")[:3]
        emotion = MEAD_EMOTIONS.get(name)
        if emotion is None:
            continue
        raw = raw_aus(clip)
        values = raw.values[raw.found]
        err, strength = prototype_errors(values, emotion)
        p90 = int(np.argsort(strength)[int(0.9 * (len(strength) - 1))])
        rows.setdefault(actor, {})[emotion] = (float(err.min()), float(err[p90]))
        print(f"  {clip.name}: best {err.min():.3f}, 90th-percentile frame {err[p90]:.3f}", file=sys.stderr)
    lines = ["| actor | " + " | ".join(ORDER) + " | mean |", "|---" * (len(ORDER) + 2) + "|"]
    for actor, by in rows.items():
        cells = [f"{by[e][0]:.2f} / {by[e][1]:.2f}" if e in by else "-" for e in ORDER]
        best = np.mean([by[e][0] for e in by])
        p90 = np.mean([by[e][1] for e in by])
        lines.append(f"| {actor} | " + " | ".join(cells) + f" | {best:.3f} / {p90:.3f} |")
    return lines


def tfeid_table(folder: Path) -> list[str]:
    raw = raw_aus(folder)
    errors: dict[tuple[str, str], list[float]] = {}
    for name, values, found in zip(raw.sources, raw.values, raw.found, strict=True):
        emotion = TFEID_EMOTIONS.get(name[4:5]) if len(name) >= 8 else None
        if found and emotion is not None:
            err, _ = prototype_errors(values[None], emotion)
            errors.setdefault((name[2], emotion), []).append(float(err[0]))
    order = [e for e in ORDER if e in TFEID_EMOTIONS.values()]
    lines = ["| TFEID type | " + " | ".join(order) + " | mean |", "|---" * (len(order) + 2) + "|"]
    for kind, label in (("1", "1 theatrical"), ("2", "2 FACS-posed"), ("3", "3 personal event")):
        med = [float(np.median(errors[(kind, e)])) if (kind, e) in errors else float("nan") for e in order]
        counts = [len(errors.get((kind, e), ())) for e in order]
        cells = [f"{m:.2f} (n={n})" for m, n in zip(med, counts, strict=True)]
        lines.append(f"| {label} | " + " | ".join(cells) + f" | {np.nanmean(med):.3f} |")
    return lines


def identity_table(folder: Path) -> list[str]:
    from reenact.eval.identity import identity_distance, shared_describer
    from reenact.io.video import iter_frames

    describer = shared_describer()
    names = ("neutral", *MEAD_EMOTIONS)
    lines = ["| actor | " + " | ".join(("neutral speech", *ORDER)) + " |", "|---" * (len(ORDER) + 2) + "|"]
    medians: list[float] = []
    worst = 0.0
    actors = sorted({p.name.split("_")[0] for p in folder.glob("*_front_neutral_level1_001.mp4")})
    for actor in actors:
        neutral = folder / f"{actor}_front_neutral_level1_001.mp4"
        reference = describer.describe(next(iter(iter_frames(neutral, chunk_size=8)))[0])
        cells = {}
        for name in names:
            clip = neutral if name == "neutral" else folder / f"{actor}_front_{name}_level3_001.mp4"
            if not clip.exists():
                continue
            frames = np.concatenate(list(iter_frames(clip, chunk_size=64)))[5::10]
            dist = [identity_distance(reference, describer.describe(f)) for f in frames]
            key = "neutral speech" if name == "neutral" else MEAD_EMOTIONS[name]
            cells[key] = (float(np.median(dist)), float(np.max(dist)))
            if name != "neutral":
                medians.append(cells[key][0])
                worst = max(worst, cells[key][1])
        row = [f"{cells[k][0]:.2f} / {cells[k][1]:.2f}" if k in cells else "-"
               for k in ("neutral speech", *ORDER)]
        lines.append(f"| {actor} | " + " | ".join(row) + " |")
    lines.append(f"\nOver every actor's emotions: median of the clip medians {np.median(medians):.3f}, "
                 f"worst frame {worst:.3f}")
    return lines


def tfeid_identity_table(folder: Path) -> list[str]:
    """Each TFEID performer's first neutral photo against each of their posed emotion photos
    (every view and posing type; photos as stored, 256 px stretched to square, upscaled to 512)."""
    from PIL import Image

    from reenact.errors import NoFaceError
    from reenact.eval.identity import identity_distance, shared_describer

    describer = shared_describer()

    def describe(path: Path):
        image = np.asarray(Image.open(path).convert("RGB").resize((512, 512), Image.Resampling.LANCZOS))
        try:
            return describer.describe(image)
        except NoFaceError:
            return None

    photos = sorted(p for p in folder.glob("*.jpg") if len(p.stem) >= 5)
    dist: dict[str, list[float]] = {}
    for performer in sorted({p.name[:2] for p in photos}):
        mine = [p for p in photos if p.name[:2] == performer]
        neutral = next((d for d in (describe(p) for p in mine if p.name[4] == "a") if d is not None), None)
        if neutral is None:
            continue
        for p in mine:
            emotion = TFEID_EMOTIONS.get(p.name[4])
            other = describe(p) if emotion else None
            if other is not None:
                dist.setdefault(emotion, []).append(identity_distance(neutral, other))
    lines = ["| emotion | photos | median | 90th percentile | worst | share over 0.45 (the bar's worst) |",
             "|---|---|---|---|---|---|"]
    dist["all"] = [d for v in dist.values() for d in v]
    for emotion in (e for e in (*ORDER, "all") if e in dist):
        v = np.asarray(dist[emotion])
        lines.append(f"| {emotion} | {len(v)} | {np.median(v):.3f} | {np.quantile(v, 0.9):.3f} | "
                     f"{v.max():.3f} | {(v > 0.45).mean():.3f} |")
    return lines


def _calmest(values: np.ndarray, found: np.ndarray, rows=None) -> int | None:
    """The row (of ``rows``, default all) with the smallest summed reading of the 17 AUs."""
    rows = np.flatnonzero(found) if rows is None else [r for r in rows if found[r]]
    return min(rows, key=lambda r: float(np.nansum(values[r, :17])), default=None)


@functools.cache
def _tracker():
    from reenact.face.tracking import FaceTracker, TrackerConfig

    return FaceTracker(TrackerConfig(max_faces=1))


def _measure(image: np.ndarray):
    """(dlib's geometry of the face, the Laplacian variance inside its MediaPipe face mask:
    ``reenact eval``'s sharpness mask, here on the image's own face; NaN without one), or None."""
    from reenact.eval.geometry import face_geometry, shared_landmarks
    from reenact.eval.image_metrics import laplacian_variance
    from reenact.eval.measure import face_mask, measure_aus

    face = shared_landmarks().find(image)
    if face is None:
        return None
    _, (mp_face,) = measure_aus([image], tracker=_tracker())
    detail = (float("nan") if mp_face is None
              else laplacian_variance(image, face_mask(mp_face, (0, 0), image.shape[:2])))
    return face_geometry(face.points), detail


def mead_geometry_pairs(folder: Path):
    """(faces, emotion, source AUs, source (geometry, detail), face AUs, face (geometry, detail)),
    one per strong frame (``_measure``)."""
    from reenact.au.space import EMOTION_PROTOTYPES, table_from_values
    from reenact.io.video import read_frames

    for neutral in sorted(folder.glob("*_front_neutral_level1_001.mp4")):
        actor, raw = neutral.name.split("_")[0], raw_aus(neutral)
        k = _calmest(raw.values, raw.found)
        source_aus, source = raw.values[k], _measure(read_frames(neutral, [k])[0])
        for name, emotion in MEAD_EMOTIONS.items():
            clip = folder / f"{actor}_front_{name}_level3_001.mp4"
            if source is None or not clip.exists():
                continue
            raw = raw_aus(clip)
            asked = table_from_values(EMOTION_PROTOTYPES[emotion]) >= ACTIVE
            strength = np.where(raw.found, np.nan_to_num(raw.values[:, asked]).sum(1), -np.inf)
            strong = np.flatnonzero(strength >= np.quantile(strength[raw.found], STRONG))
            for i, frame in zip(strong, read_frames(clip, strong.tolist()), strict=True):
                measured = _measure(frame)
                if measured is not None:
                    yield "MEAD", emotion, source_aus, source, raw.values[i], measured


def tfeid_geometry_pairs(folder: Path):
    """As ``mead_geometry_pairs``: each front posed photo against its performer's calmest neutral."""
    from reenact.io.images import load_image

    raw = raw_aus(folder)
    names = raw.sources
    by_performer: dict[str, list[int]] = {}
    for i, name in enumerate(names):  # PP01: performer PP, type 0 (calm), front view
        if name[2:4] == "01":
            by_performer.setdefault(name[:2], []).append(i)
    sources = {}
    for performer, rows in by_performer.items():
        k = _calmest(raw.values, raw.found, rows)
        measured = _measure(load_image(folder / names[k])) if k is not None else None
        if measured is not None:
            sources[performer] = (raw.values[k], measured)
    for i, name in enumerate(names):
        emotion = TFEID_EMOTIONS.get(name[4:5]) if len(name) >= 8 else None
        if emotion is None or name[3] != "1" or not raw.found[i] or name[:2] not in sources:
            continue
        measured = _measure(load_image(folder / name))
        if measured is not None:
            yield f"TFEID type {name[2]}", emotion, *sources[name[:2]], raw.values[i], measured


def geometry_table(pairs: list[tuple], requested: str) -> list[str]:
    """Pass rate (checks) per check per (faces, emotion), requested = "prototype" or "reader"."""
    from reenact.au.space import EMOTION_PROTOTYPES, table_from_values
    from reenact.eval.geometry import CHECKS, geometry_checks

    cells: dict[tuple[str, str], dict[str, list]] = {}
    for faces, emotion, source_aus, (source, _), aus, (geometry, _) in pairs:
        change = geometry.minus(source)
        asked = table_from_values(EMOTION_PROTOTYPES[emotion]) if requested == "prototype" else aus
        cell = cells.setdefault((faces, emotion), {"brow_height": []})
        cell["brow_height"].append(change.brow_height)
        for check, passed in geometry_checks(asked, source_aus, change):
            cell.setdefault(check, []).append(passed)
    lines = ["| faces | emotion | n | mean brow_height change | " + " | ".join(CHECKS) + " |",
             "|---" * (len(CHECKS) + 4) + "|"]
    for (faces, emotion), cell in sorted(cells.items(), key=lambda kv: (kv[0][0], ORDER.index(kv[0][1]))):
        rates = [f"{np.mean(cell[c]):.2f} ({len(cell[c])})" if c in cell else "-" for c in CHECKS]
        lines.append(f"| {faces} | {emotion} | {len(cell['brow_height'])} | "
                     f"{np.mean(cell['brow_height']):+.3f} | " + " | ".join(rates) + " |")
    return lines


def sharpness_table(pairs: list[tuple]) -> list[str]:
    """Sharpness ratio (``reenact eval``'s: Laplacian variance in the face mask, this face / the
    same person's neutral face) per (faces, emotion): median, 10th-90th percentile, n."""
    cells: dict[tuple[str, str], list[float]] = {}
    for faces, emotion, _, (_, source_detail), _, (_, detail) in pairs:
        if np.isfinite(source_detail) and np.isfinite(detail) and source_detail > 0:
            cells.setdefault((faces, emotion), []).append(detail / source_detail)
    lines = ["| faces | emotion | n | sharpness ratio median | 10th-90th percentile |",
             "|---|---|---|---|---|"]
    for (faces, emotion), ratios in sorted(cells.items(), key=lambda kv: (kv[0][0], ORDER.index(kv[0][1]))):
        lo, mid, hi = np.quantile(ratios, [0.1, 0.5, 0.9])
        lines.append(f"| {faces} | {emotion} | {len(ratios)} | {mid:.2f} | {lo:.2f}-{hi:.2f} |")
    return lines


def smile_sharpness_table(folder: Path, *, parted: float = 0.08) -> list[str]:
    """Sharpness ratio of each TFEID type-2 front photo / the same performer's teeth-showing smile
    (``_measure``'s detail; the smile's inner-lip gap >= ``parted`` x the inter-ocular distance)."""
    from reenact.au.blendshapes import lip_gap
    from reenact.eval.image_metrics import laplacian_variance
    from reenact.eval.measure import face_mask, measure_aus
    from reenact.io.images import load_image

    def detail(name: str):
        image = load_image(folder / name)
        _, (face,) = measure_aus([image], tracker=_tracker())
        if face is None:
            return None
        return (laplacian_variance(image, face_mask(face, (0, 0), image.shape[:2])),
                float(lip_gap(face.landmarks[None, :, :2])[0]))

    photos: dict[str, dict[str, str]] = {}
    for path in sorted(folder.glob("*.jpg")):  # PP + type + view + emotion: PP21b...
        emotion = TFEID_EMOTIONS.get(path.name[4:5]) if len(path.name) >= 8 else None
        if emotion and path.name[2:4] == "21":
            photos.setdefault(path.name[:2], {}).setdefault(emotion, path.name)
    cells: dict[str, list[float]] = {}
    for faces in photos.values():
        smile = detail(faces["happy"]) if "happy" in faces else None
        if smile is None or smile[1] < parted or smile[0] <= 0:
            continue
        for emotion, name in faces.items():
            measured = detail(name) if emotion != "happy" else None
            if measured is not None:
                cells.setdefault(emotion, []).append(measured[0] / smile[0])
    lines = ["| emotion | n | sharpness ratio median | 10th-90th percentile |", "|---|---|---|---|"]
    for emotion in (e for e in ORDER if e in cells):
        lo, mid, hi = np.quantile(cells[emotion], [0.1, 0.5, 0.9])
        lines.append(f"| {emotion} | {len(cells[emotion])} | {mid:.2f} | {lo:.2f}-{hi:.2f} |")
    medians = [float(np.median(v)) for v in cells.values()]
    return lines + [f"| median of the medians | | {np.median(medians):.2f} | |"] if medians else lines


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--mead", type=Path, default=SHARED / "media/talking/mead")
    p.add_argument("--tfeid", type=Path, default=SHARED / "datasets/tfeid")
    p.add_argument("--only", choices=("aus", "identity", "geometry", "sharpness", "smile-sharpness"),
                   help="print one part only (geometry and sharpness measure the same pairs)")
    args = p.parse_args(argv)
    for folder in (args.mead, args.tfeid):
        if not folder.is_dir():
            print(f"error: {folder} is not a folder; give --mead / --tfeid", file=sys.stderr)
            return 2
    if args.only in (None, "aus"):
        print("Requested-AU MAE of real faces against the emotion prototypes (reenact's AU reader)\n")
        print("MEAD level-3 clips, per clip: best frame / frame at the 90th percentile of strength\n")
        print("\n".join(mead_table(args.mead)) + "\n")
        print("TFEID photos, median per posing type\n")
        print("\n".join(tfeid_table(args.tfeid)) + "\n")
    if args.only in (None, "identity"):
        print("Identity distance of MEAD actors from their own neutral first frame, per clip: "
              "median / worst\n")
        print("\n".join(identity_table(args.mead)) + "\n")
        print("Identity distance of TFEID performers' posed emotions from their own first neutral photo\n")
        print("\n".join(tfeid_identity_table(args.tfeid)) + "\n")
    if args.only in (None, "geometry", "sharpness"):
        pairs = [*mead_geometry_pairs(args.mead), *tfeid_geometry_pairs(args.tfeid)]
    if args.only in (None, "geometry"):
        for requested, what in (("prototype", "the emotion's prototype"),
                                ("reader", "the face's own AU reading")):
            print(f"dlib geometry checks of real faces vs their own neutral face, requested = {what}: "
                  "pass rate (checks)\n")
            print("\n".join(geometry_table(pairs, requested)) + "\n")
    if args.only in (None, "sharpness"):
        print("Sharpness of real expressive faces vs their own neutral face (the bar: >= 0.9)\n")
        print("\n".join(sharpness_table(pairs)) + "\n")
    if args.only in (None, "smile-sharpness"):
        print("Sharpness of real expressive faces vs the same person's smile with parted lips "
              "(TFEID type 2)\n")
        print("\n".join(smile_sharpness_table(args.tfeid)) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
