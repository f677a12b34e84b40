"""reenact studio's handlers over HTTP, in process (Starlette's TestClient), without a browser:
uploads (bad, empty, no face, too large), the slider path, exports, scripts and their render,
a short video render, path traversal attempts and session clean-up (the queue: test_studio_jobs)."""

from __future__ import annotations

import io
import os
import time

import numpy as np
import pytest

pytest.importorskip("starlette", reason="the studio extra is not installed (pip install -e '.[studio]')")
try:
    import httpx2  # noqa: F401  (Starlette's test client; httpx before Python 3.11)
except ModuleNotFoundError:
    pytest.importorskip("httpx", reason="httpx2/httpx (Starlette's test client) is not installed")

from starlette.testclient import TestClient  # noqa: E402

from reenact.studio.app import create_app  # noqa: E402
from reenact.studio.handlers import Studio, StudioConfig  # noqa: E402
from reenact.studio.photo import PhotoEdit  # noqa: E402


def png(image: np.ndarray) -> bytes:
    from PIL import Image

    buf = io.BytesIO()
    Image.fromarray(image).save(buf, format="PNG")
    return buf.getvalue()


def decode(data: bytes) -> np.ndarray:
    from PIL import Image

    return np.asarray(Image.open(io.BytesIO(data)).convert("RGB"))


@pytest.fixture(scope="module")
def editor():
    import torch

    from reenact.model.registry import build_editor

    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # as `reenact studio` runs (its --threads default)
    yield build_editor("warp")
    torch.set_num_threads(threads)


@pytest.fixture()
def studio(editor, tmp_path):
    return Studio(editor, StudioConfig(root=tmp_path / "studio", max_photo_bytes=2_000_000,
                                       max_video_bytes=3_000_000))


@pytest.fixture()
def client(studio):
    with TestClient(create_app(studio), base_url="http://127.0.0.1") as c:
        yield c


@pytest.fixture()
def sid(client):
    return client.post("/api/session").json()["session"]


@pytest.fixture()
def photo(client, sid, astronaut):
    r = client.post(f"/api/s/{sid}/photo?name=astronaut.png", content=png(astronaut))
    assert r.status_code == 200, r.text
    return r.json()


def error_of(r, status: int) -> str:
    assert r.status_code == status, r.text
    message = r.json()["error"]
    assert "\n" not in message and message
    return message


# ------------------------------------------------------------------------------ page and uploads


def test_info_lists_every_au_once_grouped(client):
    from reenact.au.space import AU_NAMES, SIDED_AUS

    info = client.get("/api/info").json()
    names = [au["name"] for g in info["groups"] for au in g["aus"]]
    assert sorted(names) == sorted(AU_NAMES)
    assert [g["name"] for g in info["groups"]] == ["brows", "eyes", "cheeks", "nose", "mouth", "jaw"]
    assert {au["name"] for g in info["groups"] for au in g["aus"] if au["sided"]} == set(SIDED_AUS)
    assert "astronaut" in info["examples"]["photos"]
    assert info["presets"]["wink_left"] == {"AU45_L": 1.0}


def test_page_and_security_headers(client):
    r = client.get("/")
    assert r.status_code == 200 and "reenact studio" in r.text
    assert "default-src 'self'" in r.headers["content-security-policy"]
    for asset in ("/static/app.js", "/static/style.css"):
        assert client.get(asset).status_code == 200
    assert "http" not in client.get("/static/style.css").text  # no remote fonts or images


def test_other_hosts_are_refused(client):
    assert client.get("/api/info", headers={"host": "evil.example"}).status_code == 400


def test_photo_upload_finds_the_face_and_its_aus(photo):
    from reenact.au.space import TABLE_AU_NAMES

    assert len(photo["faces"]) == 1 and photo["face"] == 0
    assert set(photo["aus"]) == set(TABLE_AU_NAMES)
    assert photo["aus"]["AU12"] > 0.2  # the astronaut smiles
    assert (photo["width"], photo["height"], photo["scale"]) == (512, 512, 1.0)


