"""JSON-ready summaries of evaluations: one dict per model, NaN as null and inf as "inf"."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, fields

import numpy as np

from reenact.au.blendshapes import RELIABLE_AUS, WEAK_AUS
from reenact.au.space import TABLE_AU_NAMES
from reenact.eval.geometry import CHECKS, FaceGeometry
from reenact.eval.metrics import AUFidelity, au_fidelity
from reenact.eval.sources import BAR_TARGETS, OWN
from reenact.eval.targets import TargetEvaluation
from reenact.eval.videos import VideoEvaluation, VideoResult

_COL = {n: i for i, n in enumerate(TABLE_AU_NAMES)}
#: The eye a wink asks to close and the other one (subject's sides).
WINK_EYES = {"wink_left": ("AU45_L", "AU45_R"), "wink_right": ("AU45_R", "AU45_L")}


def number(x) -> float | int | str | None:
    """A JSON-safe number: ints stay ints, floats rounded to 4 places, NaN -> None, inf -> "inf"."""
    if isinstance(x, (bool, np.bool_)):
        return bool(x)
    if isinstance(x, (int, np.integer)):
        return int(x)
    if x is None:
        return None
    x = float(x)
    if np.isnan(x):
        return None
    if np.isinf(x):
        return "inf" if x > 0 else "-inf"
    return round(x, 4)


def _stats(values, *, worst: str = "max") -> dict:
    """median, mean and worst (max or min) of the finite-or-infinite values, with n."""
    v = np.asarray([x for x in values if x is not None and not np.isnan(x)], np.float64)
    if not v.size:
        return {"median": None, "mean": None, "worst": None, "n": 0}
    return {"median": number(np.median(v)), "mean": number(v.mean()),
            "worst": number(v.max() if worst == "max" else v.min()), "n": int(v.size)}


def fidelity_dict(f: AUFidelity, *, with_corr: bool = False) -> dict:
    out = {"mae": number(f.mae), "reliable_mae": number(f.reliable_mae), "weak_mae": number(f.weak_mae),
           "active_mae": number(f.active_mae), "n_rows": f.n_rows, "n_missing": f.n_missing,
           "per_au_mae": {k: number(v) for k, v in f.per_au_mae.items()}}
    if with_corr:
        out["reliable_corr"] = number(f.reliable_corr)
        out["per_au_corr"] = {k: number(v) for k, v in f.per_au_corr.items()}
    return out


def _mean_fields(items: Sequence, keys: Sequence[str] | None = None) -> dict | None:
    items = [i for i in items if i is not None]
    if not items:
        return None
    keys = keys or [k for k, v in asdict(items[0]).items() if not isinstance(v, bool)]
    return {k: number(np.nanmean([getattr(i, k) for i in items])) for k in keys}


def _rows(ev: TargetEvaluation, names: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
    """(requested, measured) rows of the named targets over all sources."""
    idx = [k for k, t in enumerate(ev.targets) if t.name in names]
    req = np.concatenate([s.requested[idx] for s in ev.sources]) if idx else np.zeros((0, 23))
    mea = np.concatenate([s.measured[idx] for s in ev.sources]) if idx else np.zeros((0, 23))
    return req, mea


def _winks(ev: TargetEvaluation) -> dict:
    out = {}
    for k, t in enumerate(ev.targets):
        measured = np.stack([s.measured[k] for s in ev.sources])
        if t.name in WINK_EYES:
            asked, other = WINK_EYES[t.name]
            out[t.name] = {"asked_eye": asked, "asked": number(np.nanmean(measured[:, _COL[asked]])),
                           "other": number(np.nanmean(measured[:, _COL[other]]))}
        elif t.name == "blink":
            out["blink"] = {"AU45": number(np.nanmean(measured[:, _COL["AU45"]]))}
    return out


def _geometry(ev: TargetEvaluation) -> dict:
    passed = {c: [] for c in CHECKS}
    for s in ev.sources:
        for checks in s.checks:
            for name, ok in checks:
                passed[name].append(ok)
    n_out = sum(len(s.requested) + 1 for s in ev.sources)
    return {"pass_rate": {c: number(np.mean(v)) if v else None for c, v in passed.items()},
            "n": {c: len(v) for c, v in passed.items()},
            "dlib_fallbacks": sum(s.dlib_fallbacks for s in ev.sources), "dlib_images": n_out}


def _quality(ev: TargetEvaluation) -> dict:
    q = [x for s in ev.sources for x in s.quality]
    grey = [x for s in ev.sources if s.greyscale for x in s.quality]
    return {"sharpness": _stats([x.sharpness for x in q], worst="min"),
            "chroma_deviation": _stats([x.chroma_deviation for x in q]),
            "speckle": _stats([x.speckle for x in q]),
            "grey_max_chroma": _stats([x.max_chroma for x in grey]) if grey else None,
            "grey_chroma_deviation": _stats([x.chroma_deviation for x in grey]) if grey else None}


def _own(ev: TargetEvaluation) -> dict | None:
    names = [t.name for t in ev.targets]
    if OWN not in names:
        return None
    k = names.index(OWN)
    kept = au_fidelity(np.stack([s.source_aus for s in ev.sources]),
                       np.stack([s.measured[k] for s in ev.sources]))

    return {"face_psnr": _stats([s.face_psnr[k] for s in ev.sources], worst="min"),
            "au_mae": number(kept.mae),  # the output's AUs vs the source's, both read the same way

            "sharpness": _stats([s.quality[k].sharpness for s in ev.sources], worst="min"),
            "identity": _stats([s.identity[k] for s in ev.sources])}


def _per_target(ev: TargetEvaluation) -> dict:
    out = {}
    for k, t in enumerate(ev.targets):
        req = np.stack([s.requested[k] for s in ev.sources])
        f = au_fidelity(req, np.stack([s.measured[k] for s in ev.sources]))
        checks = [ok for s in ev.sources for _, ok in s.checks[k]]
        changes = [s.geometry[k] for s in ev.sources]
        out[t.name] = {
            "mae": number(f.mae), "active_mae": number(f.active_mae), "n_missing": f.n_missing,
            "identity": _stats([s.identity[k] for s in ev.sources]),
            "sharpness": number(np.median([s.quality[k].sharpness for s in ev.sources])),
            "speckle": number(np.median([s.quality[k].speckle for s in ev.sources])),
            "chroma_deviation": number(np.mean([s.quality[k].chroma_deviation for s in ev.sources])),
            "face_psnr": number(np.median([s.face_psnr[k] for s in ev.sources])),
            "geometry_pass": number(np.mean(checks)) if checks else None, "geometry_checks": len(checks),
            "geometry_change": _mean_fields(changes, [f.name for f in fields(FaceGeometry)])}
    return out


def summarize_targets(ev: TargetEvaluation) -> dict:
    """The JSON-ready summary of one model's target evaluation (the report's rows)."""
    presets = [t.name for t in ev.targets if t.name != OWN]
    bar = [n for n in BAR_TARGETS if n in presets]
    req, mea = _rows(ev, presets)
    seams = [x for s in ev.sources for x in s.seams if x is not None]
    return {
        "kind": "targets", "model": ev.model, "n_sources": len(ev.sources), "n_targets": len(ev.targets),
        "bar": {"targets": bar, "requested_au_mae": number(au_fidelity(*_rows(ev, bar)).active_mae) if bar
                else None},
        "fidelity": fidelity_dict(au_fidelity(req, mea)),
        "winks": _winks(ev),
        "identity": _stats(np.concatenate([s.identity for s in ev.sources])),
        "own_expression": _own(ev),
        "quality": _quality(ev),
        "geometry": _geometry(ev),
        "seam_mean": _mean_fields(seams),
        "seam_worst": ({k: number(np.max([getattr(x, k) for x in seams]))
                        for k in ("boundary_step", "band_step", "gradient_excess")} if seams else None),
        "attention": _mean_fields([x for s in ev.sources for x in s.attention]),
        "per_target": _per_target(ev),
        "per_source": {s.source: {"greyscale": s.greyscale,
                                  "mae": number(au_fidelity(s.requested, s.measured).mae),
                                  "identity": _stats(s.identity),
                                  "sharpness": number(np.median([q.sharpness for q in s.quality])),
                                  "speckle": number(np.median([q.speckle for q in s.quality])),
                                  "max_chroma": number(max(q.max_chroma for q in s.quality)),
                                  "dlib_fallbacks": s.dlib_fallbacks} for s in ev.sources},
        "reliable_aus": list(RELIABLE_AUS), "weak_aus": list(WEAK_AUS),
    }


def _run_dict(r: VideoResult) -> dict:
    out = {"source": r.source, "driver": r.driver, "n_frames": r.n_frames,
           "self_reenactment": r.self_reenact is not None,
           "fidelity": fidelity_dict(r.fidelity, with_corr=True),
           "baseline_unchanged_source": fidelity_dict(r.baseline),
           "stability": {k: number(v) for k, v in asdict(r.stability).items()},
           "identity": _stats(r.identity),
           "quality": {k: number(v) for k, v in asdict(r.quality).items()},
           "seam": {k: number(v) for k, v in asdict(r.seam).items()} if r.seam is not None else None,
           "attention": {k: number(v) for k, v in asdict(r.attention).items()} if r.attention else None}
    if r.self_reenact is not None:
        s = asdict(r.self_reenact)
        out["self"] = {k: ({g: number(e) for g, e in v.items()} if isinstance(v, dict) else number(v))
                       for k, v in s.items()}
    return out


def _overall(runs: list[dict]) -> dict | None:
    """Means over runs of the headline numbers (the report's overall row)."""
    if not runs:
        return None

    def mean(get) -> float | None:
        values = [get(r) for r in runs]
        values = [float("inf") if v == "inf" else v for v in values if v is not None]
        return number(np.mean(values)) if values else None

    out = {"n_runs": len(runs), "n_frames": sum(r["n_frames"] for r in runs),
           "reliable_mae": mean(lambda r: r["fidelity"]["reliable_mae"]),
           "reliable_corr": mean(lambda r: r["fidelity"]["reliable_corr"]),
           "identity_median": mean(lambda r: r["identity"]["median"])}
    out.update({k: mean(lambda r, k=k: r["quality"][k])
                for k in ("sharpness", "chroma_deviation", "speckle")})
    out.update({k: mean(lambda r, k=k: r["stability"][k]) for k in ("outside_change", "inside_change",
                                                                      "flicker", "still_inside_change")})
    out["seam_boundary_step"] = mean(lambda r: r["seam"]["boundary_step"] if r["seam"] else None)
    if all("self" in r for r in runs):
        for k in ("face_l1", "face_psnr", "face_ssim", "head_l1", "head_psnr", "head_ssim", "whole_l1",
                  "whole_psnr", "whole_ssim"):
            out[k] = mean(lambda r, k=k: r["self"][k])
        out["geometry_error"] = {g: mean(lambda r, g=g: r["self"]["geometry_error"][g])
                                 for g in runs[0]["self"]["geometry_error"]}
    return out


def summarize_videos(ev: VideoEvaluation) -> dict:
    """The JSON-ready summary of one model's video evaluation: runs and overall rows."""
    runs = [_run_dict(r) for r in ev.results]
    drive = [r for r in runs if not r["self_reenactment"]]
    own = [r for r in runs if r["self_reenactment"]]
    return {"kind": "videos", "model": ev.model, "runs": runs,
            "overall_driving": _overall(drive), "overall_self_reenactment": _overall(own),
            "identity": _stats(np.concatenate([r.identity for r in ev.results])),
            "reliable_aus": list(RELIABLE_AUS), "weak_aus": list(WEAK_AUS)}
