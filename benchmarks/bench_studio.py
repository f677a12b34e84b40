"""reenact studio's latency: page load and the slider path (a slider change -> the new image).

Starts the real `reenact studio` (a subprocess, its default --threads 1) for each model, uploads
scikit-image's 512x512 astronaut, then measures over HTTP from this process (one keep-alive
connection, as a browser holds one):

- page load: GET / + app.js + style.css + /api/info + POST /api/session, on a fresh connection;
- slider round trip: POST /edit with a random AU row -> the PNG of the edited box fully received
  (the server's own render and PNG times come from its Server-Timing header);
- and, where Debian's chromium and Playwright are installed, the same in a real browser: page
  navigation to ready, and a slider dragged with the mouse, from each input event to the new
  image drawn on the canvas (the page's own timings, window.studio.stats).

    python benchmarks/bench_studio.py                        # the default model, warp+refiner, warp
    python benchmarks/bench_studio.py --models warp,ganimation --edits 200

Prints one markdown table (median / p90 in ms) with the machine's load average; the goal of the
slider path is under 150 ms for a 512x512 photo on 2 CPU cores with the default model.
"""

from __future__ import annotations

import argparse
import http.client
import io
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def start_server(model: str, threads: int, weights: Path | None = None) -> tuple[subprocess.Popen, str, int]:
    cmd = [sys.executable, "-m", "reenact", "studio", "--port", "0", "--no-browser", "--model", model,
           "--threads", str(threads)] + (["--weights", str(weights)] if weights else [])
    proc = subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            env=dict(os.environ, PYTHONUNBUFFERED="1"))
    for line in proc.stdout:
        if line.startswith("reenact studio: http"):
            url = line.split()[2]
            return proc, url, int(url.rstrip("/").rsplit(":", 1)[1])
    raise RuntimeError(f"reenact studio --model {model} did not start (exit {proc.wait()})")


def request(conn: http.client.HTTPConnection, method: str, path: str, body: bytes | None = None,
            content_type: str = "application/json") -> tuple[int, bytes, dict]:
    conn.request(method, path, body=body, headers={"Content-Type": content_type} if body is not None else {})
    res = conn.getresponse()
    return res.status, res.read(), dict(res.getheaders())


def page_load(port: int, n: int) -> list[float]:
    times = []
    for _ in range(n):
        t0 = time.perf_counter()
        conn = http.client.HTTPConnection("127.0.0.1", port)
        for path in ("/", "/static/app.js", "/static/style.css", "/api/info"):
            assert request(conn, "GET", path)[0] == 200
        assert request(conn, "POST", "/api/session", b"")[0] == 200
        conn.close()
        times.append(time.perf_counter() - t0)
    return times


def slider_round_trips(port: int, n: int) -> tuple[list[float], list[float], list[float]]:
    from PIL import Image
    from skimage import data

    conn = http.client.HTTPConnection("127.0.0.1", port)
    sid = json.loads(request(conn, "POST", "/api/session", b"")[1])["session"]
    buf = io.BytesIO()
    Image.fromarray(data.astronaut()).save(buf, format="PNG")
    status, body, _ = request(conn, "POST", f"/api/s/{sid}/photo?name=astronaut.png", buf.getvalue(),
                              "application/octet-stream")
    assert status == 200, body
    groups = json.loads(request(conn, "GET", "/api/info")[1])["groups"]
    names = [au["name"] for g in groups for au in g["aus"]]
    rng = np.random.default_rng(0)
    total, render, png = [], [], []
    for seq in range(1, n + 6):
        picked = rng.choice(names, 3, replace=False)
        values = {name: round(float(rng.uniform(-0.6, 0.6)), 3) for name in picked}
        t0 = time.perf_counter()
        status, body, headers = request(conn, "POST", f"/api/s/{sid}/edit",
                                        json.dumps({"values": values, "relative": True, "seq": seq}).encode())
        elapsed = time.perf_counter() - t0
        assert status == 200 and body[:4] == b"\x89PNG"
        if seq > 5:  # the first edits warm up
            total.append(elapsed)
            timing = dict(part.split(";dur=") for part in headers["server-timing"].split(", "))
            render.append(float(timing["render"]) / 1e3)
            png.append(float(timing["png"]) / 1e3)
    conn.close()
    return total, render, png


