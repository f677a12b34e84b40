"""The face in a photo: finding it, cutting its canonical crop, and putting the crop back.

- ``tracking``: MediaPipe FaceLandmarker (478 landmarks, 52 blendshapes, head pose).
- ``align``: the one canonical aligned crop (photo <-> crop transforms).
- ``paste``: the generator's crop composed back into the full-resolution photo.
"""
