"""What real faces score on the AU-target bars: the requested-AU MAE and the identity distance.

    python benchmarks/real_faces.py                       # MEAD level-3 clips and TFEID, ../shared
    python benchmarks/real_faces.py --mead DIR --tfeid DIR

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
  person, the same session: any distance is what expression and speech do to the descriptor).

Prints markdown tables (paste into docs/results.md). Takes about 5 minutes on 2 cores.
"""

from __future__ import annotations

import argparse
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


def prototype_errors(values: np.ndarray, emotion: str) -> tuple[np.ndarray, np.ndarray]:
    """Requested-AU MAE (N,) of N AU-table rows against one emotion's prototype, and the rows'
    strength (N,): the sum of the requested AUs' readings."""
    from reenact.au.space import EMOTION_PROTOTYPES, table_from_values

    req = table_from_values(EMOTION_PROTOTYPES[emotion])
    active = req >= ACTIVE
    values = np.asarray(values)[:, active]
    return np.abs(values - req[active]).mean(1), values.sum(1)


def mead_table(folder: Path) -> list[str]:
    from reenact.au.extract import extract_aus

    rows: dict[str, dict[str, tuple[float, float]]] = {}
    for clip in sorted(folder.glob("*_level3_001.mp4")):
        actor, _, name = clip.stem.split("_")[:3]
        emotion = MEAD_EMOTIONS.get(name)
        if emotion is None:
            continue
        raw = extract_aus(clip).raw
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
    from reenact.au.extract import extract_aus

    raw = extract_aus(folder).raw
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


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--mead", type=Path, default=SHARED / "media/talking/mead")
    p.add_argument("--tfeid", type=Path, default=SHARED / "datasets/tfeid")
    args = p.parse_args(argv)
    for folder in (args.mead, args.tfeid):
        if not folder.is_dir():
            print(f"error: {folder} is not a folder; give --mead / --tfeid", file=sys.stderr)
            return 2
    print("Requested-AU MAE of real faces against the emotion prototypes (reenact's AU reader)\n")
    print("MEAD level-3 clips, per clip: best frame / frame at the 90th percentile of strength\n")
    print("\n".join(mead_table(args.mead)) + "\n")
    print("TFEID photos, median per posing type\n")
    print("\n".join(tfeid_table(args.tfeid)) + "\n")
    print("Identity distance of MEAD actors from their own neutral first frame, per clip: median / worst\n")
    print("\n".join(identity_table(args.mead)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
