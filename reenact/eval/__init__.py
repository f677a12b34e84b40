"""Evaluation: what a person sees in a reenacted face, measured the same way for every model.

- ``sources``: public source photos (and a greyscale copy), the AU targets, the default clips.
- ``holdout``: the talking-head identities held out of training for self-reenactment checks.
- ``render``: models from the registry, rendered through the user's pipeline (``RecordingEditor``).
- ``image_metrics``: L1 / PSNR / SSIM, sharpness, chroma deviation, speckle (pure functions).
- ``geometry``: dlib's 68 points: mouth, brows, eyes, lip corners; "did the AU move it" checks.
- ``measure``: one source face measured once, each output against it.
- ``targets`` / ``videos``: the AU-target and the driving / self-reenactment evaluations.
- ``summary`` / ``report``: JSON summaries, markdown tables and contact sheets, a row per model.
- ``harness``: ``evaluate_models`` and ``evaluate_editor``, the entry points.
"""
