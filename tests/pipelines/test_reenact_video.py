"""ReenactPipeline plumbing with a tiny random G on real faces, real tracking, real ffmpeg."""

from __future__ import annotations

from pathlib import Path

import av
import numpy as np
import pytest
import torch

from reenact.errors import ImageReadError, NoFaceError, OutputError, VideoReadError
from reenact.face.paste import Paster
from reenact.face.tracking import TrackerConfig
from reenact.io.sinks import side_by_side
from reenact.model.generator import Generator, GeneratorConfig
from reenact.pipelines import AnimatePipeline, PipelineConfig, ReenactPipeline


def tiny_generator(seed: int = 0) -> Generator:
    torch.manual_seed(seed)
    return Generator(GeneratorConfig(channels=8, n_res=1))


def full_mask(src) -> np.ndarray:
    p = Paster(src.image, src.face.landmarks, src.alignment)
    m = np.zeros(src.image.shape[:2], np.float32)
    x0, y0, x1, y1 = p.region.box
    m[y0:y1, x0:x1] = p.region.mask
    return m


def decode(path: Path) -> tuple[np.ndarray, list[str]]:
    from reenact.io.video import probe_video

    info = probe_video(path)
    audio = [info.audio_codec] if info.has_audio else []
    with av.open(str(path)) as c:
        frames = np.stack([f.to_ndarray(format="rgb24") for f in c.decode(video=0)])
    return frames, audio


def no_leftovers(folder: Path) -> bool:
    return not [p for p in folder.iterdir() if ".part" in p.name]


@pytest.fixture(scope="module")
def in_memory(astronaut, media):
    """Frames returned in memory for the first 40 frames of the emotional clip."""
    pipe = ReenactPipeline(tiny_generator(), PipelineConfig(max_frames=40))
    return pipe(astronaut, media("WolfgangLanger_Pexels.mp4"))


def test_frames_in_memory_keep_the_background_exactly(in_memory, astronaut):
    out = in_memory
    assert out.frames.shape == (40, 512, 512, 3) and out.frames.dtype == np.uint8
    assert out.n_frames == 40 and out.targets.shape == (40, 23) and out.path is None
    m = full_mask(out.source)
    outside = m == 0
    assert outside.mean() > 0.8
    assert np.array_equal(out.frames[:, outside], np.repeat(astronaut[None], 40, 0)[:, outside])


def test_face_changes_with_the_targets(in_memory, astronaut):
    out = in_memory
    m = full_mask(out.source) > 0.5
    face = out.frames[:, m].astype(np.float32)  # (T, P, 3)
    # frames whose targets differ more differ more in the face region
    d_target = np.abs(np.diff(out.targets, axis=0)).sum(1)
    d_face = np.abs(np.diff(face, axis=0)).mean((1, 2))
    assert d_face.max() > 0.5
    assert np.corrcoef(d_target, d_face)[0, 1] > 0.5


def test_timings_and_metadata(in_memory):
    t = in_memory.timings
    for stage in ("decode_s", "track_s", "smooth_s", "generate_s", "paste_s", "setup_s"):
        assert getattr(t, stage) > 0, stage
    assert t.total_s >= t.generate_s and t.n_frames == 40 and t.fps > 0
    assert in_memory.precision in ("bf16", "fp32")
    assert in_memory.raw_track is not None and len(in_memory.raw_track) == 40
    assert in_memory.neutral.shape == (23,)


def test_writes_mp4_with_every_frame_and_audio(tmp_path, astronaut, media):
    pipe = ReenactPipeline(tiny_generator(), PipelineConfig(batch_size=7))
    out = pipe(astronaut, media("single_face.mp4"), tmp_path / "out.mp4", preview=tmp_path / "prev.mp4",
               plot=tmp_path / "aus.png")
    frames, audio = decode(tmp_path / "out.mp4")
    assert len(frames) == 72 == out.n_frames and audio == ["mp3"]  # mp3 fits mp4: copied
    with av.open(str(tmp_path / "out.mp4")) as c:
        assert c.streams.video[0].average_rate == 30
    prev, prev_audio = decode(tmp_path / "prev.mp4")
    assert prev.shape == (72, 512, 1024, 3) and prev_audio == ["mp3"]
    assert (tmp_path / "aus.png").stat().st_size > 1000
    # background of the encoded video: the source up to yuv420p/x264 loss, and still over time
    m = full_mask(out.source) == 0
    back = frames[:, m].astype(np.float32)
    assert np.abs(back - astronaut[m]).mean() < 4.0
    assert np.abs(back - back[0]).mean() < 1.0
    assert out.timings.encode_s > 0 and no_leftovers(tmp_path)


def test_side_by_side_letterboxes_the_driver():
    drv = np.full((360, 640, 3), 200, np.uint8)
    out = np.zeros((512, 512, 3), np.uint8)
    sbs = side_by_side(drv, out)
    assert sbs.shape == (512, 1024, 3)
    assert sbs[0, 0].max() == 0 and sbs[256, 256].min() == 200  # bars above, driver in the middle


def test_swapped_smoother_is_used(astronaut, media):
    def freeze(track):  # every frame = the first frame: a still face
        values = np.repeat(np.nan_to_num(track.values[:1]), len(track), 0)
        return track.replace(values=values)

    pipe = ReenactPipeline(tiny_generator(), PipelineConfig(max_frames=12), smoother=freeze)
    out = pipe(astronaut, media("single_face.mp4"))
    assert np.array_equal(out.frames[0], out.frames[-1])


