"""`reenact fit-rig`: fit the AU -> landmark rig of the warp-guided model from measured faces.

    reenact fit-rig --clips ../shared/media/talking --posed ../shared/datasets/tfeid \\
        --photos ../shared/datasets/celeba10k ../shared/datasets/utkface ../shared/datasets/sfew \\
        --held-out W011 feifeili reagan --cache data/rig -o weights/au-rig-v2.safetensors \\
        --plot docs/img/rig-fields.png

Tracks the clips and detects the photos (MediaPipe; landmarks kept in --cache), fits the rig on
same-person pairs with head pose regressed out, keeps every AU to its FACS region, calibrates the
gains in closed loop on neutral posed photos (capped where a basis would close the eyes further
than real faces do), and writes a small safetensors file (and, with --plot, the picture of every
AU's displacement field).
"""

from __future__ import annotations

import argparse
from pathlib import Path

from tqdm import tqdm

from reenact.au.plot import check_plot_path, save_rig_plot
from reenact.commands import options
from reenact.errors import InputError
from reenact.io.files import atomic_output, check_writable
from reenact.io.video import list_clips
from reenact.training.rig_calibration import RigJob, run_fit


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--clips", nargs="*", type=Path, default=[],
                   help="talking clips or folders of them (searched recursively for .mp4)")
    p.add_argument("--posed", type=Path, default=None,
                   help="a posed set named like TFEID (performer = first 2 characters, expression "
                        "letter 5th, 'a' = neutral)")
    p.add_argument("--photos", nargs="*", type=Path, default=[], help="folders of unrelated face photos")
    options.config_option(p, "--max-photos", RigJob, "max_photos",
                          help="photos used per --photos folder (default %(default)s)")
    p.add_argument("--held-out", nargs="*", default=[], metavar="PREFIX",
                   help="clips whose names start with these are scored, not fitted")
    options.config_option(p, "--calibration-faces", RigJob, "calibration_faces",
                          help="neutral posed photos used for the closed-loop gain calibration (default "
                               "%(default)s)")
    p.add_argument("--cache", type=Path, default=None, help="folder keeping the measured landmarks")
    p.add_argument("-o", "--out", type=Path, required=True, help="output .safetensors")
    p.add_argument("--plot", type=Path, default=None,
                   help="also write the picture of each AU's displacement field (.png/.pdf/.svg)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    check_writable(args.out)
    if args.out.suffix != ".safetensors":
        raise InputError(f"output {args.out} must end in .safetensors")
    if args.plot is not None:
        check_plot_path(args.plot)
        check_writable(args.plot)
    clips = list_clips(args.clips)
    if not clips and args.posed is None:
        raise InputError("give --clips and/or --posed: the rig is fitted on same-person pairs")
    for folder in [*args.photos, *([args.posed] if args.posed else [])]:
        if not folder.is_dir():
            raise InputError(f"folder {folder} does not exist")
    job = RigJob(clips=clips, posed=args.posed, photos=tuple(args.photos), max_photos=args.max_photos,
                 held_out=tuple(args.held_out), calibration_faces=args.calibration_faces, cache=args.cache)
    with tqdm(desc="measuring faces", unit="item") as bar:
        rig, report, gains = run_fit(job, progress=bar.update)
    with atomic_output(args.out) as tmp:
        rig.save(tmp)
    print(f"fitted on {report.n_pairs} same-person pairs and {report.n_photos} photos; displacement R^2 "
          f"{report.r2_train:.3f} (held-out clips: {report.r2_held_out:.3f}, {report.n_held_out} pairs)")
    print("calibration gains: " + ", ".join(f"{g:.2f}" for g in gains))
    print(f"wrote {args.out}")
    if args.plot is not None:
        print(f"wrote {save_rig_plot(rig, args.plot)}")
    return 0