def test_several_faces_choose_which(client, sid):
    first = client.post(f"/api/s/{sid}/example/multi_face").json()
    assert len(first["faces"]) >= 2
    xs = [f["box"][0] for f in first["faces"]]
    assert xs == sorted(xs)  # counted from the left, as --face-index
    other = 1 if first["face"] != 1 else 0
    second = client.post(f"/api/s/{sid}/face/{other}").json()
    assert second["face"] == other and second["box"] != first["box"]
    assert client.post(f"/api/s/{sid}/edit", json={"values": {"AU26": 0.5}, "seq": 1}).status_code == 200
    assert "choose 0.." in error_of(client.post(f"/api/s/{sid}/face/9"), 400)
    assert error_of(client.post(f"/api/s/{sid}/example/nope"), 404).startswith("no example photo 'nope'")


def test_command_line(capsys):
    from reenact import cli

    with pytest.raises(SystemExit) as exit_:
        cli.main(["studio", "--help"])
    assert exit_.value.code == 0 and "--host" in capsys.readouterr().out
    assert cli.main(["studio", "--port", "70000", "--model", "none", "--no-browser"]) == 2
    assert "--port must be in 0..65535" in capsys.readouterr().err
    import socket

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        assert cli.main(["studio", "--port", str(port), "--model", "none", "--no-browser"]) == 2
    assert f"cannot listen on 127.0.0.1:{port}" in capsys.readouterr().err


def test_bad_upload_says_so_in_one_sentence_and_the_server_goes_on(client, sid, studio):
    message = error_of(client.post(f"/api/s/{sid}/photo?name=holiday.jpg", content=b"not an image" * 50), 422)
    assert "holiday.jpg" in message and "not a readable image" in message
    assert str(studio.sessions.root) not in message  # no server paths in messages
    empty = error_of(client.post(f"/api/s/{sid}/photo?name=x.png", content=b""), 400)
    assert empty.startswith("the photo is empty")
    assert client.get("/api/info").status_code == 200


def test_no_face(client, sid):
    grey = np.tile(np.linspace(0, 255, 256, dtype=np.uint8)[None, :, None], (256, 1, 3))
    message = error_of(client.post(f"/api/s/{sid}/photo?name=wall.png", content=png(grey)), 422)
    assert message.startswith("no face found in wall.png")
    assert error_of(client.post(f"/api/s/{sid}/edit", json={"values": {}}), 404).startswith("no photo yet")


def test_huge_image_by_pixels_and_by_bytes(client, sid, astronaut):
    from reenact.io.images import set_max_pixels

    set_max_pixels(100_000)
    try:
        message = error_of(client.post(f"/api/s/{sid}/photo?name=big.png", content=png(astronaut)), 422)
    finally:
        set_max_pixels(None)
    assert "big.png has 0.262 megapixels, over the limit of 0.1" in message
    noise = np.random.default_rng(0).integers(0, 255, (1000, 1000, 3), np.uint8)  # ~3 MB as PNG
    message = error_of(client.post(f"/api/s/{sid}/photo?name=noise.png", content=png(noise)), 413)
    assert "over the limit of 2 MB" in message


def test_unknown_session_and_ids(client):
    assert error_of(client.post("/api/s/nosuchsessionid12345/ping"), 404).endswith("reload the page")
    assert client.post("/api/s/short/ping").status_code == 404


# ------------------------------------------------------------------------------ the slider path


def test_edit_is_the_library_edit_and_changes_only_the_box(client, sid, photo, editor, astronaut):
    body = {"values": {"AU12": 0.6, "AU26": 0.4}, "relative": True, "seq": 1}
    r = client.post(f"/api/s/{sid}/edit", json=body)
    assert r.status_code == 200 and r.headers["content-type"] == "image/png"
    assert r.headers["server-timing"].startswith("render;dur=")
    x0, y0, x1, y1 = map(int, r.headers["x-box"].split(","))
    region = decode(r.content)
    expected = PhotoEdit(editor, astronaut, face_index=0)
    assert (x0, y0, x1, y1) == expected.box
    target = expected.target(body["values"], relative=True)
    np.testing.assert_array_equal(region, expected.render_region(target))
    assert np.abs(region.astype(int) - astronaut[y0:y1, x0:x1]).max() > 40  # the mouth moved


