"""Report files of an evaluation of several models: report.json, report.md, contact_sheet.png.

Every table has a row per model (do-nothing, ``none``, is one of them: the reference every number
is read against), and the contact sheet a row per model under each source or clip.
"""

from __future__ import annotations

import datetime
import json
import platform
from collections.abc import Sequence
from dataclasses import asdict
from pathlib import Path

import numpy as np
import torch
from PIL import Image, ImageDraw, ImageFont

from reenact.au.space import TABLE_AU_NAMES
from reenact.eval.geometry import CHECKS
from reenact.eval.summary import summarize_targets, summarize_videos
from reenact.eval.targets import TargetEvaluation
from reenact.eval.videos import VideoEvaluation
from reenact.io.files import atomic_output


def run_meta() -> dict:
    """Date, machine and torch version, for the report."""
    return {"date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
            "machine": f"{platform.node()} {platform.machine()} {platform.processor() or ''}".strip(),
            "torch": torch.__version__}


def _f(x, digits: int = 3) -> str:
    if x is None:
        return "n/a"
    if isinstance(x, str):
        return x
    return f"{x:.{digits}f}"


def _pair(d: dict | None, a: str = "median", b: str = "worst", digits: int = 3) -> str:
    return "n/a" if not d else f"{_f(d[a], digits)} / {_f(d[b], digits)}"


def _table(head: Sequence[str], rows: Sequence[Sequence[str]]) -> list[str]:
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    return lines + ["| " + " | ".join(r) + " |" for r in rows]


def _wink_cell(s: dict) -> str:
    cells = [f"{side} {_f(s['winks'][k]['asked'])} / {_f(s['winks'][k]['other'])}"
             for k, side in (("wink_left", "L"), ("wink_right", "R")) if k in s["winks"]]
    return ", ".join(cells) or "n/a"



def _target_summary_rows(summaries: Sequence[dict]) -> list[str]:
    rows, quality, geometry = [], [], []
    for s in summaries:
        own, q, g = s["own_expression"] or {}, s["quality"], s["geometry"]
        seam, worst, att = s["seam_mean"], s["seam_worst"], s["attention"]
        rows.append([s["model"], _f(s["bar"]["requested_au_mae"]), _f(s["fidelity"]["reliable_mae"]),
                     _wink_cell(s), _f(s["winks"].get("blink", {}).get("AU45")), _pair(s["identity"]),
                     _pair(own.get("face_psnr"), "median", "worst", 1), _f(own.get("au_mae"))])
        quality.append([s["model"], _pair(q["sharpness"], digits=2),
                        _pair(q["chroma_deviation"], "mean", "worst", 1),
                        _pair(q["grey_max_chroma"], "median", "worst", 1), _pair(q["speckle"], digits=2),
                        f"{_f(seam['boundary_step'], 4)} / {_f(worst['boundary_step'], 4)}"
                        if seam else "n/a",
                        _f(att["mean"]) if att else "n/a"])
        geometry.append([s["model"]] + [f"{_f(g['pass_rate'][c], 2)} ({g['n'][c]})" for c in CHECKS]
                        + [f"{g['dlib_fallbacks']} of {g['dlib_images']}"])
    lines = ["## Summary", "", *_table(
        ["model", "requested-AU MAE (7 prototypes @1, winks, blink)", "reliable-AU MAE",
         "wink L, R: asked / other eye AU45", "blink AU45", "identity median / worst",
         "own expression: face PSNR dB median / worst", "own expression: AU change vs source"], rows), ""]
    lines += ["## Sharpness and colour of the face (vs the source)", "", *_table(
        ["model", "sharpness ratio median / worst", "chroma deviation mean / worst (levels)",
         "grey sources: max chroma median / worst (levels)", "speckle ratio median / worst",
         "seam boundary step mean / worst", "attention mean"], quality), ""]
    lines += ["## Geometry (dlib 68 points): pass rate (checks)", "", *_table(
        ["model", "mouth opens (AU25/26)", "brows rise (AU01/02)", "brows fall (AU04)",
         "eyes close (AU45)", "corners rise (AU12)", "dlib detector found nothing"], geometry), ""]
    return lines


def markdown_targets(summaries: Sequence[dict], meta: dict) -> str:
    """The markdown report of several models' ``summarize_targets``."""
    first = summaries[0]
    lines = [f"# Quality: {first['n_sources']} sources x {first['n_targets']} AU targets", "",
             f"{meta.get('date', '')}, {meta.get('machine', '')}, precision {meta.get('precision', '?')}; "
             f"models: {', '.join(s['model'] for s in summaries)}", ""]
    lines += _target_summary_rows(summaries)
    rows = []
    for name in first["per_target"]:
        for s in summaries:
            t = s["per_target"][name]
            rows.append([name, s["model"], _f(t["active_mae"]), _f(t["identity"]["median"]),
                         _f(t["sharpness"], 2),
                         _f(t["speckle"], 2), _f(t["chroma_deviation"], 1), _f(t["face_psnr"], 1),
                         f"{_f(t['geometry_pass'], 2)} ({t['geometry_checks']})"])
    lines += ["## Per target (medians over sources; chroma: mean)", "", *_table(
        ["target", "model", "requested-AU MAE", "identity", "sharpness", "speckle", "chroma dev.",
         "face PSNR dB", "geometry pass"], rows), ""]
    rows = [[au] + [_f(s["fidelity"]["per_au_mae"][au]) for s in summaries] for au in TABLE_AU_NAMES]
    lines += ["## AU MAE per AU (all preset targets)", "",
              *_table(["AU"] + [s["model"] for s in summaries], rows)]
    return "\n".join(lines) + "\n"