def test_second_face_by_index(media):
    from reenact.io.images import load_image

    group = load_image(media("multi_face.jpg"))
    largest = ReenactPipeline(tiny_generator()).prepare_source(group)
    assert largest.n_faces >= 2
    first = ReenactPipeline(tiny_generator(), PipelineConfig(tracker=TrackerConfig(face_index=0)))
    chosen = first.prepare_source(group)
    assert chosen.face.box[0] <= min(largest.face.box[0], chosen.face.box[0])
    with pytest.raises(NoFaceError, match="face-index"):
        ReenactPipeline(tiny_generator(), PipelineConfig(tracker=TrackerConfig(face_index=50))
                        ).prepare_source(group)


def test_source_without_a_face(tmp_path, media):
    pipe = ReenactPipeline(tiny_generator())
    with pytest.raises(NoFaceError, match="source"):
        pipe(np.full((256, 256, 3), 128, np.uint8), media("single_face.mp4"), tmp_path / "o.mp4")
    assert list(tmp_path.iterdir()) == []


def test_driver_without_a_face(tmp_path, astronaut, media):
    pipe = ReenactPipeline(tiny_generator(), PipelineConfig(max_frames=30))
    with pytest.raises(NoFaceError, match="driver"):
        pipe(astronaut, media("no_face.mp4"), tmp_path / "o.mp4")
    assert list(tmp_path.iterdir()) == []


def test_broken_inputs_and_outputs(tmp_path, astronaut, media):
    pipe = ReenactPipeline(tiny_generator())
    broken = tmp_path / "broken.mp4"
    broken.write_bytes(b"\x00\x00\x00 ftypisom" + bytes(200))
    with pytest.raises(VideoReadError):
        pipe(astronaut, broken, tmp_path / "o.mp4")
    with pytest.raises(ImageReadError):
        pipe(tmp_path / "missing.jpg", media("single_face.mp4"), tmp_path / "o.mp4")
    with pytest.raises(OutputError):
        pipe(astronaut, media("single_face.mp4"), tmp_path / "no" / "o.mp4")
    with pytest.raises(OutputError):
        pipe(astronaut, media("single_face.mp4"), tmp_path / "o.avi")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["broken.mp4"]


class _InterruptingGenerator(Generator):
    def __init__(self):
        super().__init__(GeneratorConfig(channels=8, n_res=1))
        self.calls = 0

    def forward(self, face, cond):
        self.calls += 1
        if self.calls == 3:
            raise KeyboardInterrupt
        return super().forward(face, cond)


def test_ctrl_c_leaves_nothing(tmp_path, astronaut, media):
    pipe = ReenactPipeline(_InterruptingGenerator(), PipelineConfig(batch_size=8))
    target = tmp_path / "o.mp4"
    with pytest.raises(KeyboardInterrupt):
        pipe(astronaut, media("single_face.mp4"), target, preview=tmp_path / "p.mp4")
    assert list(tmp_path.iterdir()) == []


def test_animate_png_frames_and_relative(tmp_path, astronaut):
    from reenact.au.space import preset

    targets = np.stack([preset("neutral"), preset("happy"), preset("surprise")])
    pipe = AnimatePipeline(tiny_generator())
    out = pipe(astronaut, targets, 10, tmp_path / "frames", frames_dir=True)
    names = sorted(p.name for p in (tmp_path / "frames").iterdir())
    assert names == ["frame_000000.png", "frame_000001.png", "frame_000002.png"]
    assert out.n_frames == 3 and no_leftovers(tmp_path)
    rel = pipe(astronaut, targets, 10, relative=True)
    assert (rel.targets >= out.source.aus[None] - 1e-6).all()
    with pytest.raises(OutputError):  # an existing, non-empty folder is never overwritten
        pipe(astronaut, targets, 10, tmp_path / "frames", frames_dir=True)


def test_driver_with_a_faceless_stretch_follows_the_gap_policy(tmp_path, astronaut, media):
    from reenact.au.smoothing import SmoothingConfig
    from reenact.io.encode import write_video
    from reenact.io.video import read_all_frames

    clip = read_all_frames(media("single_face.mp4"), max_frames=40)
    clip[15:22] = 30  # 7 frames (0.23 s) without a face
    driver = write_video(tmp_path / "gappy.mp4", [clip], fps=30)
    for gaps in ("interpolate", "missing"):
        pipe = ReenactPipeline(tiny_generator(), PipelineConfig(smoothing=SmoothingConfig(gaps=gaps)))
        out = pipe(astronaut, driver)
        assert out.n_frames == 40 and not out.raw_track.found[15:22].any() and out.raw_track.found[:15].all()
        assert not np.isnan(out.targets).any()
        if gaps == "missing":  # the source rests where the driver has no face
            from reenact.render.transfer import transfer_aus

            rest = transfer_aus(out.source.aus, out.neutral[None], neutral=out.neutral)[0]
            np.testing.assert_allclose(out.targets[17], rest, atol=1e-6)


def test_swapped_extractor_is_used(astronaut, media):
    from reenact.au.space import preset
    from reenact.au.track import AUTrack
    from reenact.render.transfer import TransferConfig

    def scripted(chunks, fps):  # every driver frame "shows" a half-intensity surprise
        n = sum(len(c) for c in chunks)
        return AUTrack(values=np.repeat(preset("surprise", 0.5)[None], n, 0), found=np.ones(n, bool),
                       pose=np.zeros((n, 3), np.float32), fps=fps)

    cfg = PipelineConfig(max_frames=10, transfer=TransferConfig(mode="absolute"))
    out = ReenactPipeline(tiny_generator(), cfg, extractor=scripted)(astronaut, media("single_face.mp4"))
    np.testing.assert_allclose(out.targets, np.repeat(preset("surprise", 0.5)[None], 10, 0), atol=1e-5)
