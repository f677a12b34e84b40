"""What each studio endpoint does, without HTTP: ``Studio``'s methods take ids and plain values
and return plain values or stored files; they raise typed errors (``reenact.studio.errors``).

The slider path (``edit``) renders one AU row of the session's prepared face with
``PhotoEdit.render_region``; renders (``render_script``, ``render_video``) are jobs of the
one-at-a-time ``JobQueue`` (``reenact.studio.render``). A client names sessions, files and jobs by
opaque ids only: no path from the client reaches the file system.
"""

from __future__ import annotations

import math
import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from reenact.au.space import COND_NAMES, TABLE_AU_NAMES
from reenact.errors import ImageReadError, InputError, NoFaceError, ReenactError, VideoReadError
from reenact.io.images import IMAGE_SUFFIXES, load_image
from reenact.io.video import probe_video
from reenact.model.editor import FaceEditor
from reenact.pipelines import PipelineConfig
from reenact.studio import assets
from reenact.studio.errors import NotFoundError
from reenact.studio.jobs import JobContext, JobQueue
from reenact.studio.photo import FaceBox, PhotoEdit, find_faces
from reenact.studio.render import VideoOptions, render_script, render_video
from reenact.studio.sessions import Session, SessionStore, StoredFile

VIDEO_SUFFIXES = (".mp4", ".mov", ".m4v", ".mkv", ".webm", ".avi")
MB = 1 << 20


@dataclass(frozen=True)
class StudioConfig:
    """Limits and options of a studio server (``reenact studio`` sets them from its flags)."""

    max_photo_bytes: int = 40 * MB  # photo uploads (pixels are limited by reenact.io.images.max_pixels)
    max_video_bytes: int = 200 * MB  # driving clip uploads
    display_size: int = 1280  # longest side of the photo as the page shows it (edits keep full size)
    session_timeout_s: float = 90.0  # a page not seen for this long is closed (it pings every 10 s)
    max_sessions: int = 16
    max_script_seconds: float = 60.0
    max_queued: int = 8  # waiting renders, all pages together
    pipeline: PipelineConfig = field(default_factory=PipelineConfig)
    root: Path | None = None  # sessions' temporary folders (default: a new folder under $TMPDIR)


def _named(exc: ReenactError, path: Path, name: str) -> ReenactError:
    """The same error with the server's temporary path replaced by the user's file name."""
    return type(exc)(str(exc).replace(str(path), name or "the upload").replace("\n", " "))


def _suffix(name: str, allowed: tuple[str, ...], default: str) -> str:
    suffix = Path(name).suffix.lower()
    return suffix if suffix in allowed else default


def _number(body: dict, key: str, default: float, lo: float, hi: float) -> float:
    value = body.get(key, default)
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) \
            or not lo <= value <= hi:
        raise InputError(f"{key} must be a number in [{lo:g}, {hi:g}], got {value!r}")
    return float(value)


def _values(body: dict) -> tuple[dict[str, float], bool]:
    values = body.get("values", {})
    if not isinstance(values, dict):
        raise InputError("values must be a mapping of AU names to numbers")
    relative = body.get("relative", True)
    if not isinstance(relative, bool):
        raise InputError("relative must be true or false")
    return values, relative


