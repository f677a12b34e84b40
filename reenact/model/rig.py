"""The AU rig: an AU change -> a displacement of the 478 landmarks in the canonical face frame.

A linear blendshape rig, fitted by ``reenact.training.rig`` (``reenact fit-rig``) on same-person
pairs (talking clips, posed photo sets) with head pose regressed out::

    displacement = sum_k  max(d_k, 0) * raise_bases[k] + min(d_k, 0) * lower_bases[k]
    d = c_target - c_source                                              (478, 3), canonical units

with c the conditioning layout (``reenact.au.space.COND_NAMES``: 17 AUs, AU12/AU14/AU45 split into the
subject's left and right). ``lower_bases`` are the regression's own displacements per AU unit (what
real faces do, used to undo an expression the photo shows); ``raise_bases`` are the same scaled
per AU by a closed-loop calibration (warped faces re-measured by the AU extractor), because a
warp alone shows a muscle less clearly than a real face does (no bulging, no new teeth). The rig
also carries the mean canonical face and the weights of the rigid points used to put a face into
the canonical frame (``reenact.model.mesh.fit_pose``).

``constrain`` keeps a moved face physically possible: the upper lid stops at the lower lid, the
lips never pass through each other, and no mesh triangle turns over (folds) in the photo.

Stored as safetensors (``bases`` and ``lower_bases`` (20, 478, 3), ``mean`` (478, 3),
``rigid_weights`` (478,), float32) with the cond names, the calibration gains and the fit
statistics in the metadata (format ``reenact-rig-v1``).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from matplotlib.path import Path as PolyPath
from safetensors.numpy import save_file
from scipy import sparse
from scipy.spatial import ConvexHull

from reenact.au.space import COND_NAMES
from reenact.errors import WeightsError
from reenact.model import mesh as M
from reenact.model.files import read_weights
from reenact.model.lips import LipRings, share_lip_correction
from reenact.model.warp import triangle_areas

RIG_FORMAT = "reenact-rig-v1"
# Pairs (upper, lower) that must keep their order along y (down) in the canonical frame.
_LID_PAIRS = tuple(zip(M.RIGHT_EYE_UPPER[1:-1], M.RIGHT_EYE_LOWER[1:-1], strict=True)) + tuple(
    zip(M.LEFT_EYE_UPPER[1:-1], M.LEFT_EYE_LOWER[1:-1], strict=True))
_LIP_PAIRS = tuple(zip(M.LIPS_INNER_UPPER[1:-1], M.LIPS_INNER_LOWER[1:-1], strict=True))


@dataclass(frozen=True, eq=False)
class AURig:
    """Linear AU -> landmark rig in the canonical face frame.

    Attributes:
        bases: (20, 478, 3) float32 displacement per unit rise of each ``COND_NAMES`` value.
        mean: (478, 3) float32 mean face in the canonical frame (the pose-fit reference).
        lower_bases: (20, 478, 3) float32 displacement per unit fall; None: ``bases``.
        rigid_weights: (478,) float32 weights of the points that define head pose.
        metadata: fit statistics and provenance (strings).
    """

    bases: np.ndarray
    mean: np.ndarray
    rigid_weights: np.ndarray
    metadata: dict[str, str] = field(default_factory=dict)
    lower_bases: np.ndarray | None = None

    def pose(self, landmarks: np.ndarray) -> M.FacePose:
        """Head pose of a face: the similarity from the canonical frame to its (478, 3) landmarks."""
        return M.fit_pose(landmarks, self.mean, self.rigid_weights)

    def displacement(self, delta_cond: np.ndarray, target_cond: np.ndarray | None = None) -> np.ndarray:
        """(B, 20) change of the conditioning vector -> (B, 478, 3) canonical displacement.

        With the (B, 20) target itself, AU04 combined with AU01 gives FACS's oblique "sad" brows:
        the brow lowerer still draws the brows together and lowers their outer part, but no longer
        pulls down the inner ends the inner brow raiser lifts (linear bases would cancel there).
        """
        delta = np.asarray(delta_cond, np.float32)
        lower = self.bases if self.lower_bases is None else self.lower_bases
        rise = np.maximum(delta, 0.0)
        out = (np.einsum("bk,kvc->bvc", rise, self.bases, optimize=True)
               + np.einsum("bk,kvc->bvc", np.minimum(delta, 0.0), lower, optimize=True))
        if target_cond is not None:
            k01, k04 = COND_NAMES.index("AU01"), COND_NAMES.index("AU04")
            both = np.minimum(np.asarray(target_cond, np.float32)[:, k01], 1.0) * 0.85 * rise[:, k04]
            if (both > 0).any():
                inner = self._inner_brows()
                out[:, :, 1] -= both[:, None] * inner[None] * self.bases[k04, :, 1][None]
        return out

    def _inner_brows(self) -> np.ndarray:
        """(478,) weight of the medial brow and glabella points (1 at the middle, 0 at the outer
        brow), on the mean face."""
        x, y = self.mean[:, 0], self.mean[:, 1]
        y_eye = float(self.mean[[159, 145, 386, 374], 1].mean())
        medial = np.clip(1.0 - (np.abs(x) - 1.5) / 2.5, 0.0, 1.0)
        return (medial * (y < y_eye)).astype(np.float32)

    def save(self, path: str | Path) -> None:
        meta = {"format": RIG_FORMAT, "cond_names": json.dumps(list(COND_NAMES)), **self.metadata}
        lower = self.bases if self.lower_bases is None else self.lower_bases
        tensors = {"bases": self.bases, "lower_bases": lower, "mean": self.mean,
                   "rigid_weights": self.rigid_weights}
        save_file({k: np.ascontiguousarray(v, np.float32) for k, v in tensors.items()}, str(path),
                  metadata=meta)


def load_rig(path: str | Path) -> AURig:
    """Read a rig written by ``AURig.save``.

    Raises:
        WeightsError: missing or unreadable file, or not a reenact rig for this AU layout.
    """
    missing = f"AU rig {path} not found; run `make setup` or pass --rig PATH"
    meta, tensors = read_weights(path, missing=missing, framework="numpy")
    if meta.get("format") != RIG_FORMAT or json.loads(meta.get("cond_names", "[]")) != list(COND_NAMES):
        raise WeightsError(f"{path} is not a reenact AU rig for this AU layout "
                           f"(format={meta.get('format')!r})")
    other = {k: v for k, v in meta.items() if k not in ("format", "cond_names")}
    return AURig(bases=tensors["bases"], mean=tensors["mean"], rigid_weights=tensors["rigid_weights"],
                 metadata=other, lower_bases=tensors.get("lower_bases"))


# Nose outline (MediaPipe's FACEMESH_NOSE points): the nose moves only with AU09/AU10.
NOSE_POINTS = (168, 6, 197, 195, 5, 4, 1, 19, 94, 2, 98, 97, 326, 327, 294, 278, 344, 440, 275, 45, 220,
               115, 48, 64)


def _ramp(x: np.ndarray, zero: float, one: float) -> np.ndarray:
    """Smoothstep from 0 at ``zero`` to 1 at ``one`` (either order)."""
    t = np.clip((x - zero) / (one - zero), 0.0, 1.0)
    return t * t * (3.0 - 2.0 * t)


def au_regions(mean_face: np.ndarray) -> dict[str, np.ndarray]:
    """Where on the face each AU may move points: (478,) weights in [0, 1] per AU (FACS regions).

    The regression alone lets a blink move the nose (through the pose fit and noisy labels); an
    AU acts on its own muscles' region only. Levels are read off the mean face (canonical frame,
    y down): eye centres, nose tip, subnasale, mouth.
    """
    y = mean_face[:, 1]
    eyes = [mean_face[list(M.RIGHT_EYE)].mean(0), mean_face[list(M.LEFT_EYE)].mean(0)]
    y_eye = float(np.mean([e[1] for e in eyes]))
    y_tip, y_sub, y_mouth = float(y[1]), float(y[2]), float(mean_face[[13, 14], 1].mean())
    eye_width = float(np.linalg.norm(mean_face[33, :2] - mean_face[133, :2]))
    hull = mean_face[list(NOSE_POINTS), :2]

    hull = hull[ConvexHull(hull).vertices]
    inside = PolyPath(hull).contains_points(mean_face[:, :2])
    dist = np.min(np.linalg.norm(mean_face[:, None, :2] - hull[None], axis=-1), 1)
    nose = np.where(inside, 1.0, 1.0 - _ramp(dist, 0.0, 0.5))
    eye_d = np.min([np.linalg.norm(mean_face[:, :2] - e[:2], axis=-1) for e in eyes], 0)
    brows = (1.0 - _ramp(y, y_eye + 0.3, y_eye + 1.8)) * (1 - nose)
    lids = (1.0 - _ramp(eye_d, 0.75 * eye_width, 1.15 * eye_width)) * (1 - nose)
    cheeks = _ramp(y, y_eye - 0.2, y_eye + 0.8) * (1.0 - _ramp(y, y_mouth, y_mouth + 1.5)) * (1 - nose)
    upper_lip = _ramp(y, y_tip - 0.6, y_tip + 0.2) * (1.0 - _ramp(y, y_mouth + 0.5, y_mouth + 1.5))
    mouth = _ramp(y, y_sub - 0.3, y_sub + 0.4) * (1 - nose)
    jaw = _ramp(y, y_mouth - 0.6, y_mouth + 0.2)  # the jaw moves the lower lip and chin, not the upper lip
    smile = _ramp(y, y_eye + 0.6, y_eye + 1.6) * (1 - nose)
    return {"AU01": brows, "AU02": brows, "AU04": brows, "AU05": lids, "AU06": cheeks, "AU07": lids,
            "AU09": upper_lip, "AU10": upper_lip, "AU12": smile, "AU14": smile, "AU15": mouth,
            "AU17": jaw, "AU20": mouth, "AU23": mouth, "AU25": mouth, "AU26": jaw, "AU45": lids}


@dataclass(frozen=True)
class ConstraintConfig:
    """How far a moved face may go."""

    lid_gap: float = 0.04  # smallest upper-to-lower lid distance, canonical units (~0.6 % of IOD)
    lip_gap: float = 0.04  # smallest inner-lip distance
    fold_tolerance: float = 0.0  # pixels a mesh triangle may tip over (0: every one keeps its winding)
    # how much of a stopped inner-lip point's correction the lip points 1, 2, 3 rings away share
    lip_rings: tuple[float, ...] = (1.0, 1.0, 0.5)


def constrain(source: np.ndarray, target: np.ndarray, config: ConstraintConfig = ConstraintConfig(),
              *, rings: LipRings | None = None) -> np.ndarray:
    """Keep moved faces possible: lids and lips stop at each other, in the canonical frame.

    Args:
        source: (478, 3) the source face in the canonical frame.
        target: (B, 478, 3) moved faces in the canonical frame.

    Returns:
        (B, 478, 3) target with each upper lid point at least ``lid_gap`` above its lower
        partner (y down; the upper lid is the one that stops) and each upper inner-lip point
        ``lip_gap`` above its lower partner (both give way); where the source is already closed
        tighter than that (or crossed), its own gap is the limit. With ``rings``, the lip points around a
        stopped inner-lip point move with it (``lip_rings`` of its correction): a rig that closes a
        mouth past its lips' meeting point moves the whole lip back, instead of only its inner
        edge, which turned the lip's thin inner triangles over (the fold removal then re-opened
        the mouth, unevenly).
    """
    out = np.array(target, np.float64, copy=True)
    # a closing lid is the upper one coming down: it stops, the lower lid stays; lips share it
    for pairs, gap, upper_share, shared in ((_LID_PAIRS, config.lid_gap, 1.0, None),
                                            (_LIP_PAIRS, config.lip_gap, 0.5, rings)):
        up, lo = np.array([p[0] for p in pairs]), np.array([p[1] for p in pairs])
        src_gap = source[lo, 1] - source[up, 1]
        least = np.minimum(gap, src_gap)  # a photo closed tighter (or crossed) limits itself
        excess = np.maximum((out[:, up, 1] + least) - out[:, lo, 1], 0.0)  # > 0: upper passed lower
        correction = np.zeros(out.shape[:2])
        correction[:, up] = -excess * upper_share
        correction[:, lo] = excess * (1.0 - upper_share)
        if shared is not None:
            correction = share_lip_correction(correction, shared, config.lip_rings)
        out[..., 1] += correction
    return out


EYE_SIDES = ((M.RIGHT_EYE_UPPER, M.RIGHT_EYE_LOWER), (M.LEFT_EYE_UPPER, M.LEFT_EYE_LOWER))  # subject R, L


def lid_openness(source_blink: np.ndarray, target_blink: np.ndarray) -> np.ndarray:
    """(B, 2) wanted lid gap relative to the gap without blinking, per eye (subject's right,
    left), from the source's (2,) and the targets' (B, 2) AU45 values: (1 - target) / (1 - source),
    at most 1.5 (an eye closed in the photo can only be stretched open)."""
    return np.clip((1.0 - target_blink) / np.maximum(1.0 - source_blink, 1e-3), 0.0, 1.5)


def set_lid_openness(moved: np.ndarray, unblinked: np.ndarray, openness: np.ndarray, *,
                     min_gap: float = 0.04, across: bool = True) -> np.ndarray:
    """Put each upper-lid contour point at ``openness`` x its gap to the lower lid.

    A linear basis cannot close an eye exactly (eyes differ in size); the lid gap is set here
    instead. Args: moved (B, 478, 3) the rigged faces; unblinked (B, 478, 3) the same without the
    AU45 change (its lid gap is the one scaled); openness (B, 2) from ``lid_openness``.
    ``across``: the upper lid also closes across and in depth by that fraction: a closed eye is a
    line in any head pose (height alone left a turned head's winks 0.78 closed in the photo).
    """
    out = np.array(moved, np.float64, copy=True)
    for side, (upper, lower) in enumerate(EYE_SIDES):
        up, lo = list(upper[1:-1]), list(lower[1:-1])
        offset = unblinked[:, lo] - unblinked[:, up]  # (B, 7, 3) upper -> lower lid
        gap = np.maximum(offset[..., 1], 0.0)  # (B, 7)
        want = np.maximum(openness[:, side:side + 1] * gap, np.minimum(min_gap, gap))
        out[:, up, 1] = out[:, lo, 1] - want
        if across:  # a closing lid also meets its partner across and in depth, not only in height
            closed = 1.0 - np.clip(want / np.maximum(gap, 1e-9), 0.0, 1.0)  # (B, 7) 0: not closing
            for axis in (0, 2):
                out[:, up, axis] += closed * (out[:, lo, axis] - out[:, up, axis])
    return out


def mesh_neighbours(triangles: np.ndarray, n_vertices: int, *, skip: np.ndarray | None = None):
    """Row-normalised (V, V) sparse matrix averaging each vertex's mesh neighbours.

    ``skip`` (M,) bool leaves out triangles (the eye and mouth closures), so that the upper and
    lower lids and lips are not neighbours across the gap.
    """
    tris = triangles if skip is None else triangles[~skip]
    i = np.concatenate([tris[:, 0], tris[:, 1], tris[:, 2], tris[:, 1], tris[:, 2], tris[:, 0]])
    j = np.concatenate([tris[:, 1], tris[:, 2], tris[:, 0], tris[:, 0], tris[:, 1], tris[:, 2]])
    adj = sparse.coo_matrix((np.ones(len(i)), (i, j)), shape=(n_vertices, n_vertices)).tocsr()
    adj.data[:] = 1.0
    deg = np.asarray(adj.sum(1)).ravel()
    return sparse.diags(1.0 / np.maximum(deg, 1.0)) @ adj


def folded(source_xy: np.ndarray, target_xy: np.ndarray, triangles: np.ndarray, orientation: np.ndarray, *,
           tolerance: float = 0.0, ignore: np.ndarray | None = None) -> np.ndarray:
    """(B, M) bool: triangles that the move turns over, with respect to their frontal winding
    ``orientation`` (``FaceMesh``): its signed height over its longest edge (2 x area / edge)
    falls to ``-tolerance`` pixels or below (0: any loss of positive area). Only triangles seen
    the right way round in the source count (one the tracker already folded, e.g. at a smiling
    mouth's corner, may unfold), and never those in ``ignore`` (the eye and mouth closures,
    which the lid and lip constraints handle).
    """
    src = np.asarray(source_xy, np.float64)
    check = triangle_areas(src, triangles) * orientation > 0  # (M,)
    if ignore is not None:
        check &= ~ignore
    dst = np.asarray(target_xy, np.float64)
    p = dst[..., triangles, :]  # (B, M, 3, 2)
    edge = np.linalg.norm(p[..., [1, 2, 0], :] - p, axis=-1).max(-1)  # (B, M)
    height = 2.0 * triangle_areas(dst, triangles) * orientation / np.maximum(edge, 1e-9)
    return check & (height <= -tolerance)


def unfold(source_xy: np.ndarray, target_xy: np.ndarray, triangles: np.ndarray, orientation: np.ndarray,
           *, tolerance: float = 0.0, ignore: np.ndarray | None = None, iterations: int = 40,
           neighbours=None, down: np.ndarray | None = None) -> np.ndarray:
    """Remove folds from moved meshes: locally first, by region next, globally as a last resort.

    1. Each folded triangle's vertices are pulled halfway to the triangle's mean displacement (a
       translated triangle keeps its source area and winding), while any triangle folds.
    2. Where two motions still collide (brows coming down onto a lid that is raised), the motion
       of that neighbourhood only is scaled down step by step (a per-vertex factor, smoothed over
       the mesh ``neighbours`` so that there is no seam), until nothing folds.
    3. Whatever still folds is fixed by scaling that face's whole displacement (``fold_free_scale``).

    Step 2 also undoes what the first step's pulls can do to lids and lips: with ``down`` (2,),
    the face's downward axis in the photo, a lid or inner-lip point that ends more than
    ``CROSSING`` pixels below its lower partner (or than the photo's own crossing) is scaled back
    with its partner.

    Args:
        source_xy: (V, 2). target_xy: (B, V, 2). neighbours: ``mesh_neighbours`` (V, V) or None.

    Returns:
        (B, V, 2) fold-free targets.
    """
    def bad_of(disp):
        return folded(source_xy, source_xy[None] + disp, triangles, orientation, tolerance=tolerance,
                      ignore=ignore)

    disp = np.array(target_xy, np.float64) - source_xy[None]
    active = np.arange(len(disp))  # frames that still fold (one that does not is left as it is)
    for _ in range(iterations):
        bad_active = bad_of(disp[active])
        still = bad_active.any(1)
        if not still.any():
            break
        active, bad_active = active[still], bad_active[still]
        rows, tri = np.nonzero(bad_active)
        frame = active[rows]
        verts = triangles[tri]  # (K, 3)
        mean = disp[frame[:, None], verts].mean(1)  # (K, 2)
        pull = np.zeros_like(disp)
        count = np.zeros(disp.shape[:2])
        np.add.at(pull, (np.repeat(frame, 3), verts.ravel()), np.repeat(mean, 3, axis=0))
        np.add.at(count, (np.repeat(frame, 3), verts.ravel()), 1.0)
        hit = count > 0
        disp[hit] = 0.5 * disp[hit] + 0.5 * pull[hit] / count[hit][:, None]
    if neighbours is not None:
        disp = _scale_locally(disp, bad_of, triangles, neighbours, down=down, source_xy=source_xy)
    target = source_xy[None] + disp
    scale = fold_free_scale(source_xy, target, triangles, orientation, tolerance=tolerance, ignore=ignore)
    return source_xy[None] + scale[:, None, None] * disp


CROSSING = 0.25  # pixels an upper lid or lip point may end below its partner (``unfold``)
_ORDER = np.array(_LID_PAIRS + _LIP_PAIRS).T  # (2, P) upper, lower


def _scale_locally(disp: np.ndarray, bad_of, triangles: np.ndarray, neighbours, *, steps: int = 24,
                   down: np.ndarray | None = None, source_xy: np.ndarray | None = None) -> np.ndarray:
    """Scale the displacement down around the triangles that still fold, and around the lid and
    lip pairs that cross (with ``down``; see ``unfold``)."""
    if down is not None:  # a photo's own crossing (the tracker's) is its limit
        own = np.minimum((source_xy[_ORDER[1]] - source_xy[_ORDER[0]]) @ down, 0.0)

    def bad_points(moved):  # (B, V) bool
        out = np.zeros(moved.shape[:2], bool)
        rows, tri = np.nonzero(bad_of(moved))
        out[rows[:, None], triangles[tri]] = True
        if down is not None:
            at = source_xy[None] + moved
            crossed = (at[:, _ORDER[1]] - at[:, _ORDER[0]]) @ down < own - CROSSING  # (B, P)
            out[:, _ORDER[0]] |= crossed
            out[:, _ORDER[1]] |= crossed
        return out

    factor = np.ones(disp.shape[:2])
    base = disp.copy()
    active = np.arange(len(disp))  # frames that still fold
    for _ in range(steps):
        bad = bad_points(base[active] * factor[active, :, None])
        still = bad.any(1)
        if not still.any():
            break
        active, bad = active[still], bad[still]
        for b, bad_b in zip(active, bad, strict=True):
            factor[b, bad_b] *= 0.8
            factor[b] = np.minimum(factor[b], 0.5 * factor[b] + 0.5 * (neighbours @ factor[b]))
    return base * factor[..., None]


def fold_free_scale(source_xy: np.ndarray, target_xy: np.ndarray, triangles: np.ndarray,
                    orientation: np.ndarray, *, tolerance: float = 0.0, ignore: np.ndarray | None = None,
                    steps: int = 8) -> np.ndarray:
    """Largest t in [0, 1] per face such that ``source + t * (target - source)`` folds no triangle.

    "Folds" as in ``folded``.

    Args:
        source_xy: (V, 2) source points (photo pixels). target_xy: (B, V, 2).
        triangles: (M, 3). orientation: (M,) frontal winding. ignore: (M,) bool or None.

    Returns:
        (B,) float64 scale factors (1.0 where nothing folds).
    """
    def ok(t: np.ndarray) -> np.ndarray:
        pts = source_xy[None] + t[:, None, None] * (target_xy - source_xy[None])
        return ~folded(source_xy, pts, triangles, orientation, tolerance=tolerance, ignore=ignore).any(1)

    b = len(target_xy)
    full = ok(np.ones(b))
    if full.all():
        return np.ones(b)
    lo, hi = np.zeros(b), np.ones(b)
    for _ in range(steps):
        mid = 0.5 * (lo + hi)
        good = ok(mid)
        lo = np.where(good, mid, lo)
        hi = np.where(good, hi, mid)
    return np.where(full, 1.0, lo)
