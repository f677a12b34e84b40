"""Face models: what turns a source face and target AUs into an edited face.

- ``editor``: the ``FaceEditor`` interface every model implements, and the do-nothing editor.
- ``ganimation``: GANimation's generator repainting the aligned crop (``GanimationEditor``).
"""
