"""Evaluation: what a person sees in a reenacted face, measured the same way for every model.

- ``sources``: public source photos (and a greyscale copy), the AU targets, the default clips.
- ``holdout``: the talking-head identities held out of training for self-reenactment checks.
- ``image_metrics``: L1 / PSNR / SSIM, sharpness, chroma deviation, speckle (pure functions).
- ``geometry``: dlib's 68 points: mouth, brows, eyes, lip corners; "did the AU move it" checks.
- ``measure``: one source face measured once, each output against it.
- ``targets`` / ``videos``: what the AU-target and the driving / self-reenactment evaluations
  measure, and their results.
- ``summary`` / ``report``: JSON summaries, markdown tables and contact sheets, a row per model.

The runs that render through the user's pipeline and hand the outputs to these measures are a
pipeline: ``reenact.pipelines.evaluation`` (``evaluate_models``, ``evaluate_editor``).
"""
