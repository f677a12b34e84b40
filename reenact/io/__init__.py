"""Reading and writing: videos, images, encoded mp4s, and the file helpers every output uses.

- ``video``: probe a clip, stream its frames in chunks (decord, PyAV fallback).
- ``images``: one convention for every still image (RGB uint8, EXIF-rotated, size-limited).
- ``encode``: raw RGB frames -> h264 yuv420p mp4 through ffmpeg, with the driver's audio.
- ``sinks``: where rendered frames go (an mp4 + side-by-side preview, memory, PNG frames).
- ``files``: early checks of output paths, atomic outputs, stale temporaries.
- ``memory``: keeping resident memory flat on long clips.
"""
