"""Quality of a generator, measured the same way every time: AU targets and one driving video.

    python benchmarks/eval_quality.py --weights weights/generator.safetensors
    python benchmarks/eval_quality.py --weights random --quick        # plumbing check

Runs ``reenact eval`` twice with the default sources (astronaut, single_face.jpg, the faces of
multi_face.jpg):
1. AU targets: the 7 emotion prototypes at 0.5 and 1.0, winks and half smiles left/right
   -> OUT/targets/{report.json, report.md, contact_sheet.png}
2. driving video: WolfgangLanger_Pexels.mp4 (first --max-frames frames) on the astronaut
   -> OUT/video/{report.json, report.md, contact_sheet.png}
and prints both markdown reports (paste them into docs/results.md).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))


def main(argv=None) -> int:
    from cli import main as reenact

    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--weights", default=None, help="generator .safetensors, manifest name, or 'random'")
    p.add_argument("--out", default="out/eval_quality")
    p.add_argument("--max-frames", type=int, default=96, help="driving-video frames evaluated")
    p.add_argument("--quick", action="store_true", help="one intensity, two targets, 24 frames")
    p.add_argument("--device", default="auto")
    args = p.parse_args(argv)
    common = ["--device", args.device] + (["--weights", args.weights] if args.weights else [])
    targets = ["--out", f"{args.out}/targets"]
    frames = args.max_frames
    if args.quick:
        targets += ["--targets", "happy", "wink_left", "--intensities", "1.0"]
        frames = 24
    rc = reenact(["eval", *common, *targets])
    if rc:
        return rc
    return reenact(["eval", *common, "--sources", "astronaut", "--videos", "media/WolfgangLanger_Pexels.mp4",
                    "--max-frames", str(frames), "--out", f"{args.out}/video"])


if __name__ == "__main__":
    sys.exit(main())