def _video_rows(summaries: Sequence[dict], self_runs: bool) -> tuple[list[str], list[list[str]]]:
    key = "overall_self_reenactment" if self_runs else "overall_driving"
    rows = []
    for s in summaries:
        runs = [r for r in s["runs"] if r["self_reenactment"] == self_runs]
        for r in runs:
            rows.append(_video_row(s["model"], r["source"], r["driver"], r["n_frames"], _run_numbers(r),
                                   self_runs))
        o = s[key]
        if o and len(runs) > 1:
            rows.append(_video_row(f"**{s['model']}**", "**overall**", f"{o['n_runs']} runs",
                                   o["n_frames"], o, self_runs))
    head = ["model", "source", "clip", "frames", "reliable-AU MAE", "AU corr", "identity median",
            "sharpness", "speckle", "chroma dev.", "seam step", "outside change", "inside change", "flicker"]
    if self_runs:
        head = head[:4] + ["face L1", "face PSNR", "face SSIM", "head L1", "head PSNR", "head SSIM",
                           "whole frame L1 / PSNR / SSIM", "geometry error mouth / brows / eyes"] + head[4:]
    return head, rows


def _run_numbers(r: dict) -> dict:
    """A run's numbers in the layout of an overall row."""
    out = {"reliable_mae": r["fidelity"]["reliable_mae"], "reliable_corr": r["fidelity"]["reliable_corr"],
           "identity_median": r["identity"]["median"],
           "seam_boundary_step": r["seam"]["boundary_step"] if r["seam"] else None,
           **{k: r["quality"][k] for k in ("sharpness", "chroma_deviation", "speckle")},
           **{k: r["stability"][k] for k in ("outside_change", "inside_change", "flicker")}}
    if "self" in r:
        out.update({k: r["self"][k] for k in ("face_l1", "face_psnr", "face_ssim", "head_l1", "head_psnr",
                                              "head_ssim", "whole_l1", "whole_psnr", "whole_ssim",
                                              "geometry_error")})
    return out


def _video_row(model, source, driver, frames, o: dict, self_runs: bool) -> list[str]:
    row = [model, source, driver, str(frames)]
    if self_runs:
        g = o["geometry_error"]
        eyes = None if g["eye_open_left"] is None else (g["eye_open_left"] + g["eye_open_right"]) / 2
        row += [_f(o["face_l1"], 4), _f(o["face_psnr"], 2), _f(o["face_ssim"]), _f(o["head_l1"], 4),
                _f(o["head_psnr"], 2), _f(o["head_ssim"]),
                f"{_f(o['whole_l1'], 4)} / {_f(o['whole_psnr'], 2)} / {_f(o['whole_ssim'])}",

                f"{_f(g['mouth_open'])} / {_f(g['brow_height'])} / {_f(eyes)}"]
    return row + [_f(o["reliable_mae"]), _f(o["reliable_corr"]), _f(o["identity_median"]),
                  _f(o["sharpness"], 2),
                  _f(o["speckle"], 2), _f(o["chroma_deviation"], 1), _f(o["seam_boundary_step"], 4),
                  _f(o["outside_change"], 5), _f(o["inside_change"], 4), _f(o["flicker"])]


def markdown_videos(summaries: Sequence[dict], meta: dict) -> str:
    """The markdown report of several models' ``summarize_videos`` (driving and self-reenactment)."""
    lines = ["# Quality: videos", "", f"{meta.get('date', '')}, {meta.get('machine', '')}, precision "
             f"{meta.get('precision', '?')}; models: {', '.join(s['model'] for s in summaries)}", ""]
    for self_runs, title in ((True, "Self-reenactment (each clip drives its own frame 0; output vs the real "
                                    "frames 1..T-1)"),
                             (False, "Driving videos (a photo driven by a clip, relative AU transfer)")):
        head, rows = _video_rows(summaries, self_runs)
        if rows:
            lines += [f"## {title}", "", *_table(head, rows), ""]
    return "\n".join(lines)


