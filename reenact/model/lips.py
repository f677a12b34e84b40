"""Lips that stop at each other move as a whole: the lip points around a stopped inner-lip point.

``reenact.model.rig.constrain`` stops the inner lips of a mouth that a rig closes too far; the
correction of each stopped point is shared by the lip points up to a few mesh rings around it, on
its own lip only (the upper lip gives way upwards, the lower lip downwards).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from reenact.model import mesh as M


@dataclass(frozen=True)
class LipRings:
    """Which points move with a stopped inner lip (``lip_rings``): the open mesh's neighbours
    (V, D) (padded with the point itself), the inner-lip points that ``constrain`` stops (the
    corners are not), and, on the mean face, the points above the mouth line (the upper lip's
    side) and below it; the corners belong to neither."""

    neighbours: np.ndarray
    stopped: np.ndarray
    upper: np.ndarray
    lower: np.ndarray


def lip_rings(mean_face: np.ndarray, neighbours) -> LipRings:
    """``LipRings`` of a mean face (478, 3), given the open mesh's neighbours
    (``reenact.model.rig.mesh_neighbours``: sparse, its first rows the mesh points)."""
    n = len(mean_face)
    adjacency = neighbours.tocsr()
    rows = [adjacency.indices[adjacency.indptr[v]:adjacency.indptr[v + 1]].tolist()
            if v < adjacency.shape[0] else [] for v in range(n)]
    width = max(len(r) for r in rows)
    padded = np.array([r + [v] * (width - len(r)) for v, r in enumerate(rows)])
    mid = (mean_face[list(M.LIPS_INNER_UPPER), :2] + mean_face[list(M.LIPS_INNER_LOWER), :2]) / 2
    order = np.argsort(mid[:, 0])
    line = np.interp(mean_face[:, 0], mid[order, 0], mid[order, 1])
    corners = np.zeros(n, bool)
    corners[[M.LIPS_INNER_UPPER[0], M.LIPS_INNER_UPPER[-1]]] = True
    upper, lower = mean_face[:, 1] < line, mean_face[:, 1] > line
    upper[list(M.LIPS_INNER_UPPER)], lower[list(M.LIPS_INNER_LOWER)] = True, True
    upper[list(M.LIPS_INNER_LOWER)], lower[list(M.LIPS_INNER_UPPER)] = False, False
    stopped = np.zeros(n, bool)
    stopped[list(M.LIPS_INNER_UPPER + M.LIPS_INNER_LOWER)] = True
    return LipRings(neighbours=padded, stopped=stopped & ~corners, upper=upper & ~corners,
                    lower=lower & ~corners)


def share_lip_correction(correction: np.ndarray, rings: LipRings, weights) -> np.ndarray:
    """(B, V) y corrections of the stopped points -> the same plus their share on each lip's
    points ``len(weights)`` rings around (the largest share a point is offered)."""
    out = correction.copy()
    for sign, side in ((-1.0, rings.upper), (1.0, rings.lower)):  # the upper lip gives way upwards
        ring = np.maximum(sign * correction, 0.0) * side
        best = np.zeros_like(ring)
        previous = 1.0
        for w in weights:
            ring = ring[:, rings.neighbours].max(-1) * (w / previous) * side
            best = np.maximum(best, ring)
            previous = w
        out += np.where(rings.stopped, 0.0, sign * best)
    return out
