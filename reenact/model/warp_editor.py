"""The warp-guided face editor: move the photo's own pixels with the AU rig, at full resolution.

For each target row: the AU change (target - source) drives the rig (``reenact.model.rig``), or
a driver's own landmark motion is given (``motion``); the moved mesh is kept possible (lids and
lips stop at each other, no triangle folds) and brought into the photo by the source's head pose;
the photo is then warped piecewise-affinely over the mesh (``reenact.model.warp``). Where the
mouth opens beyond the source's own opening, the new gap shows a mouth cavity (a colour model
measured on real mouths, from the photo's own lip colour, so a greyscale photo stays grey). With
a refiner (``reenact.model.refiner``), the GANimation generator then paints, inside the gate of
``reenact.model.refine_inputs`` only (closing lids, the cavity's rim), what a warp cannot make;
its paint is composed at full resolution over the warped photo.

Everything outside the warp's outer ring is the photo's own pixel; a request equal to the
source's own AUs (zero change) returns the photo unchanged.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field, replace

import numpy as np
import torch

from reenact.au.space import COND_NAMES, table_to_cond
from reenact.model import mesh as M
from reenact.model.closed_lips import close_lips, lip_references, mouth_closing
from reenact.model.closing_samples import lip_sampling, warp_sources
from reenact.model.editor import EditedBatch, PreparedFace, SourceFace
from reenact.model.interior import (
    CAVITY,
    cavity_cover,
    cavity_patch,
    interior_points,
    lip_colour,
    teeth_split,
)
from reenact.model.lashes import draw_lashes, lash_colours
from reenact.model.lips import lip_rings
from reenact.model.refine_inputs import (
    antialiased,
    build_masks,
    crop_grid,
    crop_inputs,
    eye_closing,
    eye_masks,
    gate_box,
    gate_boxes,
    grow_mask,
    paste_refined,
    texture_regions,
)
from reenact.model.refiner import Refiner
from reenact.model.rig import (
    AURig,
    ConstraintConfig,
    au_regions,
    constrain,
    lid_openness,
    mesh_neighbours,
    set_lid_openness,
    unfold,
)
from reenact.model.rig_gain import driving_rig
from reenact.model.warp import (
    WarpConfig,
    WarpGeometry,
    backward_field,
    build_geometry,
    fine_fields,
    remap,
    upsample2,
)

_BLINK = [COND_NAMES.index("AU45_R"), COND_NAMES.index("AU45_L")]  # subject's right, left: EYE_SIDES


@dataclass(frozen=True)
class WarpEditorConfig:
    """Options of the warp-guided editor."""

    warp: WarpConfig = field(default_factory=WarpConfig)
    constraints: ConstraintConfig = field(default_factory=ConstraintConfig)
    cavity: bool = True  # darken the newly opened part of the mouth (under the refiner's paint)
    # the cavity's colour: real mouths' dark interior, measured (``interior.cavity_colour``), or
    # (False) the source's lip colour x ``cavity_darkness`` everywhere
    cavity_shaded: bool = True
    # share of the photo's mouth interior that moves with the upper lip; None: measured per column
    # in the photo (``interior.teeth_split``: the upper teeth of a smile stay whole)
    upper_teeth: float | None = None
    cavity_darkness: float = 0.22
    cavity_full: float | None = 0.03  # the cavity is fully dark from this x the mouth's width deep
    strength: float = 1.0  # scales every displacement (1 = the rig's own amplitude)
    # the refiner may also paint the regions of rising AUs (wrinkles); off: its soft 128 px paint
    # blurred whole foreheads and cheeks (face sharpness 0.81 of the photo's, 0.93 without)
    texture_gate: bool = False
    # the refiner's paint replaces only the warp's content at the crop's resolution (the photo's
    # detail finer than the 128 px crop stays under it: ``paste_refined``'s ``keep``); around
    # closing lids it replaces the pixels outright (the open eye's detail under them must go)
    detail: bool = True
    # the refiner paints the cavity too (off: the measured cavity stays; see docs/results.md)
    refiner_cavity: bool = False
    lashes: bool = True  # draw the line of lashes where a closed eye's lids meet (``lashes``)
    closed_lips: bool = True  # closing lips show lip, not the teeth strip inside them (``closed_lips``)
    lip_edges: bool = True  # closing lips sample the photo's lips, not its teeth (``closing_samples``)


@dataclass(eq=False)
class WarpFace(PreparedFace):
    """A source prepared for warping (see ``WarpEditor.prepare``)."""

    geometry: WarpGeometry | None = None
    pose: M.FacePose | None = None
    canonical: np.ndarray | None = None  # (478, 3) source landmarks in the canonical frame
    cond: np.ndarray | None = None  # (20,) source conditioning vector
    region: torch.Tensor | None = None  # (1, 3, h, w) float32 0..255 source pixels of the box
    region_u8: np.ndarray | None = None  # (h, w, 3) uint8 the same
    region_u8x2: np.ndarray | None = None  # ``warp.upsample2(region_u8)``, what the warp samples
    inside: torch.Tensor | None = None  # (1, 1, h, w) bool, inside the ring
    lip_colour: np.ndarray | None = None  # (3,) median colour of the source's lips
    lip_reference: np.ndarray | None = None  # (2, 3) colours of the middle of its lower and upper lips
    lip_sampling: tuple | None = None  # where closing lips sample the region (``lip_sampling``)
    teeth_split: np.ndarray | float = 0.5  # the upper teeth's share of the mouth interior (``upper_teeth``)
    is_grey: bool = False
    blurred: torch.Tensor | None = None  # (1, 3, h, w) anti-aliased region for the refiner's crop
    eye_masks: torch.Tensor | None = None  # (2, gh, gw) the source's eye openings on the grid
    lash_colours: np.ndarray | None = None  # (2, 3) the source's lash colour per eye
    crop_to_region: np.ndarray | None = None  # (2, 3) refiner crop pixels -> region pixels
    grid: torch.Tensor | None = None  # (1, S, S, 2) region position of every crop pixel
    rig: AURig | None = None  # the rig a driving video moves this face by (``driven``); None: the editor's


class WarpEditor:
    """Rig + full-resolution warp (+ an optional refiner).

    Args:
        rig: the fitted AU rig.
        config: warp, constraint and cavity options.
        refiner: the refiner network, or None (warp only).
        crop_size: side of the aligned crop (the refiner's input size when there is one).
    """

    def __init__(self, rig: AURig, config: WarpEditorConfig = WarpEditorConfig(), *,
                 refiner: Refiner | None = None, crop_size: int = 128):
        self.rig = rig
        self.config = config
        # channels-last: the refiner's small convolutions run ~1.7x faster on CPU (16.6 -> 9.8 ms a
        # 128 px crop on one core); the same numbers up to rounding
        self.refiner = refiner.eval().to(memory_format=torch.channels_last) if refiner is not None else None
        self.name = "warp+refiner" if refiner is not None else "warp"
        self.mesh = M.load_face_mesh()
        self._crop_size = refiner.config.image_size if refiner is not None else crop_size
        self._device = torch.device("cpu")
        self._open_triangles = self.mesh.triangles[~self.mesh.closures]
        self._neighbours = mesh_neighbours(self.mesh.triangles, M.N_MESH, skip=self.mesh.closures)
        self._lip_rings = lip_rings(rig.mean, self._neighbours)
        self._texture = texture_regions(au_regions(rig.mean))  # (20, 478)

    @property
    def crop_size(self) -> int:
        return self._crop_size

    @property
    def device(self) -> torch.device:
        return self._device

    def to(self, device: str | torch.device) -> WarpEditor:
        self._device = torch.device(device)
        if self.refiner is not None:
            self.refiner.to(self._device)
        return self

    def prepare(self, source: SourceFace) -> WarpFace:
        landmarks, image = source.face.landmarks.astype(np.float64), source.image
        geom = build_geometry(landmarks, image.shape[:2], self._open_triangles, self.config.warp)
        pose = self.rig.pose(landmarks)
        x0, y0, x1, y1 = geom.box
        region = torch.from_numpy(np.ascontiguousarray(image[y0:y1, x0:x1])).permute(2, 0, 1)[None]
        region = region.float().to(self.device)
        crop_to_region = source.alignment.crop_to_frame - np.array([[0, 0, x0], [0, 0, y0]], np.float64)
        refs = lip_references(image, landmarks)
        return WarpFace(
            source=source, box=geom.box, mask=geom.inside.astype(np.float32), geometry=geom, pose=pose,
            canonical=pose.to_canonical(landmarks), cond=table_to_cond(source.aus[None])[0], region=region,
            region_u8=np.ascontiguousarray(image[y0:y1, x0:x1]),
            region_u8x2=upsample2(np.ascontiguousarray(image[y0:y1, x0:x1])),
            inside=torch.from_numpy(geom.inside)[None, None].to(self.device),
            lip_colour=lip_colour(image, landmarks), lip_reference=refs,
            lip_sampling=lip_sampling(image, landmarks[:, :2], refs, origin=(x0, y0)) if self.config.lip_edges
            else None,
            is_grey=_is_grey(image),
            teeth_split=(teeth_split(image, landmarks) if self.config.upper_teeth is None
                         else self.config.upper_teeth),
            blurred=antialiased(region, source.alignment.scale),
            eye_masks=eye_masks(landmarks - [x0, y0, 0], geom).to(self.device),
            lash_colours=lash_colours(image, landmarks),
            crop_to_region=crop_to_region, grid=crop_grid(crop_to_region, self.crop_size, self.device))

    def driven(self, prepared: WarpFace, gain: float) -> WarpFace:
        """``prepared`` moved by ``rig_gain.driving_rig(self.rig, gain)``: for a driving video's AUs."""
        return replace(prepared, rig=driving_rig(self.rig, gain))

    def target_landmarks(self, prepared: WarpFace, targets: np.ndarray, motion: np.ndarray | None = None
                         ) -> np.ndarray:
        """(B, 468, 2) destination mesh points in photo pixels for B target rows (or motions)."""
        canon, rig = prepared.canonical[None], prepared.rig or self.rig
        k = self.config.strength
        if motion is None:
            cond = table_to_cond(np.asarray(targets, np.float32))
            delta = cond - prepared.cond[None]
            moved = canon + k * rig.displacement(delta, cond)
            delta[:, _BLINK] = 0.0
            unblinked = canon + k * rig.displacement(delta, cond)
            openness = lid_openness(prepared.cond[_BLINK], cond[:, _BLINK])
            moved = set_lid_openness(moved, unblinked, openness, min_gap=self.config.constraints.lid_gap)
        else:
            moved = canon + k * motion
        moved = constrain(prepared.canonical, moved, self.config.constraints, rings=self._lip_rings)
        src_xy = prepared.source.face.landmarks[:M.N_MESH, :2].astype(np.float64)
        dst_xy = src_xy[None] + prepared.pose.displace(moved - prepared.canonical[None])[:, :M.N_MESH]
        return unfold(src_xy, dst_xy, self.mesh.triangles, self.mesh.orientation,
                      tolerance=self.config.constraints.fold_tolerance, ignore=self.mesh.closures,
                      neighbours=self._neighbours, down=prepared.pose.down())

    def edit(self, prepared: WarpFace, targets: np.ndarray, *, motion: np.ndarray | None = None,
             precision: str = "fp32") -> EditedBatch:
        t0 = time.perf_counter()
        targets = np.asarray(targets, np.float32)
        dst = self.target_landmarks(prepared, targets, motion)
        coarse, tri, warped = self.warp(prepared, dst)
        if self.config.cavity:
            warped = self.fill_cavity(prepared, warped, tri, dst)
        if self.config.closed_lips:
            local = dst - np.asarray(prepared.box[:2], np.float64)
            closing = mouth_closing(prepared.geometry.vertices[:M.N_MESH].astype(np.float64), local)
            warped = close_lips(warped, local, closing, prepared.lip_reference)
        seconds = {"warp": time.perf_counter() - t0}
        crops = attention = None
        if self.refiner is not None:
            t1 = time.perf_counter()
            warped, crops, attention = self.refine(prepared, targets, dst, coarse, tri, warped,
                                                   precision=precision)
            seconds["generate"] = time.perf_counter() - t1
        if self.config.lashes:
            src = prepared.source.face.landmarks[:M.N_MESH, :2].astype(np.float64)
            local = dst - np.asarray(prepared.box[:2], np.float64)
            warped = draw_lashes(warped, local, eye_closing(src, dst), prepared.lash_colours)
        return EditedBatch(regions=warped, attention=attention, crops=crops, seconds=seconds)

    def warp(self, prepared: WarpFace, dst: np.ndarray) -> tuple[torch.Tensor, torch.Tensor, np.ndarray]:
        """Warp the source region to B destination meshes -> (coarse field (B, 2, gh, gw), triangle
        map (B, gh * gw) (-1: none), warped region (B, h, w, 3) uint8)."""
        geom = prepared.geometry
        offset = np.array(geom.box[:2], np.float64)
        b = len(dst)
        src_mesh = geom.vertices.astype(np.float64)
        fixed = np.broadcast_to(src_mesh, (b,) + src_mesh.shape)
        moved, inner = warp_sources(fixed, dst - offset, prepared.lip_sampling)
        virt_src, virt_dst = interior_points(inner, dst - offset, upper=prepared.teeth_split,
                                            lips=moved[:, :M.N_MESH])
        src_v = np.concatenate([moved, virt_src], 1)
        dst_v = np.concatenate([dst - offset, fixed[:, M.N_MESH:], virt_dst], 1)
        coarse, tri = backward_field(torch.from_numpy(src_v).float(), torch.from_numpy(dst_v).float(),
                                     torch.from_numpy(geom.triangles), geom.grid_size, scale=geom.step,
                                     offset=geom.offset)
        fields = coarse.numpy()
        fine = (fine_fields(src_v, dst_v, geom, M.MOUTH_INNER, M.RIGHT_EYE, M.LEFT_EYE) if geom.step > 1
                else [[] for _ in range(b)])
        warped = np.stack([remap(prepared.region_u8, f, geom.step, geom.inside, fine[i], prepared.region_u8x2)
                           for i, f in enumerate(fields)])
        return coarse.to(self.device), tri.to(self.device), warped

    def fill_cavity(self, prepared: WarpFace, warped: np.ndarray, tri: torch.Tensor, dst: np.ndarray
                    ) -> np.ndarray:
        """Paint the newly opened part of the mouth (the interior's CAVITY band) dark (in place);
        ``dst``: (B, 468, 2) the destination meshes (photo pixels)."""
        geom = prepared.geometry
        cavity_tris = torch.from_numpy(geom.labels == CAVITY).to(tri.device)
        in_cavity = ((tri >= 0) & cavity_tris[tri.clamp(min=0)]).float()  # (B, P)
        gh, gw = geom.grid_size
        cells = in_cavity.view(-1, 1, gh, gw)
        box = gate_box(cells[:, 0], geom.step, geom.size)
        if box is None:
            return warped
        x0, y0, x1, y1 = box
        local = dst - np.asarray(geom.box[:2], np.float64)
        src = geom.vertices.astype(np.float64)
        _, inner = warp_sources(np.broadcast_to(src, (len(local),) + src.shape), local, prepared.lip_sampling)
        w = cavity_cover(inner, local, box, upper=prepared.teeth_split, full=self.config.cavity_full)
        has = np.flatnonzero(w.reshape(len(w), -1).any(1))  # the frames with a cavity to paint
        if not len(has):
            return warped
        lips = prepared.lip_colour
        if self.config.cavity_shaded:
            colour = np.stack([cavity_patch(lips, box, local[b], grey=prepared.is_grey) for b in has])
        else:
            colour = (lips * self.config.cavity_darkness).reshape(1, 1, 1, 3)
        part = warped[has, y0:y1, x0:x1].astype(np.float32)
        warped[has, y0:y1, x0:x1] = np.clip(part + w[has, ..., None] * (colour - part) + 0.5, 0, 255)
        return warped

    def masks(self, prepared: WarpFace, targets: np.ndarray, dst: np.ndarray, tri: torch.Tensor
              ) -> torch.Tensor:
        """(B, 3, gh, gw) cavity, eyes and gate of a warped batch (``refine_inputs.build_masks``)."""
        geom = prepared.geometry
        src = prepared.source.face.landmarks[:M.N_MESH, :2].astype(np.float64)
        delta = table_to_cond(targets) - prepared.cond[None]
        texture = (torch.from_numpy(np.maximum(delta, 0.0) @ self._texture).to(self.device)
                   if self.config.texture_gate else None)
        return build_masks(tri, torch.from_numpy(geom.labels).to(self.device), geom.grid_size,
                           eye_masks=prepared.eye_masks, closing=eye_closing(src, dst), texture=texture,
                           triangles=torch.from_numpy(geom.triangles).to(self.device),
                           n_mesh=len(self._open_triangles))

    def refine(self, prepared: WarpFace, targets: np.ndarray, dst: np.ndarray, coarse: torch.Tensor,
               tri: torch.Tensor, warped: torch.Tensor, *, precision: str = "fp32"):
        """The refiner's paint composed over the warped region -> (region, crops uint8, attention)."""
        geom = prepared.geometry
        masks = self.masks(prepared, targets, dst, tri)
        boxes = gate_boxes(masks[:, 2], geom.step, geom.size)
        crop, crop_masks = crop_inputs(prepared.blurred, coarse, masks, prepared.grid, step=geom.step,
                                       region_size=geom.size, offset=geom.offset)
        cond = table_to_cond(targets)
        cond_in = torch.from_numpy(np.concatenate([cond, cond - prepared.cond[None]], 1)).to(self.device)
        color, attention = self.run_refiner(crop, crop_masks, cond_in, precision=precision)
        if prepared.is_grey:  # grey in, grey out
            color = color.mean(1, keepdim=True).expand(-1, 3, -1, -1)
        weight = crop_masks[:, 2:3] * (1.0 - attention)
        if not self.config.refiner_cavity:
            weight = weight * (1.0 - crop_masks[:, 0:1])
        warped = paste_refined(warped, color, weight, prepared.crop_to_region, boxes,
                               keep=1.0 - grow_mask(crop_masks[:, 1:2], 9) if self.config.detail else None)
        composed = crop + weight * (color - crop)
        crops = ((composed.clamp(-1, 1) + 1) * 127.5).round().to(torch.uint8).permute(0, 2, 3, 1)
        return warped, crops.cpu().numpy(), attention[:, 0].cpu().numpy()


    def run_refiner(self, crop: torch.Tensor, masks: torch.Tensor, cond: torch.Tensor, *,
                    precision: str = "fp32", margin: int = 12) -> tuple[torch.Tensor, torch.Tensor]:
        """The refiner on the part of the crop its gate can reach (plus ``margin`` pixels of
        context; the network is fully convolutional), colour 0 and attention 1 elsewhere: a closed
        gate costs nothing, the mouth and the eyes a fraction of the whole crop."""
        b, _, size, _ = crop.shape
        color = torch.zeros_like(crop)
        attention = torch.ones_like(crop[:, :1])
        on = (masks[:, 2] > 1.0 / 255).any(0)
        if not on.any():
            return color, attention
        ys, xs = torch.nonzero(on, as_tuple=True)
        unit = 2 ** self.refiner.config.n_down
        y0, y1 = _span(int(ys.min()), int(ys.max()), margin, unit, size)
        x0, x1 = _span(int(xs.min()), int(xs.max()), margin, unit, size)
        with torch.inference_mode(), torch.autocast(self.device.type, dtype=torch.bfloat16,
                                                    enabled=precision == "bf16"):
            last = torch.channels_last
            c, a = self.refiner(crop[..., y0:y1, x0:x1].contiguous(memory_format=last),
                                masks[..., y0:y1, x0:x1].contiguous(memory_format=last), cond)
        color[..., y0:y1, x0:x1] = c.float()
        attention[..., y0:y1, x0:x1] = a.float()
        return color, attention


def _span(lo: int, hi: int, margin: int, unit: int, size: int) -> tuple[int, int]:
    """[lo - margin, hi + margin] widened to a multiple of ``unit`` and kept inside [0, size)."""
    start, stop = max(lo - margin, 0), min(hi + margin + 1, size)
    length = min(-(-(stop - start) // unit) * unit, size)
    start = max(min(start, size - length), 0)
    return start, start + length


def _is_grey(image: np.ndarray) -> bool:
    """Whether a photo is greyscale (its channels differ by at most 2 levels almost everywhere)."""
    sub = image[:: max(1, image.shape[0] // 256), :: max(1, image.shape[1] // 256)].astype(np.int16)
    spread = sub.max(-1) - sub.min(-1)
    return bool(np.quantile(spread, 0.99) <= 2)