def test_stale_requests_are_skipped(client, sid, photo):
    assert client.post(f"/api/s/{sid}/edit", json={"values": {}, "seq": 5}).status_code == 200
    r = client.post(f"/api/s/{sid}/edit", json={"values": {"AU12": 1.0}, "seq": 4})
    assert r.status_code == 204 and r.headers["x-stale"] == "1"


def test_bad_slider_values(client, sid, photo):
    unknown = {"values": {"AU99": 1}}
    assert "unknown AU 'AU99'" in error_of(client.post(f"/api/s/{sid}/edit", json=unknown), 400)
    bad = {"values": {"AU12": -0.5}, "relative": False}
    assert "AU12 must be a number in [0, 1]" in error_of(client.post(f"/api/s/{sid}/edit", json=bad), 400)
    assert "not valid JSON" in error_of(client.post(f"/api/s/{sid}/edit", content=b"{nope"), 400)


def test_exports_round_trip_through_the_library(client, sid, photo, tmp_path, astronaut):
    from reenact.au.script import load_script
    from reenact.au.tables import read_au_table

    state = {"values": {"AU45_L": 1.0}, "relative": True}
    files = {}
    for fmt in ("png", "csv", "yaml"):
        r = client.post(f"/api/s/{sid}/export", json=state | {"format": fmt})
        assert r.status_code == 200, r.text
        got = client.get(f"/api/s/{sid}/files/{r.json()['file']}?download=1")
        assert got.status_code == 200 and "attachment" in got.headers["content-disposition"]
        files[fmt] = tmp_path / r.json()["filename"]
        files[fmt].write_bytes(got.content)
    edited = decode(files["png"].read_bytes())
    assert edited.shape == astronaut.shape and (edited != astronaut).any()
    table = read_au_table(files["csv"])
    script = load_script(files["yaml"])
    np.testing.assert_allclose(table.values[0], script.values[0], atol=1e-4)
    assert table.values[0, list(table.names).index("AU45_L")] == 1.0


# ------------------------------------------------------------------------------ no path from the client


def test_path_traversal_attempts_get_nothing(client, sid, photo, studio):
    display = photo["display"]
    assert client.get(f"/api/s/{sid}/files/{display}").status_code == 200
    for bad in ("..%2F..%2F..%2Fetc%2Fpasswd", "../../pyproject.toml", "%2e%2e%2fpyproject.toml",
                display + "%00", "a" * 200):
        assert client.get(f"/api/s/{sid}/files/{bad}").status_code == 404, bad
    for bad in ("/static/../pyproject.toml", "/static/%2e%2e/%2e%2e/pyproject.toml",
                "/static/..%2F__init__.py"):
        r = client.get(bad)
        assert r.status_code == 404 and "[build-system]" not in r.text, bad
    other = client.post("/api/session").json()["session"]
    assert client.get(f"/api/s/{other}/files/{display}").status_code == 404  # another page's file
    r = client.post(f"/api/s/{sid}/video?name=../../../escape.mp4", content=b"\x00" * 1000)
    assert r.status_code == 422 and "escape.mp4" in r.json()["error"]
    root = studio.sessions.root
    assert not list(root.parent.glob("escape*")) and not list(root.glob("escape*"))


# ------------------------------------------------------------------------------ scripts and videos


def wait_job(client, sid, status: dict, timeout: float = 120.0) -> dict:
    deadline = time.monotonic() + timeout
    while status["state"] in ("queued", "running"):
        assert time.monotonic() < deadline, status
        time.sleep(0.2)
        status = client.get(f"/api/s/{sid}/jobs/{status['id']}").json()
    return status


