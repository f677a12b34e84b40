"""The face mesh: MediaPipe's 478-point topology, its canonical face and a pose-free face frame.

The canonical face model ships inside MediaPipe's ``face_landmarker.task`` bundle (the file that
tracking already uses; Apache-2.0): ``geometry_pipeline_metadata_landmarks.binarypb`` holds 468
vertices and 898 triangles (the open mesh plus 46 triangles that close the eyes and the mouth).
It is read once from the bundle (a few lines of protobuf wire format, no protobuf schema needed).

Canonical face frame (pose-free): x to the image's right, y down, z away from the camera, units of
the canonical model (centimetres, inter-ocular ~6.3). A face's landmarks (pixels x, y and
MediaPipe's z, scaled like x) are mapped into it by the weighted similarity (rotation, scale,
translation) that fits its rigid points onto the canonical face (``fit_pose``); a displacement in
the canonical frame is brought back into the photo by ``FacePose.displace``.
"""

from __future__ import annotations

import functools
import struct
import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from reenact.errors import WeightsError
from reenact.weights import fetch

N_MESH = 468  # mesh vertices (the 10 iris points 468..477 are not part of the triangulation)
N_LANDMARKS = 478

# Contours in the 478-point topology (subject's right eye = image left). Upper and lower lists run
# from one corner to the other in the same order, so that upper[i] sits above lower[i].
RIGHT_EYE_UPPER = (33, 246, 161, 160, 159, 158, 157, 173, 133)
RIGHT_EYE_LOWER = (33, 7, 163, 144, 145, 153, 154, 155, 133)
LEFT_EYE_UPPER = (362, 398, 384, 385, 386, 387, 388, 466, 263)
LEFT_EYE_LOWER = (362, 382, 381, 380, 374, 373, 390, 249, 263)
LIPS_INNER_UPPER = (78, 191, 80, 81, 82, 13, 312, 311, 310, 415, 308)
LIPS_INNER_LOWER = (78, 95, 88, 178, 87, 14, 317, 402, 318, 324, 308)
LIPS_OUTER_UPPER = (61, 185, 40, 39, 37, 0, 267, 269, 270, 409, 291)
LIPS_OUTER_LOWER = (61, 146, 91, 181, 84, 17, 314, 405, 321, 375, 291)
RIGHT_BROW = (70, 63, 105, 66, 107, 55, 65, 52, 53, 46)
LEFT_BROW = (300, 293, 334, 296, 336, 285, 295, 282, 283, 276)
RIGHT_IRIS = (468, 469, 470, 471, 472)
LEFT_IRIS = (473, 474, 475, 476, 477)


def closed_polygon(upper: tuple[int, ...], lower: tuple[int, ...]) -> tuple[int, ...]:
    """A closed contour from an upper and a lower run that share their end points."""
    return tuple(upper) + tuple(reversed(lower[1:-1]))


MOUTH_INNER = closed_polygon(LIPS_INNER_UPPER, LIPS_INNER_LOWER)
MOUTH_OUTER = closed_polygon(LIPS_OUTER_UPPER, LIPS_OUTER_LOWER)
RIGHT_EYE = closed_polygon(RIGHT_EYE_UPPER, RIGHT_EYE_LOWER)
LEFT_EYE = closed_polygon(LEFT_EYE_UPPER, LEFT_EYE_LOWER)


@dataclass(frozen=True, eq=False)
class FaceMesh:
    """Topology and canonical shape of the face mesh.

    Attributes:
        triangles: (898, 3) int64 vertex indices into the first 468 landmarks.
        canonical: (468, 3) float64 canonical face in the pose-free frame (x right, y down, z away).
        mirror: (478,) int64: index of each landmark's mirror partner (left <-> right).
        closures: (898,) bool: triangles that close an eye or the mouth (inside a contour).
        orientation: (898,) float64 +1/-1: each triangle's winding in a frontal view (image axes);
            a triangle seen the other way round in a photo is folded (or seen from behind).
    """

    triangles: np.ndarray
    canonical: np.ndarray
    mirror: np.ndarray
    closures: np.ndarray
    orientation: np.ndarray


def _varint(buf: bytes, i: int) -> tuple[int, int]:
    value, shift = 0, 0
    while True:
        byte = buf[i]
        i += 1
        value |= (byte & 0x7F) << shift
        shift += 7
        if byte < 0x80:
            return value, i


def _fields(buf: bytes) -> list[tuple[int, int, int | bytes]]:
    """(field number, wire type, value) of a protobuf message (varint, fixed32/64, bytes)."""
    out, i = [], 0
    while i < len(buf):
        key, i = _varint(buf, i)
        number, wire = key >> 3, key & 7
        if wire == 0:
            value, i = _varint(buf, i)
        elif wire == 1:
            value, i = buf[i:i + 8], i + 8
        elif wire == 5:
            value, i = buf[i:i + 4], i + 4
        elif wire == 2:
            length, i = _varint(buf, i)
            value, i = buf[i:i + length], i + length
        else:
            raise WeightsError(f"unexpected protobuf wire type {wire} in the face geometry metadata")
        out.append((number, wire, value))
    return out


def read_canonical_model(bundle: str | Path) -> tuple[np.ndarray, np.ndarray]:
    """(vertices (468, 5) x y z u v, triangles (898, 3)) of the canonical face in a bundle.

    Raises:
        WeightsError: the bundle has no readable face geometry metadata.
    """
    try:
        with zipfile.ZipFile(bundle) as z:
            buf = z.read("geometry_pipeline_metadata_landmarks.binarypb")
    except (OSError, KeyError, zipfile.BadZipFile) as exc:
        raise WeightsError(f"{bundle} holds no face geometry metadata ({exc}); run `make setup`") from exc
    mesh = next(v for n, w, v in _fields(buf) if n == 1 and w == 2)  # canonical_mesh
    fields = _fields(mesh)
    floats = [v for n, w, v in fields if n == 3]
    if floats and isinstance(floats[0], bytes) and len(floats) == 1:  # packed
        vertices = np.frombuffer(floats[0], "<f4")
    else:
        vertices = np.array([struct.unpack("<f", v)[0] for v in floats], np.float32)
    indices = np.array([v for n, w, v in fields if n == 4 and w == 0], np.int64)
    return vertices.reshape(-1, 5).astype(np.float64), indices.reshape(-1, 3)


