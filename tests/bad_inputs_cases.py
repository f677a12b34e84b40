"""The bad-input matrix's machinery (tests/commands/test_bad_inputs*.py): a case, its folder,
the registry and the one check every case goes through.

Each case builds its inputs in a fresh folder, runs the real CLI in-process and must give the
exit code; for a failure exactly one stderr line, ``reenact: error: ...``, no traceback; nothing
partial or temporary left; every input's sha256 unchanged; for a valid run its own checks.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from reenact import cli
from tests.bad_inputs_assets import Assets, listing, sha256_tree, stderr_lines, video_facts


@dataclass
class Case:
    """One row of the matrix: the command line and what must come of it."""

    argv: list
    code: int = 2
    message: str | None = None  # part of the one error line
    outputs: frozenset[str] = frozenset()  # entries the run must add to the folder (and no other)
    check: Callable[[Path], None] | None = None  # more checks of a valid run's outputs
    warnings: int = 0  # "reenact: warning:" lines expected on stderr
    env: dict[str, str] = field(default_factory=dict)


class Ctx:
    """A case's working folder; inputs are copied into it so that its sha256 covers them."""

    def __init__(self, work: Path, assets: Assets):
        self.work, self.assets = work, assets
        self.weights = ["--model", "ganimation", "--weights", str(assets["tiny.safetensors"])]

    def copy(self, asset: str, name: str | None = None) -> Path:
        path = self.work / (name or asset)
        path.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(self.assets[asset], path)
        return path

    def file(self, name: str, data: bytes | str) -> Path:
        path = self.work / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data.encode() if isinstance(data, str) else data)
        return path

    def run(self, src, drv, out="OUT.mp4", *extra) -> list:
        """argv of `reenact SRC DRV OUT` with the tiny weights, quiet, 4 frames."""
        src = src if isinstance(src, Path) else self.copy(src, "SRC" + Path(src).suffix)
        drv = drv if isinstance(drv, Path) else self.copy(drv, "DRV" + Path(drv).suffix)
        out = out if isinstance(out, Path) else self.work / out
        return [src, drv, out, *self.weights, "--quiet", "--max-frames", "4", *extra]


Cases = dict[str, Callable[[Ctx], Case]]


def registry(cases: Cases):
    """``@case(name)`` for the module whose cases are ``cases``."""
    def case(name: str):
        def register(fn: Callable[[Ctx], Case]):
            cases[name] = fn
            return fn
        return register
    return case


def error(argv: list, message: str, **kw) -> Case:
    return Case(argv=argv, message=message, **kw)


def video(frames: int, size: tuple[int, int], audio: str | None) -> Callable[[Path], None]:
    """Check OUT.mp4: decoded frames, (w, h), audio codec."""
    def check(work: Path) -> None:
        assert video_facts(work / "OUT.mp4") == (frames, *size, audio)
    return check


def rendered(frames: int = 4, size: tuple[int, int] = (256, 256), audio: str | None = "aac") -> dict:
    return dict(code=0, outputs=frozenset({"OUT.mp4"}), check=video(frames, size, audio))




def run_case(make: Callable[[Ctx], Case], tmp_path: Path, assets: Assets, capfd, monkeypatch) -> None:
    """Build the case in a fresh folder, run the CLI in-process and check everything it must."""
    work = tmp_path / "work"
    work.mkdir()
    spec = make(Ctx(work, assets))
    for key, value in spec.env.items():
        monkeypatch.setenv(key, value)
    before, hashes = listing(work), sha256_tree(work)
    code = cli.main([str(a) for a in spec.argv])
    lines = stderr_lines(capfd.readouterr().err)
    assert not [line for line in lines if "Traceback" in line], lines
    assert code == spec.code, lines
    if spec.code:
        assert len(lines) == 1 and lines[0].startswith("reenact: error: "), lines
        assert spec.message in lines[0], lines
    else:
        assert len(lines) == spec.warnings and all(x.startswith("reenact: warning: ") for x in lines), lines
    assert listing(work) == before | spec.outputs  # nothing partial or temporary, no input gone
    assert {k: v for k, v in sha256_tree(work).items() if k in hashes} == hashes  # inputs untouched
    if spec.check is not None:
        spec.check(work)
