"""A prepared data set on disk: aligned crops in compact shards with a JSON manifest.

Layout (a folder):
- ``shard-00000.npy`` ...: uint8 arrays (n, S, S, 3) RGB crops, ``SHARD_SIZE`` faces each; or,
  packed for transfer (``repack_jpeg``), ``shard-00000.jpg.npz`` holding the JPEG files of the
  crops concatenated (``data`` uint8) and their ``offsets`` (n + 1,), ~4 KB a face.
- ``manifest.json``: ``{"format", "crop_size", "au_names", "n", "shards", "samples": [...],
  "held_out_identities", "skipped"}``; each sample: file (relative to its input folder), dataset,
  identity, shard, index, held_out, aus (23 values in ``TABLE_AU_NAMES`` order, [0, 1]).
- ``au_histogram.png``: per-AU histogram of the labels.

Written by ``ShardWriter`` (``reenact.training.prepare.prepare_dataset``), read by
``reenact.training.data.FaceShards``.
"""

from __future__ import annotations

import io
import json
import random
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import matplotlib
import numpy as np
from PIL import Image

from reenact.au.space import TABLE_AU_NAMES
from reenact.errors import InputError

if TYPE_CHECKING:  # prepare imports this module; the writer only reads the config's fields
    from reenact.training.prepare import PrepareConfig, PreparedFace

MANIFEST_FORMAT = "reenact-dataset-v1"
SHARD_SIZE = 4096


def choose_held_out(identities: Sequence[tuple[str, int]], config: PrepareConfig) -> list[str]:
    """Identities kept out of training.

    Args:
        identities: (identity key, identity_chars of its folder) for every kept face.

    Returns:
        ``held_out_prefixed`` identities from each folder with performer keys (e.g. 3 TFEID
        performers), plus a random ``held_out_fraction`` of all other identities; sorted.
    """
    rng = random.Random(config.seed)
    unique = sorted(set(identities))
    held: set[str] = set()
    by_folder: dict[str, list[str]] = {}
    for key, chars in unique:
        if chars:
            by_folder.setdefault(key.split(":", 1)[0], []).append(key)
    for keys in by_folder.values():
        held.update(rng.sample(keys, min(config.held_out_prefixed, max(len(keys) - 1, 0))))
    rest = [k for k, chars in unique if not chars]
    held.update(rng.sample(rest, round(config.held_out_fraction * len(rest))))
    return sorted(held)


@dataclass
class ShardWriter:
    """Collects prepared faces and writes shards + manifest into a data set folder."""

    out_dir: Path
    config: PrepareConfig
    jpeg_quality: int = 0  # 0: raw uint8 .npy shards; else JPEG-packed shards at this quality
    samples: list[dict] = field(default_factory=list)
    skipped: Counter = field(default_factory=Counter)
    _crops: list[np.ndarray] = field(default_factory=list)
    _shards: list[str] = field(default_factory=list)

    def add(self, face: PreparedFace, *, file: str, dataset: str, identity: str, chars: int) -> None:
        self.samples.append({
            "file": file, "dataset": dataset, "identity": identity, "identity_chars": chars,
            "shard": len(self._shards), "index": len(self._crops),
            "pose": [round(float(p), 2) for p in face.pose],
            "aus": [round(float(a), 4) for a in face.aus],
        })
        self._crops.append(face.crop)
        if len(self._crops) == SHARD_SIZE:
            self._flush()

    def skip(self, reason: str) -> None:
        self.skipped[reason] += 1

    def _flush(self) -> None:
        if not self._crops:
            return
        if self.jpeg_quality:
            name = f"shard-{len(self._shards):05d}.jpg.npz"
            write_jpeg_shard(self.out_dir / name, np.stack(self._crops), self.jpeg_quality)
        else:
            name = f"shard-{len(self._shards):05d}.npy"
            np.save(self.out_dir / name, np.stack(self._crops))
        self._shards.append(name)
        self._crops = []

    def finish(self) -> dict:
        """Write the last shard, the manifest (with the hold-out) and the AU histogram."""
        self._flush()
        held = set(choose_held_out([(s["identity"], s["identity_chars"]) for s in self.samples],
                                   self.config))
        for s in self.samples:
            s["held_out"] = s["identity"] in held
        manifest = {
            "format": MANIFEST_FORMAT, "crop_size": self.config.crop_size,
            "au_names": list(TABLE_AU_NAMES), "n": len(self.samples), "shards": self._shards,
            "held_out_identities": sorted(held), "skipped": dict(self.skipped),
            "datasets": dict(Counter(s["dataset"] for s in self.samples)),
            "samples": self.samples,
        }
        tmp = self.out_dir / "manifest.json.part"
        tmp.write_text(json.dumps(manifest))
        tmp.replace(self.out_dir / "manifest.json")
        if self.samples:
            plot_au_histogram(np.array([s["aus"] for s in self.samples], np.float32),
                              self.out_dir / "au_histogram.png")
        return manifest