def contact_sheet(rows: Sequence[np.ndarray], row_labels: Sequence[str], col_labels: Sequence[str],
                  *, notes: Sequence[Sequence[str]] | None = None) -> np.ndarray:
    """Grid image (uint8 RGB) of equally sized cells with column headers, row labels and notes.

    Args:
        rows: per row, (n, c, c, 3) uint8 cells (n at most len(col_labels)).
        row_labels / col_labels: text beside each row / above each column.
        notes: optional short text under each cell, per row and column.
    """
    n_cols, c = len(col_labels), rows[0].shape[1]
    head, label_w, note_h = 22, 130, 14 if notes else 0
    sheet = Image.new("RGB", (label_w + n_cols * c, head + len(rows) * (c + note_h)), "white")
    draw = ImageDraw.Draw(sheet)
    font = ImageFont.load_default()
    for j, name in enumerate(col_labels):
        draw.text((label_w + j * c + 4, 5), name[:22], fill="black", font=font)
    for i, cells in enumerate(rows):
        y = head + i * (c + note_h)
        parts = row_labels[i].split("\n")
        lines = [part[j:j + 20] for part in parts for j in range(0, max(len(part), 1), 20)]
        for k, line in enumerate(lines[:8]):  # long labels wrap (two weights files of one model differ late)
            draw.text((4, y + c // 2 - 8 + 12 * k), line, fill="black", font=font)
        for j, cell in enumerate(cells):
            sheet.paste(Image.fromarray(cell), (label_w + j * c, y))
            if notes:
                draw.text((label_w + j * c + 3, y + c + 1), notes[i][j][:26], fill="black", font=font)
    return np.asarray(sheet)


def targets_sheet(evaluations: Sequence[TargetEvaluation]) -> np.ndarray:
    """Sources x targets, a row per model under each source; under each output its requested-AU
    MAE and sharpness ratio."""
    rows, labels, notes = [], [], []
    for i in range(len(evaluations[0].sources)):
        for ev in evaluations:
            s = ev.sources[i]
            rows.append(s.cells)
            labels.append(f"{s.source}\n{ev.model}")
            note = ["source"]
            for k, target in enumerate(ev.targets):
                if target.aus is None:  # own expression: how close to the source
                    note.append(f"PSNR {s.face_psnr[k]:.1f} sh {s.quality[k].sharpness:.2f}")
                    continue
                active = s.requested[k] >= 0.2

                mae = np.abs(s.requested[k] - s.measured[k])[active].mean() if active.any() else np.nan
                note.append(f"{'MAE ' + format(mae, '.2f') if np.isfinite(mae) else ''} "
                            f"sh {s.quality[k].sharpness:.2f}")
            notes.append(note)
    return contact_sheet(rows, labels, ["source"] + [t.name for t in evaluations[0].targets], notes=notes)


def videos_sheet(evaluations: Sequence[VideoEvaluation]) -> np.ndarray:
    """Per run: the driver's (or the real) frames, then a row per model at the same times (the
    frame numbers under the driver's cells)."""
    rows, labels, notes = [], [], []
    n = max(r.cells.shape[0] for ev in evaluations for r in ev.results)

    def padded(cells: np.ndarray) -> np.ndarray:
        if len(cells) == n:
            return cells
        return np.concatenate([cells, np.full((n - len(cells), *cells.shape[1:]), 255, np.uint8)])

    for i, run in enumerate(evaluations[0].results):
        rows.append(padded(run.driver_cells))
        labels.append(f"{'real' if run.self_reenact is not None else 'driver'}\n{run.driver[:20]}")
        notes.append([f"frame {k}" for k in run.sample_frames] + [""] * (n - len(run.sample_frames)))
        for ev in evaluations:
            rows.append(padded(ev.results[i].cells))
            labels.append(f"{ev.model}\n{run.source[:20]}")
            notes.append([""] * n)
    return contact_sheet(rows, labels, [f"sample {k + 1}" for k in range(n)], notes=notes)


def write_report(evaluations: Sequence[TargetEvaluation] | Sequence[VideoEvaluation], out_dir: str | Path,
                 meta: dict | None = None) -> dict[str, Path]:
    """Write report.json, report.md and contact_sheet.png of several models' evaluations of the same
    sources and targets (or runs) into ``out_dir`` (created; atomic files)."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    meta = {**run_meta(), **(meta or {})}
    if isinstance(evaluations[0], TargetEvaluation):
        summaries = [summarize_targets(ev) for ev in evaluations]
        md, sheet = markdown_targets(summaries, meta), targets_sheet(evaluations)
    else:
        summaries = [summarize_videos(ev) for ev in evaluations]
        md, sheet = markdown_videos(summaries, meta), videos_sheet(evaluations)
    report = {"meta": meta, "config": asdict(evaluations[0].config),
              "models": {ev.model: {"meta": ev.meta, "summary": s} for ev, s in zip(evaluations, summaries,
                                                                                   strict=True)}}
    paths = {"json": out_dir / "report.json", "markdown": out_dir / "report.md",
             "sheet": out_dir / "contact_sheet.png"}
    with atomic_output(paths["json"]) as tmp:
        tmp.write_text(json.dumps(report, indent=2, allow_nan=False))
    with atomic_output(paths["markdown"]) as tmp:
        tmp.write_text(md)
    with atomic_output(paths["sheet"]) as tmp:
        Image.fromarray(sheet).save(tmp)
    return paths
