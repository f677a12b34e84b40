"""reenact studio in a real headless browser: Debian's chromium driven by Playwright for Python.

Starts `reenact studio` as a subprocess (the real command, on a free port), then: an unreadable
upload shows one sentence on the page; the astronaut is uploaded, the smile slider dragged with
the mouse, and the mouth region changes while the background stays bit-identical; a wink is
switched on; a 2-second script is rendered and its mp4 downloaded (frame count checked); a short
driving clip is reenacted. Closing the page deletes its files, stopping the server deletes the rest.

Screenshots go to $STUDIO_SCREENSHOTS (e.g. docs/img) when it is set, else to the test's tmp dir;
$STUDIO_MODEL picks the model (default: the registered default model).
Skipped with a one-line reason where Playwright or chromium are missing (scripts/setup.sh installs
both where it can; never `playwright install`, which downloads from a CDN).
"""

from __future__ import annotations

import base64
import io
import os
import queue
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("starlette", reason="the studio extra is not installed (pip install -e '.[studio]')")
pytest.importorskip("playwright.sync_api", reason="playwright is not installed (pip install playwright)")

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-sync",
                 "--disable-background-networking", "--disable-component-update"]
SETTLED = ("!window.studio.inflight && !window.studio.pending && window.studio.photo && "
           "document.getElementById('canvas').dataset.seq === String(window.studio.seq)")


def chromium_path() -> str | None:
    """$REENACT_CHROMIUM if set (only it), else Debian's chromium on the PATH."""
    if os.environ.get("REENACT_CHROMIUM"):
        return shutil.which(os.environ["REENACT_CHROMIUM"])
    found = [shutil.which(c) for c in ("chromium", "chromium-browser", "/usr/bin/chromium")]
    return next((path for path in found if path), None)


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    """`reenact studio --port 0` in a subprocess: (url, its temporary root, the process)."""
    tmp = tmp_path_factory.mktemp("studio-tmp")
    env = dict(os.environ, TMPDIR=str(tmp), PYTHONUNBUFFERED="1")
    model = ["--model", os.environ["STUDIO_MODEL"]] if os.environ.get("STUDIO_MODEL") else []
    command = [sys.executable, "-m", "reenact", "studio", "--port", "0", "--no-browser", *model]
    proc = subprocess.Popen(command, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            text=True)
    lines: queue.Queue = queue.Queue()
    threading.Thread(target=lambda: [lines.put(x) for x in proc.stdout], daemon=True).start()
    deadline, seen = time.monotonic() + 120, []
    while time.monotonic() < deadline:
        try:
            line = lines.get(timeout=1)
        except queue.Empty:
            if proc.poll() is not None:
                break
            continue
        seen.append(line)
        if line.startswith("reenact studio: http"):
            url = line.split()[2]
            root = Path(line.rsplit("temporary folder ", 1)[1].rstrip(")\n"))
            yield url, root, proc, lines
            break
    else:
        proc.kill()
        pytest.fail("reenact studio did not start: " + "".join(seen))
    if proc.poll() is None:
        proc.kill()


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright

    exe = chromium_path()
    if exe is None:
        pytest.skip("no chromium here (scripts/setup.sh installs Debian's chromium with apt-get as root)")
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=exe, headless=True, args=CHROMIUM_ARGS)
        yield b
        b.close()


def shots() -> Path | None:
    folder = os.environ.get("STUDIO_SCREENSHOTS")
    return Path(folder) if folder else None


def canvas_pixels(page) -> np.ndarray:
    from PIL import Image

    url = page.evaluate("document.getElementById('canvas').toDataURL('image/png')")
    return np.asarray(Image.open(io.BytesIO(base64.b64decode(url.split(",", 1)[1]))).convert("RGB"))


def face_boxes(image: np.ndarray) -> dict[str, tuple[int, int, int, int]]:
    """Pixel boxes of the astronaut's mouth and left eye (the subject's; the image's right)."""
    from reenact.face.tracking import FaceTracker

    with FaceTracker() as tracker:
        lm = tracker.detect(image).landmarks[:, :2]

    def box(ids, pad):
        pts = lm[list(ids)]
        x0, y0 = pts.min(0) - pad
        x1, y1 = pts.max(0) + pad
        return int(x0), int(y0), int(x1), int(y1)

    return {"mouth": box((61, 291, 0, 17, 13, 14), 4), "left_eye": box((362, 263, 386, 374), 3)}


def diff(a: np.ndarray, b: np.ndarray, box) -> float:
    x0, y0, x1, y1 = box
    return float(np.abs(a[y0:y1, x0:x1].astype(int) - b[y0:y1, x0:x1]).mean())


def drag_slider(page, selector: str, fraction: float) -> None:
    """Drag a range input's thumb from its middle (value 0) to ``fraction`` of its width, with the mouse."""
    box = page.locator(selector).bounding_box()
    y = box["y"] + box["height"] / 2
    page.mouse.move(box["x"] + box["width"] / 2, y)
    page.mouse.down()
    for i in range(1, 11):
        page.mouse.move(box["x"] + box["width"] * (0.5 + (fraction - 0.5) * i / 10), y)
        time.sleep(0.03)
    page.mouse.up()


def download(page, selector: str, path: Path) -> Path:
    with page.expect_download(timeout=60_000) as info:
        page.click(selector)
    info.value.save_as(path)
    return path


