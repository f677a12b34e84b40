"""`reenact studio`: a local web page to edit a face with AU sliders and to reenact a video.

Serve reenact studio on this machine and print its URL: upload a photo, move one slider per Action
Unit and see the face change, build an AU script, or reenact a driving video, all with the CLI's
own pipeline. Works offline; files live in a temporary folder that is deleted when the page closes
and at exit. See docs/studio.md.
"""

from __future__ import annotations

import argparse
import os
import socket
import sys
import threading
import webbrowser

import torch

from reenact.commands import options
from reenact.device import pick_device
from reenact.errors import InputError
from reenact.model.registry import DEFAULT_MODEL, MODELS, build_editor


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--host", default="127.0.0.1",
                   help="address to listen on (default 127.0.0.1: this machine only; 0.0.0.0 opens it to "
                        "the network, without authentication)")
    p.add_argument("--port", type=int, default=7860, help="port (default 7860; 0 picks a free one)")
    p.add_argument("--device", default="auto", help="auto (CUDA when present, else CPU), cpu, cuda ...")
    p.add_argument("--model", choices=tuple(MODELS), default=None,
                   help=f"face model (default {DEFAULT_MODEL}, or ganimation for a generator's --weights)")
    p.add_argument("--weights", default=None, metavar="PATH",
                   help="the model's weights (default: the registered ones)")
    p.add_argument("--threads", type=int, default=1, metavar="N",
                   help="CPU threads for the model (default 1: a slider edit is one small frame, and on a "
                        "busy 2-core machine 2 threads made it 10-20x slower)")
    p.add_argument("--max-upload-mb", type=float, default=200.0, metavar="MB",
                   help="largest driving clip upload (default 200 MB; photos: 40 MB and --max-pixels)")
    p.add_argument("--no-browser", action="store_true", help="only print the URL; do not open a browser")
    options.add_max_pixels_option(p)
    p.set_defaults(func=run)


def _bind(host: str, port: int) -> socket.socket:
    if not 0 <= port <= 65535:
        raise InputError(f"--port must be in 0..65535, got {port}")
    try:
        family, kind, proto, _, address = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0]
        # proto IPPROTO_TCP, not 0: only then does asyncio set TCP_NODELAY on accepted sockets (else
        # Nagle holds each response's body for the client's delayed ACK: +40 ms a request)
        sock = socket.socket(family, kind, proto)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(address)
    except OSError as exc:
        raise InputError(f"cannot listen on {host}:{port} ({exc.strerror or exc}); choose another --port "
                         "(0 picks a free one)") from exc
    sock.listen(64)
    return sock


def run(args: argparse.Namespace) -> int:
    try:  # here, not above: the studio extra is optional, and `reenact studio --help` works without it
        import uvicorn

        from reenact.studio.app import LOCAL_HOSTS, create_app
        from reenact.studio.handlers import MB, Studio, StudioConfig
    except ModuleNotFoundError as exc:
        raise InputError(f"reenact studio needs {exc.name}; install the studio extra: "
                         "pip install -e '.[studio]'") from exc
    if args.threads < 1 or args.max_upload_mb <= 0:
        raise InputError("--threads must be >= 1 and --max-upload-mb > 0")
    sock = _bind(args.host, args.port)  # before any work: a taken port fails at once
    studio = None
    try:
        torch.set_num_threads(args.threads)
        editor = build_editor(args.model, weights=args.weights).to(pick_device(args.device))
        studio = Studio(editor, StudioConfig(max_video_bytes=int(args.max_upload_mb * MB)))
        url, allowed = _url(sock, LOCAL_HOSTS)
        server = uvicorn.Server(uvicorn.Config(create_app(studio, allowed_hosts=allowed), log_level="warning",
                                               timeout_graceful_shutdown=3))
        print(f"reenact studio: {url}  (model {editor.name}; Ctrl-C stops it and deletes its temporary "
              f"folder {studio.sessions.root})", flush=True)
        if not args.no_browser:
            _open_later(url)
        server.run(sockets=[sock])
    finally:
        if studio is not None:
            studio.stop()  # idempotent: also when the server never got to its own shutdown
        sock.close()
    return 0


def _url(sock: socket.socket, local_hosts: tuple[str, ...]) -> tuple[str, tuple[str, ...]]:
    """The page's URL and the Host names the app accepts (any, when listening on every address)."""
    host, port = sock.getsockname()[:2]
    if host in ("0.0.0.0", "::"):
        return f"http://127.0.0.1:{port}/", ("*",)
    name = f"[{host}]" if ":" in host else host
    return f"http://{name}:{port}/", (*local_hosts, host)


def _open_later(url: str) -> None:
    """Open the page in the desktop's browser, where there is a desktop (never a terminal browser)."""
    desktop = os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY")
    if sys.platform.startswith("linux") and not desktop:
        return
    timer = threading.Timer(1.0, lambda: webbrowser.open(url))
    timer.daemon = True
    timer.start()
