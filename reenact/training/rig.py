"""Fitting the AU rig (``reenact.model.rig``) on measured landmarks (``reenact fit-rig``).

1. Canonical frame: every face is put into the pose-free frame by a similarity fitted on its
   rigid points (forehead, nose bridge, eye corners, temples: ``RIGID_POINTS``) onto the
   canonical face, then onto the data's median face.
2. Same-person pairs: each clip frame against the clip's rest face (the median of its calmest
   frames), each posed photo against its performer's neutral photos; unrelated photos against
   the mean face with a lower weight (their identity differences are noise to the rig).
3. Weighted ridge regression of the landmark displacement on the change of the conditioning
   vector (``COND_NAMES``) with the head-pose change (and its squares) as covariates, so that
   turning the head is not learnt as an expression; every pair is also used mirrored (left and
   right swapped), which makes the rig symmetric.

Held-out groups are excluded from the fit and scored (R^2 of the displacement).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from reenact.au.space import COND_FLIP, COND_NAMES, table_to_cond
from reenact.model.mesh import N_MESH, FaceMesh, fit_pose, load_face_mesh
from reenact.model.rig import AURig, au_regions, mesh_neighbours
from reenact.training.landmarks import LandmarkSet

# Rigid points for the pose fit: MediaPipe's own Procrustes points (geometry_pipeline_metadata)
# without those on the jaw and the cheeks, which move with the mouth, plus the nose bridge.
RIGID_POINTS = (4, 6, 10, 33, 54, 67, 117, 119, 121, 127, 129, 133, 143, 168, 195, 197, 198, 263, 284,
                297, 346, 348, 350, 356, 358, 362, 372, 420)


@dataclass(frozen=True)
class RigFitConfig:
    """Options of the rig fit."""

    rest_fraction: float = 0.1  # a clip's rest face: median of its calmest frames (this fraction)
    photo_weight: float = 0.25  # weight of unrelated photos (vs same-person pairs, 1)
    ridge: float = 1e-3  # ridge penalty on the AU coefficients (relative to the data's scale)
    rigid_iterations: int = 2  # re-fits of the pose reference to the data's median face
    smooth_iterations: int = 2  # Laplacian smoothing steps of each basis over the mesh (denoising)


@dataclass(frozen=True)
class RigFitReport:
    """How well the rig explains the data."""

    n_pairs: int  # same-person pairs (clips + posed sets), before mirroring
    n_photos: int  # unrelated photos
    r2_train: float  # R^2 of the displacement on the fitted pairs
    r2_held_out: float  # R^2 on the held-out groups' pairs (nan without any)
    n_held_out: int


def canonicalize(data: LandmarkSet, reference: np.ndarray, weights: np.ndarray
                 ) -> tuple[np.ndarray, np.ndarray]:
    """(N, 478, 3) canonical landmarks and (N,) pose scale of every row."""
    out = np.empty(data.landmarks.shape, np.float64)
    scale = np.empty(len(data))
    for i, lm in enumerate(data.landmarks):
        pose = fit_pose(lm, reference, weights)
        out[i] = pose.to_canonical(lm)
        scale[i] = pose.scale
    return out, scale


def rest_faces(canon: np.ndarray, cond: np.ndarray, group: np.ndarray, pose: np.ndarray,
               config: RigFitConfig) -> dict[int, tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """Per group: (rest landmarks (478, 3), rest cond (20,), rest pose (3,)) from its calmest rows."""
    rests = {}
    for g in np.unique(group[group >= 0]):
        idx = np.flatnonzero(group == g)
        energy = cond[idx].sum(1)
        k = max(1, int(np.ceil(config.rest_fraction * len(idx))))
        calm = idx[np.argsort(energy)[:k]]
        rests[int(g)] = (np.median(canon[calm], 0), np.median(cond[calm], 0), np.median(pose[calm], 0))
    return rests


def pose_covariates(dpose: np.ndarray, pose: np.ndarray) -> np.ndarray:
    """(N, 7) covariates of a pose change: dyaw, dpitch, droll, their products with the pose."""
    d = dpose / 30.0
    p = pose / 30.0
    return np.concatenate([d, d[:, :2] * p[:, :2], d[:, :1] * d[:, :1], d[:, 1:2] * d[:, 1:2]], 1)


def mirror_rows(disp: np.ndarray, dcond: np.ndarray, dpose: np.ndarray, pose: np.ndarray,
                mesh: FaceMesh) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """The same pairs seen in a mirror: left/right swapped, x negated, yaw and roll negated."""
    flip = np.array([-1.0, 1.0, 1.0])
    sign = np.array([-1.0, 1.0, -1.0])
    return (disp[:, mesh.mirror] * flip, dcond[:, COND_FLIP], dpose * sign, pose * sign)


def build_pairs(data: LandmarkSet, canon: np.ndarray, config: RigFitConfig, *, mean_face: np.ndarray,
                neutral: np.ndarray | None = None) -> dict[str, np.ndarray]:
    """Pairs of one data set: displacement (N, 478, 3), dcond (N, 20), dpose, pose, weight, group.

    ``neutral`` (N,) bool marks rows that are a performer's neutral photo (posed sets): their
    median is that group's rest face instead of the calmest rows.
    """
    cond = table_to_cond(data.aus).astype(np.float64)
    pose = data.pose.astype(np.float64)
    rests = rest_faces(canon, cond, data.group, pose, config)
    if neutral is not None:
        for g in list(rests):
            sel = (data.group == g) & neutral
            if sel.any():
                rests[g] = (np.median(canon[sel], 0), np.median(cond[sel], 0), np.median(pose[sel], 0))
            else:
                del rests[g]
    rows = [i for i in range(len(data)) if data.group[i] < 0 or int(data.group[i]) in rests]
    disp, dcond, dpose, weight = [], [], [], []
    mean_cond = cond[data.group < 0].mean(0) if (data.group < 0).any() else np.zeros(cond.shape[1])
    for i in rows:
        g = int(data.group[i])
        if g >= 0:
            rest_lm, rest_c, rest_p = rests[g]
            w = 1.0
        else:
            rest_lm, rest_c, rest_p, w = mean_face, mean_cond, np.zeros(3), config.photo_weight
        disp.append(canon[i] - rest_lm)
        dcond.append(cond[i] - rest_c)
        dpose.append(pose[i] - rest_p)
        weight.append(w)
    return {"disp": np.asarray(disp), "dcond": np.asarray(dcond), "dpose": np.asarray(dpose),
            "pose": pose[rows], "weight": np.asarray(weight), "group": data.group[rows],
            "paired": data.group[rows] >= 0}


def solve(pairs: dict[str, np.ndarray], mesh: FaceMesh, ridge: float) -> tuple[np.ndarray, np.ndarray]:
    """Weighted ridge fit with mirrored copies -> (bases (20, 478, 3), pose coefficients)."""
    disp, dcond, dpose, pose = pairs["disp"], pairs["dcond"], pairs["dpose"], pairs["pose"]
    m_disp, m_dcond, m_dpose, m_pose = mirror_rows(disp, dcond, dpose, pose, mesh)
    y = np.concatenate([disp, m_disp]).reshape(2 * len(disp), -1)
    x_au = np.concatenate([dcond, m_dcond])
    x_pose = pose_covariates(np.concatenate([dpose, m_dpose]), np.concatenate([pose, m_pose]))
    unpaired = np.concatenate([~pairs["paired"], ~pairs["paired"]]).astype(np.float64)[:, None]
    x = np.concatenate([x_au, x_pose, unpaired], 1)  # an intercept for the unrelated photos
    w = np.concatenate([pairs["weight"], pairs["weight"]])
    xw = x * w[:, None]
    gram = xw.T @ x
    k = x_au.shape[1]
    gram[np.arange(k), np.arange(k)] += ridge * np.trace(gram[:k, :k]) / k
    coef = np.linalg.solve(gram, xw.T @ y)
    return coef[:k].reshape(k, -1, 3), coef[k:]


def localize_bases(bases: np.ndarray, mean_face: np.ndarray) -> np.ndarray:
    """Each basis times its AU's region (``au_regions``). Two AUs that MediaPipe barely measures
    (no data to fit them) get FACS priors built from fitted ones instead:

    - AU09 (nose wrinkler) borrows 0.6 x the upper-lip raise of AU10 (AU09 lifts the nasal wings
      and the upper lip with them);
    - AU06 (cheek raiser) lifts the cheeks as a smile does above the mouth (0.6 x both sides of
      AU12 there) and pushes the lower lids up as the lid tightener does (0.5 x AU07 below the eye).
    """
    regions = au_regions(mean_face)
    out = np.array(bases, np.float64, copy=True)
    for k, name in enumerate(COND_NAMES):
        out[k] *= regions[name.split("_")[0]][:, None]
    k = {n: i for i, n in enumerate(COND_NAMES)}
    out[k["AU09"]] = 0.6 * out[k["AU10"]]
    y = mean_face[:, 1]
    y_eye = float(mean_face[[159, 145, 386, 374], 1].mean())
    y_mouth = float(mean_face[[13, 14], 1].mean())
    above_mouth = (1.0 - np.clip((y - (y_mouth - 1.2)) / 0.8, 0.0, 1.0))[:, None]
    below_eye = np.clip((y - (y_eye - 0.2)) / 0.4, 0.0, 1.0)[:, None]
    cheeks = regions["AU06"][:, None] * above_mouth
    out[k["AU06"]] = 0.6 * cheeks * (out[k["AU12_L"]] + out[k["AU12_R"]]) + 0.5 * below_eye * out[k["AU07"]]
    return out


def smooth_bases(bases: np.ndarray, mesh: FaceMesh, *, iterations: int, alpha: float = 0.5) -> np.ndarray:
    """Denoise each (478, 3) basis over the open mesh (lids and lips are not joined across
    their gap): ``b <- (1 - alpha) b + alpha * mean of neighbours``, ``iterations`` times."""
    nb = mesh_neighbours(mesh.triangles, N_MESH, skip=mesh.closures)
    out = np.array(bases, np.float64, copy=True)
    for _ in range(iterations):
        for k in range(len(out)):
            out[k, :N_MESH] = (1 - alpha) * out[k, :N_MESH] + alpha * (nb @ out[k, :N_MESH])
    return out


def r2_score(pairs: dict[str, np.ndarray], bases: np.ndarray, pose_coef: np.ndarray) -> float:
    """R^2 of the paired displacements (mesh points) explained by the rig + pose covariates."""
    sel = pairs["paired"]
    if not sel.any():
        return float("nan")
    x_pose = pose_covariates(pairs["dpose"][sel], pairs["pose"][sel])
    pred = np.einsum("nk,kvc->nvc", pairs["dcond"][sel], bases)
    pred += (x_pose @ pose_coef[:-1]).reshape(pred.shape)
    y = pairs["disp"][sel]
    resid = ((y - pred)[:, :N_MESH] ** 2).sum()
    total = ((y - y.mean(0))[:, :N_MESH] ** 2).sum()
    return float(1.0 - resid / max(total, 1e-12))


def fit_rig(clips: LandmarkSet, posed: LandmarkSet, photos: LandmarkSet, *, posed_neutral: np.ndarray,
            held_out_groups: Sequence[str] = (), config: RigFitConfig = RigFitConfig(),
            mesh: FaceMesh | None = None) -> tuple[AURig, RigFitReport]:
    """Fit the rig on clips (pairs within a clip), posed sets (pairs with the performer's
    neutral photos, ``posed_neutral`` marks them) and unrelated photos."""
    mesh = mesh or load_face_mesh()
    reference = np.zeros((478, 3))
    reference[:N_MESH] = mesh.canonical
    weights = np.zeros(478)
    weights[list(RIGID_POINTS)] = 1.0 / len(RIGID_POINTS)
    for _ in range(config.rigid_iterations):  # the reference becomes the data's median face
        canon_c, _ = canonicalize(clips, reference, weights)
        reference = np.median(canon_c, 0)
    sets = []
    for data, neutral in ((clips, None), (posed, posed_neutral), (photos, None)):
        canon, _ = canonicalize(data, reference, weights)
        sets.append((data, canon, neutral))
    mean_face = np.median(np.concatenate([c for _, c, _ in sets]), 0)
    held = {i for i, n in enumerate(clips.group_names) if _is_held(n, held_out_groups)}
    train, test = [], []
    for k, (data, canon, neutral) in enumerate(sets):
        pairs = build_pairs(data, canon, config, mean_face=mean_face, neutral=neutral)
        is_test = np.isin(pairs["group"], list(held)) if k == 0 else np.zeros(len(pairs["group"]), bool)
        train.append({key: v[~is_test] for key, v in pairs.items()})
        test.append({key: v[is_test] for key, v in pairs.items()})
    train_all = {key: np.concatenate([p[key] for p in train]) for key in train[0]}
    test_all = {key: np.concatenate([p[key] for p in test]) for key in test[0]}
    bases, pose_coef = solve(train_all, mesh, config.ridge)
    bases = localize_bases(bases, mean_face)
    bases = smooth_bases(bases, mesh, iterations=config.smooth_iterations)
    report = RigFitReport(n_pairs=int(train_all["paired"].sum()), n_photos=int((~train_all["paired"]).sum()),
                          r2_train=r2_score(train_all, bases, pose_coef),
                          r2_held_out=r2_score(test_all, bases, pose_coef),
                          n_held_out=int(test_all["paired"].sum()))
    meta = {"n_pairs": str(report.n_pairs), "n_photos": str(report.n_photos),
            "r2_train": f"{report.r2_train:.4f}", "r2_held_out": f"{report.r2_held_out:.4f}"}
    rig = AURig(bases=bases.astype(np.float32), mean=mean_face.astype(np.float32),
                rigid_weights=weights.astype(np.float32), metadata=meta)
    return rig, report


def _is_held(name: str, held_out: Sequence[str]) -> bool:
    return any(name.startswith(h) for h in held_out)