def photo_tab(page, astronaut: np.ndarray, tmp_path: Path, folder: Path) -> None:
    """Upload errors, the astronaut, the smile slider dragged, the PNG downloaded, a wink."""
    from PIL import Image

    # an unreadable upload: one sentence on the page, the server goes on
    page.set_input_files("#photo-file", files=[{"name": "notes.png", "mimeType": "image/png",
                                                "buffer": b"this is not a picture"}])
    page.wait_for_selector("#message:not([hidden])")
    message = page.inner_text("#message")
    assert "notes.png is not a readable image" in message and "\n" not in message

    photo = tmp_path / "astronaut.png"
    Image.fromarray(astronaut).save(photo)
    page.set_input_files("#photo-file", str(photo))
    page.wait_for_function("window.studio.photo && document.getElementById('canvas').dataset.photo")
    assert page.is_hidden("#message")
    before = canvas_pixels(page)
    boxes = face_boxes(astronaut)

    # the smile slider, both sides linked, dragged down: the astronaut smiles fully (AU12 = 1) already
    drag_slider(page, "#s-AU12_L", 0.1)
    page.wait_for_function(SETTLED)
    assert float(page.input_value("#s-AU12_R")) == float(page.input_value("#s-AU12_L")) < -0.5
    smiled = canvas_pixels(page)
    x0, y0, x1, y1 = page.evaluate("window.studio.photo.box")
    outside = np.ones(astronaut.shape[:2], bool)
    outside[y0:y1, x0:x1] = False
    assert diff(smiled, before, boxes["mouth"]) > 3.0
    np.testing.assert_array_equal(smiled[outside], before[outside])

    png = Image.open(download(page, "#dl-png", tmp_path / "edited.png"))
    edited = np.asarray(png.convert("RGB"))
    assert edited.shape == astronaut.shape and diff(edited, astronaut, boxes["mouth"]) > 3.0
    np.testing.assert_array_equal(edited[outside], astronaut[outside])  # background: the photo's own pixels

    page.click("#preset-wink_left")
    page.wait_for_function(SETTLED)
    assert diff(canvas_pixels(page), smiled, boxes["left_eye"]) > 3.0
    page.screenshot(path=folder / "studio-photo.png")


def script_tab(page, tmp_path: Path, folder: Path) -> None:
    """Rest at 0 s, happy at 1 s, happy + wink at 2 s: 2 s at 25 fps, rendered and downloaded."""
    from reenact.io.video import probe_video

    page.click("button[data-tab=script]")
    page.click("#reset")
    for t, presets in ((0, ()), (1, ("#preset-happy",)), (2, ("#preset-wink_left",))):
        for preset in presets:
            page.click(preset)
        page.fill("#key-t", str(t))
        page.click("#key-add")
    assert page.locator("#keys li").count() == 3
    page.fill("#script-duration", "2")
    seq = page.evaluate("window.studio.seq")
    page.click("#script-preview")  # plays the timeline on the canvas through the slider path
    page.wait_for_function(f"+document.getElementById('canvas').dataset.seq > {seq + 5}")
    page.wait_for_function("!window.studio.previewing")
    page.click("#script-render")
    page.wait_for_selector("#script-result:not([hidden])", timeout=180_000)
    mp4 = download(page, "#script-mp4", tmp_path / "animate.mp4")
    assert probe_video(mp4).n_frames == 50
    download(page, "#script-yaml", tmp_path / "script.yaml")
    page.screenshot(path=folder / "studio-script.png")


def video_tab(page, tmp_path: Path, folder: Path) -> None:
    """The first second of a bundled talking clip, reenacted; the mp4 keeps its audio."""
    from reenact.io.video import probe_video

    page.click("button[data-tab=video]")
    page.select_option("#video-example", "single_face")
    page.wait_for_selector("#video-result:not([hidden])")
    page.fill("#v-seconds", "1")
    page.click("#video-render")
    page.wait_for_selector("#v-plot-img[src]", state="attached", timeout=300_000)
    out = probe_video(download(page, "#v-mp4", tmp_path / "reenacted.mp4"))
    assert out.n_frames == 30 and out.has_audio
    page.wait_for_function("document.getElementById('result-video').readyState >= 2")
    page.screenshot(path=folder / "studio-video.png", full_page=True)


def test_studio_in_a_real_browser(browser, server, astronaut, tmp_path):  # browser first: skip before serving
    url, root, proc, _ = server
    folder = shots() or tmp_path
    folder.mkdir(parents=True, exist_ok=True)
    page = browser.new_page(viewport={"width": 1360, "height": 900}, bypass_csp=True, accept_downloads=True)
    t0 = time.perf_counter()
    page.goto(url)
    page.wait_for_selector("body[data-ready='1']")
    assert time.perf_counter() - t0 < 10
    photo_tab(page, astronaut, tmp_path, folder)
    script_tab(page, tmp_path, folder)
    video_tab(page, tmp_path, folder)

    page.close()  # the page's beacon ends its session: its folder goes
    deadline = time.monotonic() + 10
    while any(p.is_dir() for p in root.iterdir()) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not any(p.is_dir() for p in root.iterdir())
    proc.send_signal(signal.SIGINT)  # Ctrl-C: the server deletes its temporary folder
    assert proc.wait(30) == 130
    assert not root.exists()
