"""The warp-guided face editor: move the photo's own pixels with the AU rig, at full resolution.

For each target row: the AU change (target - source) drives the rig (``reenact.model.rig``), or
a driver's own landmark motion is given (``motion``); the moved mesh is kept possible (lids and
lips stop at each other, no triangle folds) and brought into the photo by the source's head pose;
the photo is then warped piecewise-affinely over the mesh (``reenact.model.warp``). Where the
mouth opens beyond the source's own opening, the new gap shows a mouth cavity (dark, in the
photo's own lip colour, so a greyscale photo stays grey); a refiner network paints it better
where one is given.

Everything outside the warp's outer ring is the photo's own pixel; a request equal to the
source's own AUs (zero change) returns the photo unchanged.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np
import torch

from reenact.au import COND_NAMES, table_to_cond
from reenact.model import mesh as M
from reenact.model.editor import EditedBatch, PreparedFace, SourceFace
from reenact.model.interior import CAVITY, interior_points
from reenact.model.rig import (
    AURig,
    ConstraintConfig,
    constrain,
    lid_openness,
    set_lid_openness,
    unfold,
)
from reenact.model.warp import (
    WarpConfig,
    WarpGeometry,
    backward_field,
    build_geometry,
    sample,
    upsample_field,
)

_BLINK = [COND_NAMES.index("AU45_R"), COND_NAMES.index("AU45_L")]  # subject's right, left: EYE_SIDES


@dataclass(frozen=True)
class WarpEditorConfig:
    """Options of the warp-guided editor."""

    warp: WarpConfig = field(default_factory=WarpConfig)
    constraints: ConstraintConfig = field(default_factory=ConstraintConfig)
    cavity: bool = True  # darken the newly opened part of the mouth (without a refiner)
    cavity_darkness: float = 0.22  # cavity colour = the source's lip colour x this
    strength: float = 1.0  # scales every displacement (1 = the rig's own amplitude)


@dataclass(eq=False)
class WarpFace(PreparedFace):
    """A source prepared for warping (see ``WarpEditor.prepare``)."""

    geometry: WarpGeometry | None = None
    pose: M.FacePose | None = None
    canonical: np.ndarray | None = None  # (478, 3) source landmarks in the canonical frame
    cond: np.ndarray | None = None  # (20,) source conditioning vector
    region: torch.Tensor | None = None  # (1, 3, h, w) float32 0..255 source pixels of the box
    inside: torch.Tensor | None = None  # (1, 1, h, w) bool, inside the ring
    lip_colour: torch.Tensor | None = None  # (1, 3, 1, 1) median colour of the source's lips
    is_grey: bool = False


class WarpEditor:
    """Rig + full-resolution warp (+ an optional refiner, see ``reenact.model.refiner``).

    Args:
        rig: the fitted AU rig.
        config: warp, constraint and cavity options.
        crop_size: side of the aligned crop (the refiner's input size; 128 without one).
    """

    name = "warp"

    def __init__(self, rig: AURig, config: WarpEditorConfig = WarpEditorConfig(), *, crop_size: int = 128):
        self.rig = rig
        self.config = config
        self.mesh = M.load_face_mesh()
        self._crop_size = crop_size
        self._device = torch.device("cpu")
        self._open_triangles = self.mesh.triangles[~self.mesh.closures]

    @property
    def crop_size(self) -> int:
        return self._crop_size

    @property
    def device(self) -> torch.device:
        return self._device

    def to(self, device: str | torch.device) -> WarpEditor:
        self._device = torch.device(device)
        return self

    def prepare(self, source: SourceFace) -> WarpFace:
        landmarks = source.face.landmarks.astype(np.float64)
        geom = build_geometry(landmarks, source.image.shape[:2], self._open_triangles, self.config.warp)
        pose = self.rig.pose(landmarks)
        x0, y0, x1, y1 = geom.box
        region = torch.from_numpy(np.ascontiguousarray(source.image[y0:y1, x0:x1])).permute(2, 0, 1)[None]
        return WarpFace(
            source=source, box=geom.box, mask=geom.inside.astype(np.float32), geometry=geom, pose=pose,
            canonical=pose.to_canonical(landmarks), cond=table_to_cond(source.aus[None])[0],
            region=region.float().to(self.device),
            inside=torch.from_numpy(geom.inside)[None, None].to(self.device),
            lip_colour=_lip_colour(source.image, landmarks).to(self.device), is_grey=_is_grey(source.image))

    def target_landmarks(self, prepared: WarpFace, targets: np.ndarray, motion: np.ndarray | None = None
                         ) -> np.ndarray:
        """(B, 468, 2) destination mesh points in photo pixels for B target rows (or motions)."""
        canon = prepared.canonical[None]
        k = self.config.strength
        if motion is None:
            cond = table_to_cond(np.asarray(targets, np.float32))
            delta = cond - prepared.cond[None]
            moved = canon + k * self.rig.displacement(delta)
            delta[:, _BLINK] = 0.0
            unblinked = canon + k * self.rig.displacement(delta)
            openness = lid_openness(prepared.cond[_BLINK], cond[:, _BLINK])
            moved = set_lid_openness(moved, unblinked, openness, min_gap=self.config.constraints.lid_gap)
        else:
            moved = canon + k * motion
        moved = constrain(prepared.canonical, moved, self.config.constraints)
        src_xy = prepared.source.face.landmarks[:M.N_MESH, :2].astype(np.float64)
        dst_xy = src_xy[None] + prepared.pose.displace(moved - prepared.canonical[None])[:, :M.N_MESH]
        return unfold(src_xy, dst_xy, self.mesh.triangles, self.mesh.orientation,
                      tolerance=self.config.constraints.fold_tolerance, ignore=self.mesh.closures)

    def edit(self, prepared: WarpFace, targets: np.ndarray, *, motion: np.ndarray | None = None,
             precision: str = "fp32") -> EditedBatch:
        t0 = time.perf_counter()
        dst = self.target_landmarks(prepared, targets, motion)
        warped, tri = self.warp(prepared, dst)
        if self.config.cavity:
            warped = self.fill_cavity(prepared, warped, tri, dst)
        out = torch.where(prepared.inside, warped, prepared.region)
        regions = out.round().clamp(0, 255).to(torch.uint8).permute(0, 2, 3, 1).cpu().numpy()
        return EditedBatch(regions=regions, seconds={"warp": time.perf_counter() - t0})

    def warp(self, prepared: WarpFace, dst: np.ndarray) -> tuple[torch.Tensor, torch.Tensor]:
        """Warp the source region to B destination meshes -> ((B, 3, h, w) float 0..255, coarse
        triangle map (B, gh * gw), -1 where no triangle)."""
        geom = prepared.geometry
        offset = np.array(geom.box[:2], np.float64)
        b = len(dst)
        src_mesh = geom.vertices.astype(np.float64)
        virt_src, virt_dst = interior_points(src_mesh[:M.N_MESH], dst - offset)
        fixed = np.broadcast_to(src_mesh, (b,) + src_mesh.shape)
        src_v = np.concatenate([fixed, virt_src], 1)
        dst_v = np.concatenate([dst - offset, fixed[:, M.N_MESH:], virt_dst], 1)
        coarse, tri = backward_field(torch.from_numpy(src_v).float().to(self.device),
                                     torch.from_numpy(dst_v).float().to(self.device),
                                     torch.from_numpy(geom.triangles).to(self.device), geom.grid_size,
                                     scale=geom.step)
        full = upsample_field(coarse, geom.step, geom.size)
        return sample(prepared.region, full), tri

    def fill_cavity(self, prepared: WarpFace, warped: torch.Tensor, tri: torch.Tensor, dst: np.ndarray
                    ) -> torch.Tensor:
        """Paint the newly opened part of the mouth (the interior's CAVITY band) dark."""
        geom = prepared.geometry
        cavity_tris = torch.from_numpy(geom.labels == CAVITY).to(tri.device)
        in_cavity = (tri >= 0) & cavity_tris[tri.clamp(min=0)]  # (B, P)
        if not in_cavity.any():
            return warped
        gh, gw = geom.grid_size
        weight = upsample_field(in_cavity.float().view(-1, 1, gh, gw), geom.step, geom.size)
        weight = _soften(weight, max(0.7, 0.5 * geom.step))
        cavity = prepared.lip_colour * self.config.cavity_darkness
        return warped + weight * (cavity - warped)


def _soften(mask: torch.Tensor, sigma: float) -> torch.Tensor:
    from kornia.filters import gaussian_blur2d

    k = 2 * int(np.ceil(2.5 * sigma)) + 1
    return gaussian_blur2d(mask, (k, k), (sigma, sigma), border_type="constant")


def _lip_colour(image: np.ndarray, landmarks: np.ndarray) -> torch.Tensor:
    """(1, 3, 1, 1) median colour of the lip ring (between the outer and inner lip contours)."""
    pts = np.round(landmarks[list(M.LIPS_OUTER_UPPER + M.LIPS_OUTER_LOWER), :2]).astype(int)
    h, w = image.shape[:2]
    pts[:, 0] = pts[:, 0].clip(0, w - 1)
    pts[:, 1] = pts[:, 1].clip(0, h - 1)
    colour = np.median(image[pts[:, 1], pts[:, 0]].astype(np.float32), 0)
    return torch.from_numpy(colour).view(1, 3, 1, 1)


def _is_grey(image: np.ndarray) -> bool:
    """Whether a photo is greyscale (its channels differ by at most 2 levels almost everywhere)."""
    sub = image[:: max(1, image.shape[0] // 256), :: max(1, image.shape[1] // 256)].astype(np.int16)
    spread = sub.max(-1) - sub.min(-1)
    return bool(np.quantile(spread, 0.99) <= 2)


