"""reenact studio: a local web page to edit a face with AU sliders and to reenact a video.

- ``photo``: one photo, one face, prepared once, edited by single AU rows (the slider path) with
  the same editor and pipeline steps as the CLI.
- ``sessions``: per-page sessions (a temporary folder each, files by opaque id only).
- ``jobs``: one render at a time per process, a queue with positions and progress.
- ``render``: the script and video renders a job runs (``AnimatePipeline`` / ``ReenactPipeline``).
- ``app``: the Starlette app (a static page and JSON/binary endpoints); ``reenact studio`` runs it.
"""
