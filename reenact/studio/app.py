"""The studio's web app: one static page (no CDN, no remote fonts) and JSON/binary endpoints.

    GET  /                               the page (reenact/studio/static/)
    GET  /api/info                       AU sliders, presets, examples, limits, the model
    POST /api/session                    a new session (one per open page) -> {session}
    POST /api/s/{sid}/ping | /close      the page is still open | was closed (beacon)
    POST /api/s/{sid}/photo?name=N       body: the photo's bytes -> faces found, the face's AUs
    POST /api/s/{sid}/example/{name}     a bundled example photo instead
    POST /api/s/{sid}/face/{k}           edit the k-th face from the left
    POST /api/s/{sid}/edit               {values, relative, seq} -> PNG of the edited box (X-Box)
    POST /api/s/{sid}/export             {values, relative, format: png|csv|yaml} -> {file}
    POST /api/s/{sid}/script             {fps, keyframes: [{t, values, relative, ease}]} -> {script, values}
    POST /api/s/{sid}/render/script      {script} -> job status
    POST /api/s/{sid}/video?name=N       body: a driving clip -> {video, frames, fps}
    POST /api/s/{sid}/example-video/{n}  a bundled example clip instead
    POST /api/s/{sid}/render/video       {video, mode, motion, strength, only, seconds} -> job status
    GET  /api/s/{sid}/jobs/{jid}         job status (position in the queue, progress, files); DELETE cancels
    GET  /api/s/{sid}/files/{fid}        a file of the session (?download=1: as an attachment)

Errors are JSON ``{"error": "one sentence"}`` with a 4xx status (``reenact.studio.errors``).
Requests whose Host is not the bound local name are refused (DNS rebinding); every response
forbids loading anything from elsewhere (Content-Security-Policy).
"""

from __future__ import annotations

import contextlib
import json
import logging
from collections.abc import Awaitable, Callable
from pathlib import Path

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.middleware import Middleware
from starlette.middleware.trustedhost import TrustedHostMiddleware
from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from reenact.errors import InputError, ReenactError
from reenact.studio.errors import UploadTooLargeError, http_status
from reenact.studio.handlers import Studio

STATIC = Path(__file__).resolve().parent / "static"
MAX_JSON_BYTES = 1 << 20
LOCAL_HOSTS = ("127.0.0.1", "localhost")
CSP = ("default-src 'self'; img-src 'self' blob: data:; media-src 'self' blob:; style-src 'self'; "
       "script-src 'self'; connect-src 'self'; frame-ancestors 'none'")
log = logging.getLogger("reenact.studio")


async def read_body(request: Request, limit: int, what: str, *, empty_ok: bool = False) -> bytes:
    """The request body, refused (UploadTooLargeError) as soon as it passes ``limit`` bytes."""
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise UploadTooLargeError(f"the {what} is {int(declared) / 2**20:.1f} MB, over the limit of "
                                  f"{limit / 2**20:.0f} MB; use a smaller file")
    parts, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            mb = limit / 2**20
            raise UploadTooLargeError(f"the {what} is over the limit of {mb:.0f} MB; use a smaller file")
        parts.append(chunk)
    if not size and not empty_ok:
        raise InputError(f"the {what} is empty; choose a file")
    return b"".join(parts)


async def read_json(request: Request) -> dict:
    data = await read_body(request, MAX_JSON_BYTES, "request", empty_ok=True)
    try:
        body = json.loads(data or b"{}")
    except ValueError:
        raise InputError("the request is not valid JSON; reload the page") from None
    if not isinstance(body, dict):
        raise InputError("the request must be a JSON object; reload the page")
    return body


Handler = Callable[[Studio, Request], Awaitable[Response]]


def _endpoint(studio: Studio, handler: Handler):
    """A Starlette endpoint: typed errors become JSON with their status, anything else a 500."""
    async def endpoint(request: Request) -> Response:
        try:
            return await handler(studio, request)
        except ReenactError as exc:
            return JSONResponse({"error": str(exc).replace("\n", " ")}, status_code=http_status(exc))
        except Exception as exc:
            log.exception("studio request %s failed", request.url.path)
            return JSONResponse({"error": f"internal error ({type(exc).__name__}); the server log has the "
                                          "details"}, status_code=500)

    return endpoint


async def _json(fn, *args) -> Response:
    result = await run_in_threadpool(fn, *args)
    return JSONResponse(result) if result is not None else Response(status_code=204)


async def info(studio: Studio, request: Request) -> Response:
    return JSONResponse(studio.info())


async def open_session(studio: Studio, request: Request) -> Response:
    return await _json(studio.open_session)


async def ping(studio: Studio, request: Request) -> Response:
    return await _json(studio.ping, request.path_params["sid"])


async def close(studio: Studio, request: Request) -> Response:
    return await _json(studio.close_session, request.path_params["sid"])


async def _upload(request: Request, studio: Studio, kind: str, limit: int, store) -> Response:
    studio.sessions.get(request.path_params["sid"])  # before reading a large body
    data = await read_body(request, limit, kind)
    return await _json(store, request.path_params["sid"], data, request.query_params.get("name", ""))


async def upload_photo(studio: Studio, request: Request) -> Response:
    return await _upload(request, studio, "photo", studio.config.max_photo_bytes, studio.upload_photo)


