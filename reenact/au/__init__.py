"""Action Units: the AU space, measuring AUs, AU tracks and everything done to them.

- ``space``: AU names, conventions ([0, 1], subject's left/right), presets, conditioning vector.
- ``track``: ``AUTrack``, per-frame AUs of one face through a clip.
- ``blendshapes``: AUs of one face from MediaPipe blendshapes and landmark geometry.
- ``extract``: frames -> tracked face -> an ``AUTrack`` (``extract_aus`` for a file).
- ``pyfeat``: the optional py-feat AU backend.
- ``smoothing``: gap policies, temporal filters, the neutral baseline.
- ``tables``: AU tables on disk (reenact's, OpenFace's and py-feat's CSVs).
- ``script``: AU scripts (keyframes, presets, easing, layers) for ``reenact animate``.
- ``targets``: named AU targets (CSV/YAML) for ``reenact render-batch``.
- ``plot``: AU trajectory plots.
"""