def plot_au_histogram(aus: np.ndarray, path: Path) -> None:
    """Per-AU histograms of labels (N, 23) into a PNG (fraction of faces above 0.2 in titles)."""
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt  # here: pyplot picks its backend when imported

    fig, axes = plt.subplots(4, 6, figsize=(15, 9))
    for i, ax in enumerate(axes.flat):
        if i >= aus.shape[1]:
            ax.axis("off")
            continue
        ax.hist(aus[:, i], bins=20, range=(0, 1), color="tab:blue")
        ax.set_yscale("log")
        ax.set_title(f"{TABLE_AU_NAMES[i]}  >0.2: {100 * (aus[:, i] > 0.2).mean():.1f}%", fontsize=9)
    fig.suptitle(f"AU labels of {len(aus)} faces")
    fig.tight_layout()
    fig.savefig(path, dpi=80)
    plt.close(fig)


def write_jpeg_shard(path: Path, crops: np.ndarray, quality: int) -> None:
    """Crops (n, S, S, 3) uint8 -> one .npz of concatenated JPEG files and their offsets."""
    blobs = []
    for crop in crops:
        buf = io.BytesIO()
        Image.fromarray(crop).save(buf, format="JPEG", quality=quality)
        blobs.append(np.frombuffer(buf.getvalue(), np.uint8))
    offsets = np.concatenate([[0], np.cumsum([len(b) for b in blobs])]).astype(np.int64)
    np.savez(path, data=np.concatenate(blobs), offsets=offsets)


def read_shard(path: Path) -> np.ndarray:
    """A shard's crops (n, S, S, 3) uint8 (.npy memory-mapped, .jpg.npz decoded)."""
    if not path.name.endswith(".jpg.npz"):
        return np.load(path, mmap_mode="r")
    with np.load(path) as z:
        data, offsets = z["data"], z["offsets"]
    return np.stack([np.asarray(Image.open(io.BytesIO(data[a:b].tobytes())).convert("RGB"))
                     for a, b in zip(offsets[:-1], offsets[1:], strict=True)])


def repack_jpeg(dataset: str | Path, out: str | Path, *, quality: int = 92) -> dict:
    """Copy a data set with its shards re-encoded as JPEG (small enough to send to a GPU machine)."""
    dataset, out = Path(dataset), Path(out)
    manifest = load_manifest(dataset)
    out.mkdir(parents=True, exist_ok=True)
    names = []
    for name in manifest["shards"]:
        new = name.replace(".npy", ".jpg.npz")
        write_jpeg_shard(out / new, np.asarray(read_shard(dataset / name)), quality)
        names.append(new)
    packed = {**manifest, "shards": names, "jpeg_quality": quality}
    (out / "manifest.json").write_text(json.dumps(packed))
    return packed


def load_manifest(dataset: str | Path) -> dict:
    """Read a data set's manifest.

    Raises:
        InputError: no manifest, or not a reenact data set.
    """
    path = Path(dataset) / "manifest.json"
    if not path.is_file():
        raise InputError(f"{dataset} is not a prepared data set (no manifest.json); "
                         "run `reenact prepare-data` first")
    manifest = json.loads(path.read_text())
    if manifest.get("format") != MANIFEST_FORMAT:
        raise InputError(f"{path} is not a reenact data set manifest (format {manifest.get('format')!r})")
    return manifest