async def example_photo(studio: Studio, request: Request) -> Response:
    return await _json(studio.example_photo, request.path_params["sid"], request.path_params["name"])


async def choose_face(studio: Studio, request: Request) -> Response:
    return await _json(studio.choose_face, request.path_params["sid"], request.path_params["index"])


async def edit(studio: Studio, request: Request) -> Response:
    body = await read_json(request)
    result = await run_in_threadpool(studio.edit, request.path_params["sid"], body)
    if result is None:
        return Response(status_code=204, headers={"X-Stale": "1"})
    png, box, ms = result
    timing = ", ".join(f"{name};dur={value:.1f}" for name, value in ms.items())
    headers = {"X-Box": ",".join(map(str, box)), "X-Seq": str(body.get("seq", 0)), "Server-Timing": timing,
               "Cache-Control": "no-store"}
    return Response(png, media_type="image/png", headers=headers)


async def export(studio: Studio, request: Request) -> Response:
    body = await read_json(request)
    stored = await run_in_threadpool(studio.export, request.path_params["sid"], body)
    return JSONResponse({"file": stored.id, "filename": stored.filename})


async def script(studio: Studio, request: Request) -> Response:
    return await _json(studio.script, request.path_params["sid"], await read_json(request))


async def render_script(studio: Studio, request: Request) -> Response:
    return await _json(studio.render_script, request.path_params["sid"], await read_json(request))


async def upload_video(studio: Studio, request: Request) -> Response:
    return await _upload(request, studio, "video", studio.config.max_video_bytes, studio.upload_video)


async def example_video(studio: Studio, request: Request) -> Response:
    return await _json(studio.example_video, request.path_params["sid"], request.path_params["name"])


async def render_video(studio: Studio, request: Request) -> Response:
    return await _json(studio.render_video, request.path_params["sid"], await read_json(request))


async def job(studio: Studio, request: Request) -> Response:
    p = request.path_params
    return JSONResponse(studio.job(p["sid"], p["jid"], cancel=request.method == "DELETE"))


async def file(studio: Studio, request: Request) -> Response:
    stored = studio.file(request.path_params["sid"], request.path_params["fid"])
    download = request.query_params.get("download") == "1"
    return FileResponse(stored.path, media_type=stored.media_type,
                        filename=stored.filename if download else None,
                        content_disposition_type="attachment" if download else "inline",
                        headers={"Cache-Control": "no-store"})


async def index(studio: Studio, request: Request) -> Response:
    return FileResponse(STATIC / "index.html", media_type="text/html", headers={"Cache-Control": "no-cache"})


ROUTES: list[tuple[str, Handler, list[str]]] = [
    ("/", index, ["GET"]),
    ("/api/info", info, ["GET"]),
    ("/api/session", open_session, ["POST"]),
    ("/api/s/{sid}/ping", ping, ["POST"]),
    ("/api/s/{sid}/close", close, ["POST"]),
    ("/api/s/{sid}/photo", upload_photo, ["POST"]),
    ("/api/s/{sid}/example/{name}", example_photo, ["POST"]),
    ("/api/s/{sid}/face/{index:int}", choose_face, ["POST"]),
    ("/api/s/{sid}/edit", edit, ["POST"]),
    ("/api/s/{sid}/export", export, ["POST"]),
    ("/api/s/{sid}/script", script, ["POST"]),
    ("/api/s/{sid}/render/script", render_script, ["POST"]),
    ("/api/s/{sid}/video", upload_video, ["POST"]),
    ("/api/s/{sid}/example-video/{name}", example_video, ["POST"]),
    ("/api/s/{sid}/render/video", render_video, ["POST"]),
    ("/api/s/{sid}/jobs/{jid}", job, ["GET", "DELETE"]),
    ("/api/s/{sid}/files/{fid}", file, ["GET"]),
]


class SecurityHeaders:
    """ASGI middleware: CSP (nothing from elsewhere), no MIME sniffing, no framing, no referrer."""

    HEADERS = [(b"content-security-policy", CSP.encode()), (b"x-content-type-options", b"nosniff"),
               (b"x-frame-options", b"DENY"), (b"referrer-policy", b"no-referrer")]

    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)

        async def sending(message):
            if message["type"] == "http.response.start":
                message["headers"] = list(message.get("headers", [])) + self.HEADERS
            await send(message)

        await self.app(scope, receive, sending)


def create_app(studio: Studio, *, allowed_hosts: tuple[str, ...] = LOCAL_HOSTS) -> Starlette:
    """The Starlette app of ``studio``; it starts the render worker on start-up and deletes every
    session's files at shutdown."""
    @contextlib.asynccontextmanager
    async def lifespan(app):
        studio.start()
        try:
            yield
        finally:
            await run_in_threadpool(studio.stop)

    routes = [Route(path, _endpoint(studio, handler), methods=methods) for path, handler, methods in ROUTES]
    routes.append(Mount("/static", StaticFiles(directory=STATIC), name="static"))
    middleware = [Middleware(SecurityHeaders),
                  Middleware(TrustedHostMiddleware, allowed_hosts=list(allowed_hosts))]
    return Starlette(routes=routes, middleware=middleware, lifespan=lifespan)
