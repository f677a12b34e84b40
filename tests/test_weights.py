import hashlib
import json

import pytest

from reenact import weights
from reenact.errors import WeightsError


def _manifest(tmp_path, payload: bytes, sources):
    entry = {"x": {"file": "x.bin", "size": len(payload), "sha256": hashlib.sha256(payload).hexdigest(),
                   "sources": sources}}
    path = tmp_path / "manifest.json"
    path.write_text(json.dumps(entry))
    return weights.load_manifest(path)


def test_face_model_is_fetched_and_verified():
    path = weights.fetch("face_landmarker", quiet=True)
    entry = weights.load_manifest()["face_landmarker"]
    assert path.stat().st_size == entry.size
    assert weights.sha256_of(path) == entry.sha256


def test_no_working_source_gives_a_clear_error(tmp_path, monkeypatch):
    monkeypatch.setenv("REENACT_CACHE", str(tmp_path / "cache"))
    manifest = _manifest(tmp_path, b"abc", [{"url": "http://127.0.0.1:9/none.bin"}])
    with pytest.raises(WeightsError, match="could not get x.bin"):
        weights.fetch("x", manifest=manifest, quiet=True)
    assert not list((tmp_path / "cache").glob("*.part"))


def test_wrong_hash_is_rejected(tmp_path, monkeypatch):
    monkeypatch.setenv("REENACT_CACHE", str(tmp_path / "cache"))
    src = tmp_path / "src.bin"
    src.write_bytes(b"not the registered bytes")
    manifest = _manifest(tmp_path, b"abc", [{"url": src.as_uri()}])
    with pytest.raises(WeightsError, match="sha256"):
        weights.fetch("x", manifest=manifest, quiet=True)


def test_file_url_source_is_cached(tmp_path, monkeypatch):
    monkeypatch.setenv("REENACT_CACHE", str(tmp_path / "cache"))
    src = tmp_path / "src.bin"
    src.write_bytes(b"abc")
    manifest = _manifest(tmp_path, b"abc", [{"url": src.as_uri()}])
    path = weights.fetch("x", manifest=manifest, quiet=True)
    assert path.read_bytes() == b"abc" and path.parent == tmp_path / "cache"


def test_unknown_name():
    with pytest.raises(WeightsError, match="no model named"):
        weights.fetch("nope")


def test_atomic_output_uses_the_usual_file_mode(tmp_path):
    import os

    from reenact.io.files import atomic_output

    target = tmp_path / "x.txt"
    with atomic_output(target) as tmp:
        tmp.write_text("done")
    mask = os.umask(0)
    os.umask(mask)
    assert target.read_text() == "done"
    assert target.stat().st_mode & 0o777 == 0o666 & ~mask
    assert list(tmp_path.iterdir()) == [target]


def test_atomic_output_leaves_nothing_on_error(tmp_path):
    import pytest

    from reenact.io.files import atomic_output

    target = tmp_path / "x.txt"
    with pytest.raises(RuntimeError), atomic_output(target) as tmp:
        tmp.write_text("half")
        raise RuntimeError("boom")
    assert list(tmp_path.iterdir()) == []