def in_browser(url: str, n_loads: int) -> dict[str, list[float]] | None:
    """Page navigation to ready, and slider input -> image drawn, in Debian's chromium."""
    import shutil

    try:
        from playwright.sync_api import sync_playwright
    except ModuleNotFoundError:
        return None
    exe = shutil.which("chromium")
    if exe is None:
        return None
    from tests.studio.test_browser import CHROMIUM_ARGS, drag_slider

    out: dict[str, list[float]] = {"load": [], "slider": []}
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=exe, headless=True, args=CHROMIUM_ARGS)
        for _ in range(n_loads):
            page = browser.new_page(bypass_csp=True)
            page.goto(url)
            page.wait_for_selector("body[data-ready='1']")
            out["load"].append(page.evaluate("window.studio.readyMs") / 1e3)  # the page's own clock
            page.close()
        page = browser.new_page(viewport={"width": 1360, "height": 900}, bypass_csp=True)
        page.goto(url)
        page.wait_for_selector("body[data-ready='1']")
        page.select_option("#photo-example", "astronaut")
        page.wait_for_function("window.studio.photo && document.getElementById('canvas').dataset.photo")
        for selector, to in (("#s-AU26", 0.9), ("#s-AU12_L", 0.15), ("#s-AU01", 0.85), ("#s-AU04", 0.8)):
            drag_slider(page, selector, to)
            page.wait_for_function("!window.studio.inflight && !window.studio.pending")
        out["slider"] = [ms / 1e3 for ms in page.evaluate("window.studio.stats")[2:]]
        browser.close()
    return out


def row(what: str, model: str, seconds: list[float]) -> str:
    ms = 1e3 * np.asarray(seconds)
    return (f"| {what} | {model} | {len(ms)} | {np.median(ms):.1f} | {np.percentile(ms, 90):.1f} | "
            f"{ms.max():.1f} |")


def untrained_refiner(folder: Path) -> Path | None:
    """Where no refiner is registered yet: an untrained one of the same architecture (speed does
    not depend on the weights), so that warp+refiner can be timed."""
    from reenact.weights import load_manifest

    if "refiner" in load_manifest():
        return None
    from reenact.model.refiner import Refiner, save_refiner

    path = folder / "untrained-refiner.safetensors"
    save_refiner(Refiner(), path)
    return path


def bench_model(model: str, args) -> list[str]:
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        weights = untrained_refiner(Path(tmp)) if model == "warp+refiner" else None
        label = f"{model} (untrained refiner)" if weights else model
        return _bench(model, label, weights, args)


def _bench(model: str, label: str, weights: Path | None, args) -> list[str]:
    proc, url, port = start_server(model, args.threads, weights)
    model = label
    try:
        rows = [row("page load over HTTP (5 requests, new connection)", model, page_load(port, args.loads))]
        total, render, png = slider_round_trips(port, args.edits)
        rows += [row("slider -> new image over HTTP (512x512)", model, total),
                 row("  of which: the model's edit (server)", model, render),
                 row("  of which: PNG of the edited box (server)", model, png)]
        browser = None if args.no_browser else in_browser(url, args.loads)
        if browser:
            rows += [row("page load in chromium (navigation start -> page ready)", model, browser["load"]),
                     row("slider input -> image drawn, in chromium", model, browser["slider"])]
        return rows
    finally:
        proc.terminate()
        proc.wait(30)


def main(argv: list[str] | None = None) -> int:
    from reenact.model.registry import DEFAULT_MODEL

    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--models", default=",".join(dict.fromkeys([DEFAULT_MODEL, "warp+refiner", "warp"])))
    p.add_argument("--edits", type=int, default=100, help="slider requests per model")
    p.add_argument("--loads", type=int, default=10, help="page loads per model")
    p.add_argument("--threads", type=int, default=1, help="the server's --threads")
    p.add_argument("--no-browser", action="store_true", help="HTTP only, even where chromium is installed")
    args = p.parse_args(argv)
    load_before = os.getloadavg()
    rows = []
    for model in args.models.split(","):
        rows += bench_model(model.strip(), args)
    load_after = os.getloadavg()
    print(f"reenact studio latency, {time.strftime('%Y-%m-%d %H:%M %Z')}, {os.cpu_count()} CPU cores, "
          f"server --threads {args.threads}; load average before {load_before[0]:.1f}, "
          f"after {load_after[0]:.1f}")
    print("| measure | model | n | median ms | p90 ms | max ms |\n|---|---|---|---|---|---|")
    print("\n".join(rows))
    return 0


if __name__ == "__main__":
    sys.exit(main())
