"""The rig at the scale a driving video's AUs call for.

``reenact fit-rig`` scales each fitted basis by a closed-loop calibration gain (1.4-3.0, in the rig
file's metadata): the gain at which MediaPipe reads a unit request back (0.75) on a warped
neutral face, which shows the new geometry without the muscle's texture. That is right for a
scripted request ("AU04 at 1"), which should read as asked. A driving video's AUs are
MediaPipe's readings of a real face, though, and the regression's own basis (gain 1) is what
the fit's real faces moved per unit of those readings: at the full gain a driven face moves up
to 3x further than the driver did. Measured on the held-out talking clips (docs/results.md), the
gain's square root (``share`` 0.5) beats both ends on the face's L1 / PSNR / SSIM, on the AU
reading of the output and on identity.

The blink (AU45) keeps its full gain: how far a lid closes is set from the AU value itself
(``rig.set_lid_openness``), and a driver's blink must still close the eye.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from reenact.au.space import COND_NAMES
from reenact.model.rig import AURig

#: AUs that keep their whole calibration gain when driven.
FULL_GAIN = ("AU45_L", "AU45_R")
#: The calibration scales a lowering basis by the same gain, up to this (``reenact fit-rig``).
FALL_GAIN_CAP = 1.5


def calibration_gains(rig: AURig) -> np.ndarray | None:
    """(20,) the calibration gain of each basis (``COND_NAMES`` order), None if the file has none."""
    text = rig.metadata.get("gains")
    if not text:
        return None
    gains = np.array([float(g) for g in text.split(",")], np.float32)
    return gains if gains.shape == (len(COND_NAMES),) and (gains > 0).all() else None


def driving_rig(rig: AURig, share: float) -> AURig:
    """``rig`` with ``share`` (in [0, 1]) of each basis's calibration gain, as a power: every basis
    divided by gain ** (1 - share) (a lowering basis by min(gain, 1.5) ** (1 - share)); the
    blink's kept whole. ``share`` 1, or a rig without gains, returns ``rig`` itself."""
    gains = calibration_gains(rig)
    if share >= 1.0 or gains is None:
        return rig
    gains = gains.copy()
    gains[[COND_NAMES.index(n) for n in FULL_GAIN]] = 1.0
    rise = gains ** (share - 1.0)
    fall = np.minimum(gains, FALL_GAIN_CAP) ** (share - 1.0)
    lower = rig.bases if rig.lower_bases is None else rig.lower_bases
    return replace(rig, bases=rig.bases * rise[:, None, None], lower_bases=lower * fall[:, None, None])
