"""A driver's blinks read from its lids' geometry: both eyes lowered are not a wink.

MediaPipe's per-eye blink score (``eyeBlinkLeft`` / ``eyeBlinkRight``, through the steep AU45
ramp of ``reenact.au.blendshapes``) turns a face that looks down with its head turned into a wink:
in the demo's driving clip the two lids are lowered 58 % and 29 % (their 3-D openings against the
clip's open eyes), and the blink scores read 0.78 and 0.04. For a driving clip, how far each eye
closes is read instead from its opening against that eye's own open opening in the clip, while
the scores still say whether the eyes close at all (``geometric_blinks``): a real blink or wink
still closes the eye that closes, two lowered lids stay two lowered lids, and a smile's eyes,
narrowed from below, stay open.
"""

from __future__ import annotations

import numpy as np

from reenact.au.space import TABLE_AU_NAMES, sync_bilateral
from reenact.au.track import AUTrack

LID_READINGS = ("geometry", "blendshapes")
_SIDES = (TABLE_AU_NAMES.index("AU45_R"), TABLE_AU_NAMES.index("AU45_L"))  # as ``AUTrack.lids``


def geometric_blinks(track: AUTrack, *, knee: float = 0.6, shut: float = 0.8, gate: float = 0.3,
                     open_quantile: float = 0.9, min_open: float = 0.1, min_frames: int = 10) -> AUTrack:
    """``track`` with each eye's AU45 = its closure, 1 - opening / open opening, where the open
    opening is the eye's ``open_quantile`` over the clip's frames with a face; past ``knee`` the
    closure rises faster, to 1 at ``shut`` (MediaPipe's lid points rarely meet in a blink; below
    the knee a lowered lid is as lowered as measured: the rig's lid openness is 1 - AU45), times
    the larger of the frame's two blink scores over ``gate`` (at most 1): the scores say whether
    the eyes close at all (a broad smile narrows them from below, which is no blink), the
    geometry how far each one does. Left as it is: a
    track without lids, with fewer than ``min_frames`` faces, or whose eyes never open to
    ``min_open`` of their width (a sleepy clip: no open reference)."""
    if track.lids is None:
        return track
    found = track.found & np.isfinite(track.lids).all(1)
    if found.sum() < min_frames:
        return track
    opened = np.quantile(track.lids[found], open_quantile, axis=0)  # (2,)
    if (opened < min_open).any():
        return track
    values = track.values.copy()
    closure = lowered_together(np.clip(1.0 - track.lids[found] / opened[None], 0.0, 1.0))
    closure = np.minimum(closure + np.maximum(closure - knee, 0.0) * (1.0 - shut) / (shut - knee), 1.0)
    # whether the eyes close at all is the blink scores' to say (a smile narrows the eyes from
    # below, which they do not read as a blink); how far each one closes, the geometry's
    scores = np.nan_to_num(values[np.ix_(found, _SIDES)]).max(1, keepdims=True)
    values[np.ix_(found, _SIDES)] = closure * np.clip(scores / gate, 0.0, 1.0)
    values[found] = sync_bilateral(values[found])
    return track.replace(values=values)


def lowered_together(closure: np.ndarray, *, gap: tuple[float, float] = (0.25, 0.5),
                     both: tuple[float, float] = (0.1, 0.3), keep: float = 0.25) -> np.ndarray:
    """(N, 2) eye closures with two lowered lids brought together: each moves to ``keep`` of its
    difference from their mean, fully where the two differ by under ``gap[0]`` (none from
    ``gap[1]``: a wink, one eye shut and the other open, stays a wink) and the more open one is
    lowered by ``both[1]`` (none under ``both[0]``: one eye alone half closing stays alone).

    A face that looks down lowers both lids about as far; with the head turned, the far eye's
    opening measures smaller (the demo's driver: 52 % and 69 % closed), and drawn as measured
    one eye shows a closed lid and its lash line beside a half-open one, a wink."""
    closure = np.asarray(closure, np.float32)
    lo, hi = closure.min(1), closure.max(1)
    together = (np.clip((gap[1] - (hi - lo)) / (gap[1] - gap[0]), 0.0, 1.0)
                * np.clip((lo - both[0]) / (both[1] - both[0]), 0.0, 1.0))
    mean = closure.mean(1, keepdims=True)
    return closure + ((1.0 - keep) * together)[:, None] * (mean - closure)