class Studio:
    """The studio's state: the model, the sessions and the render queue.

    Args:
        editor: the face model every edit and render uses (``build_editor``).
        config: limits and options.
    """

    def __init__(self, editor: FaceEditor, config: StudioConfig = StudioConfig()):
        self.editor = editor
        self.config = config
        self.jobs = JobQueue(max_waiting=config.max_queued)
        self.sessions = SessionStore(config.root, timeout_s=config.session_timeout_s,
                                     max_sessions=config.max_sessions, on_close=self.jobs.cancel_session)

    def start(self) -> None:
        self.jobs.start()
        self.sessions.start_reaper()

    def stop(self) -> None:
        """Cancel the renders, close every session and delete every temporary file."""
        self.jobs.stop()
        self.sessions.close_all()

    # ----------------------------------------------------------------------- page and sessions

    def info(self) -> dict:
        """What the page needs to draw itself: AUs, groups, presets, examples, limits, the model."""
        return assets.page_info(self.editor.name, self.config.max_photo_bytes, self.config.max_video_bytes)

    def open_session(self) -> dict:
        return {"session": self.sessions.create().id, "timeout_s": self.config.session_timeout_s}

    def ping(self, sid: str) -> None:
        self.sessions.get(sid)

    def close_session(self, sid: str) -> None:
        self.sessions.close(sid)

    # ----------------------------------------------------------------------- photo

    def upload_photo(self, sid: str, data: bytes, name: str) -> dict:
        """A photo upload: read it (pixel limit), find its faces, prepare the largest one."""
        session = self.sessions.get(sid)
        path = session.new_path(_suffix(name, IMAGE_SUFFIXES, ".img"))
        path.write_bytes(data)
        try:
            image = load_image(path)
        except ImageReadError as exc:
            raise _named(exc, path, name) from None
        finally:
            path.unlink(missing_ok=True)
        return self._set_photo(session, image, Path(name).name or "photo")

    def example_photo(self, sid: str, name: str) -> dict:
        session = self.sessions.get(sid)
        return self._set_photo(session, assets.example_photo(name), name)

    def _set_photo(self, session: Session, image: np.ndarray, name: str) -> dict:
        faces = find_faces(image)
        if not faces:
            raise NoFaceError(f"no face found in {name}; use a photo with a clearly visible, roughly frontal "
                              "face")
        largest = max(faces, key=lambda f: (f.box[2] - f.box[0]) * (f.box[3] - f.box[1]))
        edit = self._prepare(image, largest.index)
        display = session.new_path(".png")
        assets.save_png(assets.scaled(image, self._scale(image)), display, fast=True)
        with session.lock:
            session.image, session.photo_name, session.faces = image, name, faces
            session.edits, session.face = {largest.index: edit}, largest.index
            session.display = session.add_file(display, "image/png", "photo.png", role="display")
        return self._photo_info(session)

    def _prepare(self, image: np.ndarray, index: int) -> PhotoEdit:
        return PhotoEdit(self.editor, image, face_index=index, config=self.config.pipeline)

    def _scale(self, image: np.ndarray) -> float:
        return min(1.0, self.config.display_size / max(image.shape[:2]))

    def choose_face(self, sid: str, index: int) -> dict:
        session = self.sessions.get(sid)
        if session.image is None:
            raise NotFoundError("no photo yet; upload a photo or pick an example first")
        if not 0 <= index < len(session.faces):
            n = len(session.faces)
            raise InputError(f"the photo shows {n} face(s); choose 0..{n - 1}")
        if index not in session.edits:
            session.edits[index] = self._prepare(session.image, index)
        session.face = index
        return self._photo_info(session)

    def _photo_info(self, session: Session) -> dict:
        photo = session.photo()
        h, w = session.image.shape[:2]
        return {"name": session.photo_name, "width": w, "height": h, "scale": self._scale(session.image),
                "display": session.display.id, "face": session.face, "box": list(photo.box),
                "faces": [_face_json(f) for f in session.faces],
                "aus": {n: round(float(v), 4) for n, v in zip(TABLE_AU_NAMES, photo.source.aus, strict=True)}}

    # ----------------------------------------------------------------------- the slider path

    def edit(self, sid: str, body: dict) -> tuple[bytes, tuple[int, int, int, int], dict[str, float]] | None:
        """One slider state -> (PNG of the edited box at display scale, its box in display pixels,
        milliseconds spent rendering and encoding), or None when a newer request of the page
        arrived meanwhile (only the latest is rendered)."""
        session = self.sessions.get(sid)
        seq = int(_number(body, "seq", 0, 0, 2**53))
        values, relative = _values(body)
        with session.lock:
            if seq < session.seq:
                return None
            session.seq = seq
        with session.edit_lock:
            if seq < session.seq:
                return None
            photo = session.photo()
            t0 = time.perf_counter()
            region = photo.render_region(photo.target(values, relative=relative))
        t1 = time.perf_counter()
        png, box = assets.region_png(region, photo.box, self._scale(session.image))
        return png, box, {"render": 1e3 * (t1 - t0), "png": 1e3 * (time.perf_counter() - t1)}

    def export(self, sid: str, body: dict) -> StoredFile:
        """The current slider state as a file: the edited photo (png) or its AUs (csv, yaml)."""
        session = self.sessions.get(sid)
        values, relative = _values(body)
        photo = session.photo()
        target = photo.target(values, relative=relative)
        kind = body.get("format", "png")
        if kind == "png":
            path = session.new_path(".png")
            assets.save_png(photo.render(target), path)
            return session.add_file(path, "image/png", "edited.png", role="export")
        if kind == "csv":
            path = assets.write_target_csv(target, photo.source.face.pose, session.new_path(".csv"))
            return session.add_file(path, "text/csv", "aus.csv", role="export")
        if kind == "yaml":
            path = session.new_path(".yaml")
            path.write_text(assets.script_yaml([{"t": 0.0, "aus": target}], fps=25.0))
            return session.add_file(path, "application/yaml", "aus.yaml", role="export")
        raise InputError(f"unknown export format {kind!r}; use png, csv or yaml")

    # ----------------------------------------------------------------------- script tab

    def script(self, sid: str, body: dict) -> dict:
        """Keyframes of slider states -> a YAML script (checked by ``reenact.au.script``) and its
        per-frame AUs for the page's preview."""
        session = self.sessions.get(sid)
        photo = session.photo()
        fps = _number(body, "fps", 25.0, 1.0, 60.0)
        keyframes = body.get("keyframes")
        if not isinstance(keyframes, list) or not keyframes:
            raise InputError("add at least one keyframe first")
        keys = []
        for key in keyframes:
            if not isinstance(key, dict):
                raise InputError("a keyframe must be a mapping with t, values and ease")
            values, relative = _values(key)
            keys.append({"t": _number(key, "t", 0.0, 0.0, self.config.max_script_seconds),
                         "aus": photo.target(values, relative=relative), "ease": key.get("ease", "linear")})
        keys.sort(key=lambda k: k["t"])
        duration = body.get("duration")
        text = assets.script_yaml(keys, fps=fps, duration=None if duration is None else
                                  _number(body, "duration", 1.0, 1.0 / fps, self.config.max_script_seconds))
        script = assets.parse_script(text)
        path = session.new_path(".yaml")
        path.write_text(text)
        stored = session.add_file(path, "application/yaml", "script.yaml", role="script")
        cols = [TABLE_AU_NAMES.index(n) for n in COND_NAMES]
        return {"script": stored.id, "frames": len(script), "fps": script.fps, "names": list(COND_NAMES),
                "values": np.round(script.values[:, cols], 4).tolist()}

    def render_script(self, sid: str, body: dict) -> dict:
        session = self.sessions.get(sid)
        script = session.file(str(body.get("script", "")))
        if script.role != "script":
            raise NotFoundError("unknown script; make the script again")
        image, face = session.image, session.face

        def run(ctx: JobContext) -> dict[str, str]:
            out = session.new_path(".mp4")
            render_script(ctx, self.editor, image, face_index=face, script=script.path, out=out,
                          config=self.config.pipeline)
            return {"video": session.add_file(out, "video/mp4", "animate.mp4", role="result").id,
                    "script": script.id}

        return self.jobs.status(self.jobs.submit(session.id, "script", run))

    # ----------------------------------------------------------------------- video tab

    def upload_video(self, sid: str, data: bytes, name: str) -> dict:
        session = self.sessions.get(sid)
        path = session.new_path(_suffix(name, VIDEO_SUFFIXES, ".mp4"), name=name)
        path.write_bytes(data)
        return self._set_video(session, path, Path(name).name or "video")

    def example_video(self, sid: str, name: str) -> dict:
        session = self.sessions.get(sid)
        source = assets.example_video(name)
        path = session.new_path(".mp4", name=source.name)
        shutil.copyfile(source, path)
        return self._set_video(session, path, name)

    def _set_video(self, session: Session, path: Path, name: str) -> dict:
        try:
            info = probe_video(path)
        except VideoReadError as exc:
            path.unlink(missing_ok=True)
            raise _named(exc, path, name) from None
        media = "video/webm" if path.suffix == ".webm" else "video/mp4"
        stored = session.add_file(path, media, name, role="driver")
        return {"video": stored.id, "name": name, "frames": info.n_frames, "fps": float(info.fps),
                "seconds": round(info.n_frames / float(info.fps), 3), "audio": bool(info.has_audio),
                "width": info.width, "height": info.height}

    def render_video(self, sid: str, body: dict) -> dict:
        session = self.sessions.get(sid)
        session.photo()
        driver = session.file(str(body.get("video", "")))
        if driver.role != "driver":
            raise NotFoundError("unknown driving video; upload it again")
        seconds = body.get("seconds")
        fps = float(probe_video(driver.path).fps)
        max_frames = None if seconds is None else max(1, round(_number(body, "seconds", 1, 0.04, 3600) * fps))
        only = body.get("only", [])
        if not isinstance(only, list) or not all(isinstance(o, str) for o in only):
            raise InputError("only must be a list of AU groups")
        options = VideoOptions(mode=str(body.get("mode", "relative")), motion=str(body.get("motion", "aus")),
                               strength=_number(body, "strength", 1.0, 0.0, 3.0), only=tuple(only),
                               max_frames=max_frames)
        options.config(session.face)  # checks the options now, not in the queue
        if options.motion == "landmarks" and getattr(self.editor, "rig", None) is None:
            raise InputError(f"landmark motion needs a warp-guided model; the {self.editor.name} model takes "
                             "AUs only")
        image, face = session.image, session.face

        def run(ctx: JobContext) -> dict[str, str]:
            out, plot, table = session.new_path(".mp4"), session.new_path(".png"), session.new_path(".csv")
            render_video(ctx, self.editor, image, face_index=face, driver=driver.path, out=out, plot=plot,
                         table=table, options=options, config=self.config.pipeline)
            return {"video": session.add_file(out, "video/mp4", "reenacted.mp4", role="result").id,
                    "plot": session.add_file(plot, "image/png", "driver_aus.png", role="result").id,
                    "csv": session.add_file(table, "text/csv", "driver_aus.csv", role="result").id,
                    "driver": driver.id}

        return self.jobs.status(self.jobs.submit(session.id, "video", run))

    # ----------------------------------------------------------------------- jobs and files

    def job(self, sid: str, jid: str, *, cancel: bool = False) -> dict:
        session = self.sessions.get(sid)
        job = self.jobs.get(jid, session.id)
        if cancel:
            self.jobs.cancel(job)
        return self.jobs.status(job)

    def file(self, sid: str, fid: str) -> StoredFile:
        return self.sessions.get(sid).file(fid)


def _face_json(face: FaceBox) -> dict:
    return {"index": face.index, "box": [round(v, 1) for v in face.box]}
