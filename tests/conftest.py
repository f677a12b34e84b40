"""Shared fixtures: real faces that the project fetches itself (never ../shared)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest


@pytest.fixture(scope="session")
def media():
    """Path of a registered media file, e.g. media('single_face.mp4'), fetched and verified."""
    from reenact.weights import fetch

    def get(name: str) -> Path:
        return fetch(f"media/{name}", quiet=True)

    return get


@pytest.fixture(scope="session")
def astronaut() -> np.ndarray:
    """scikit-image's astronaut (NASA, public domain): (512, 512, 3) uint8 RGB, a smiling face."""
    from skimage import data

    return data.astronaut()


@pytest.fixture(scope="session")
def astronaut_face(astronaut):
    """The astronaut's face as MediaPipe finds it (IMAGE mode)."""
    from reenact.face.tracking import FaceTracker

    with FaceTracker() as tracker:
        face = tracker.detect(astronaut)
    assert face is not None
    return face