def test_script_render_gives_the_frames_the_script_asks(client, sid, photo, tmp_path):
    from reenact.io.video import probe_video

    keys = [{"t": 0.0, "values": {}, "relative": True},
            {"t": 1.0, "values": {"AU12": 0.5, "AU45_R": 1.0}, "relative": True, "ease": "ease-in-out"}]
    r = client.post(f"/api/s/{sid}/script", json={"fps": 10, "duration": 1.5, "keyframes": keys})
    assert r.status_code == 200, r.text
    script = r.json()
    assert script["frames"] == 15 and len(script["values"]) == 15
    bad = {"fps": 10, "keyframes": [{"t": 0, "values": {}, "ease": "bouncy"}]}
    assert "unknown easing 'bouncy'" in error_of(client.post(f"/api/s/{sid}/script", json=bad), 400)
    started = client.post(f"/api/s/{sid}/render/script", json={"script": script["script"]}).json()
    status = wait_job(client, sid, started)
    assert status["state"] == "done", status
    out = tmp_path / "animate.mp4"
    out.write_bytes(client.get(f"/api/s/{sid}/files/{status['files']['video']}").content)
    assert probe_video(out).n_frames == 15


def test_video_render_with_plot_and_table(client, sid, photo, media, tmp_path):
    from reenact.au.tables import read_au_table
    from reenact.io.video import probe_video

    r = client.post(f"/api/s/{sid}/video?name=driver.mp4", content=media("single_face.mp4").read_bytes())
    assert r.status_code == 200, r.text
    video = r.json()
    assert video["audio"] and video["frames"] == 72
    body = {"video": video["video"], "mode": "absolute", "motion": "landmarks", "strength": 1.0,
            "only": ["mouth"], "seconds": 0.3}
    status = wait_job(client, sid, client.post(f"/api/s/{sid}/render/video", json=body).json())
    assert status["state"] == "done", status
    files = {role: client.get(f"/api/s/{sid}/files/{fid}").content for role, fid in status["files"].items()}
    (tmp_path / "out.mp4").write_bytes(files["video"])
    (tmp_path / "aus.csv").write_bytes(files["csv"])
    info = probe_video(tmp_path / "out.mp4")
    assert info.n_frames == 9 and info.has_audio
    assert len(read_au_table(tmp_path / "aus.csv")) == 9
    assert files["plot"][:8] == b"\x89PNG\r\n\x1a\n"
    bad = dict(body, only=["elbows"])
    message = error_of(client.post(f"/api/s/{sid}/render/video", json=bad), 400)
    assert "unknown AU or group 'elbows'" in message


# ------------------------------------------------------------------------------ the queue and clean-up


def test_sessions_are_removed_when_closed_idle_or_at_shutdown(editor, tmp_path, astronaut):
    # a long timeout, and the reaper's clock moved on by hand: the real reaper (every few seconds)
    # must not close a session while this test still uses it on a loaded machine
    studio = Studio(editor, StudioConfig(root=tmp_path / "root", session_timeout_s=60.0))
    with TestClient(create_app(studio), base_url="http://127.0.0.1") as client:
        a, b, c = (client.post("/api/session").json()["session"] for _ in range(3))
        client.post(f"/api/s/{a}/photo?name=a.png", content=png(astronaut))
        assert any((tmp_path / "root" / a).iterdir())
        assert client.post(f"/api/s/{a}/close").status_code == 204  # the page's beacon
        assert not (tmp_path / "root" / a).exists()
        assert client.post(f"/api/s/{b}/ping").status_code == 204
        studio.sessions.expire(now=time.monotonic() + 61.0)  # (the reaper does this every few seconds)
        assert not (tmp_path / "root" / b).exists() and len(studio.sessions) == 0
        assert client.post(f"/api/s/{c}/ping").status_code == 404
        client.post("/api/session")
    assert not (tmp_path / "root").exists()  # shutdown deleted everything


def test_folders_of_dead_servers_are_removed(tmp_path):
    import subprocess
    import sys

    from reenact.studio.sessions import remove_stale_roots

    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    for name, pid in (("reenact-studio-dead", str(dead.pid)), ("reenact-studio-alive", str(os.getpid())),
                      ("reenact-studio-nopid", None), ("unrelated", str(dead.pid))):
        (tmp_path / name).mkdir()
        if pid is not None:
            (tmp_path / name / ".pid").write_text(pid)
    assert remove_stale_roots(tmp_path) == [tmp_path / "reenact-studio-dead"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["reenact-studio-alive", "reenact-studio-nopid",
                                                          "unrelated"]