def _mirror_permutation(points: np.ndarray) -> np.ndarray:
    """Index of the nearest point to each point's mirror image (x -> -x about the mid-plane)."""
    centre = np.median(points[:, 0])
    flipped = points.copy()
    flipped[:, 0] = 2 * centre - flipped[:, 0]
    d = ((flipped[:, None, :] - points[None, :, :]) ** 2).sum(-1)
    return d.argmin(1)


@functools.lru_cache(maxsize=1)
def load_face_mesh(bundle: str | None = None) -> FaceMesh:
    """The face mesh from MediaPipe's bundle (default: the registered ``face_landmarker``)."""
    if bundle is None:
        bundle = str(fetch("face_landmarker", quiet=True))
    vertices, triangles = read_canonical_model(bundle)
    canonical = vertices[:, :3] * np.array([1.0, -1.0, -1.0])  # model y up, z towards the viewer
    mirror = np.arange(N_LANDMARKS)
    mirror[:N_MESH] = _mirror_permutation(canonical)
    mirror[list(RIGHT_IRIS)], mirror[list(LEFT_IRIS)] = _iris_mirror()
    inside = set(MOUTH_INNER) | set(RIGHT_EYE) | set(LEFT_EYE)
    closures = np.array([all(v in inside for v in t) and _same_contour(t) for t in triangles])
    p = canonical[triangles][..., :2]  # (M, 3, 2)
    e1, e2 = p[:, 1] - p[:, 0], p[:, 2] - p[:, 0]
    orientation = np.sign(e1[:, 0] * e2[:, 1] - e1[:, 1] * e2[:, 0])
    return FaceMesh(triangles=triangles, canonical=canonical, mirror=mirror, closures=closures,
                    orientation=orientation)


def _iris_mirror() -> tuple[list[int], list[int]]:
    # centre <-> centre; MediaPipe orders each iris ring right, top, left, bottom in the image,
    # so the horizontal neighbours swap under a mirror and the vertical ones stay.
    r, left = RIGHT_IRIS, LEFT_IRIS
    return [left[0], left[3], left[2], left[1], left[4]], [r[0], r[3], r[2], r[1], r[4]]


def _same_contour(tri: np.ndarray) -> bool:
    return any(all(v in c for v in tri) for c in (MOUTH_INNER, RIGHT_EYE, LEFT_EYE))


# ------------------------------------------------------------------------------------- pose


@dataclass(frozen=True)
class FacePose:
    """Similarity from the canonical face frame to a face's landmark space.

    ``landmarks ~= scale * canonical @ rotation.T + translation`` (pixels x, y; MediaPipe z).

    Attributes:
        rotation: (3, 3) float64 rotation matrix.
        scale: pixels per canonical unit.
        translation: (3,) float64.
    """

    rotation: np.ndarray
    scale: float
    translation: np.ndarray

    def to_canonical(self, landmarks: np.ndarray) -> np.ndarray:
        """(..., 478, 3) landmarks -> the same points in the canonical frame."""
        return (np.asarray(landmarks, np.float64) - self.translation) @ self.rotation / self.scale

    def from_canonical(self, points: np.ndarray) -> np.ndarray:
        """(..., N, 3) canonical points -> landmark space (pixels x, y; z)."""
        return self.scale * np.asarray(points, np.float64) @ self.rotation.T + self.translation

    def down(self) -> np.ndarray:
        """(2,) unit vector: the face's downward axis (canonical y) in the photo."""
        axis = self.rotation[:2, 1]
        return axis / max(float(np.linalg.norm(axis)), 1e-12)

    def displace(self, displacement: np.ndarray) -> np.ndarray:
        """(..., N, 3) canonical displacements -> (..., N, 2) pixel displacements in the photo."""
        return (self.scale * np.asarray(displacement, np.float64) @ self.rotation.T)[..., :2]


def fit_pose(landmarks: np.ndarray, reference: np.ndarray, weights: np.ndarray) -> FacePose:
    """Weighted least-squares similarity (Umeyama) mapping ``reference`` onto ``landmarks``.

    Args:
        landmarks: (478, 3) or (468, 3) observed points.
        reference: (N, 3) canonical points, N <= len(landmarks) (the first N are used).
        weights: (N,) non-negative weights (the rigid points of the face).
    """
    n = len(reference)
    dst = np.asarray(landmarks, np.float64)[:n]
    src = np.asarray(reference, np.float64)
    w = np.asarray(weights, np.float64)[:n]
    w = w / w.sum()
    mu_s, mu_d = w @ src, w @ dst
    s0, d0 = src - mu_s, dst - mu_d
    cov = (d0 * w[:, None]).T @ s0
    u, sig, vt = np.linalg.svd(cov)
    fix = np.eye(3)
    if np.linalg.det(u) * np.linalg.det(vt) < 0:
        fix[2, 2] = -1.0
    rot = u @ fix @ vt
    var_s = (w * (s0 ** 2).sum(1)).sum()
    scale = float((sig * np.diag(fix)).sum() / max(var_s, 1e-12))
    return FacePose(rotation=rot, scale=scale, translation=mu_d - scale * rot @ mu_s)
