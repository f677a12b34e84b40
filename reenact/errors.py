"""Typed errors. Each message says what is wrong and what to do; the CLI prints it on one line."""

from __future__ import annotations


class ReenactError(Exception):
    """Base class: a user-facing failure with a one-line, actionable message."""


class InputError(ReenactError):
    """A missing, unreadable or malformed input file or argument."""


class VideoReadError(InputError):
    """A video that cannot be opened or decoded, or that has no frames."""


class ImageReadError(InputError):
    """An image that cannot be opened or decoded."""


class NoFaceError(ReenactError):
    """No usable face where one is required."""


class WeightsError(ReenactError):
    """A model file that cannot be found, fetched or verified."""


class OutputError(ReenactError):
    """An output path that cannot be written."""


class ScriptError(InputError):
    """A malformed AU script or AU table."""
