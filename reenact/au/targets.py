"""Named AU targets for ``reenact render-batch``: one AU row per name, from a CSV, JSON or YAML.

A CSV has the columns ``name``, ``preset``, ``intensity`` and any AU columns (ours on [0, 1],
``AU12`` / ``AU12_L``, or OpenFace ``AU12_r`` on 0..5); a YAML/JSON file is a list of
``{name, preset, intensity, aus}`` (or a mapping with such a list under ``targets``). A preset
(``reenact.au.space.PRESETS``) at an intensity is the starting row; named AUs then set their
columns (a bilateral name of a sided AU sets both sides). Names are made file-safe and unique.
"""

from __future__ import annotations

import csv
import os
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from reenact.au.script import parse_text
from reenact.au.space import AU_NAMES, PRESETS, TABLE_AU_NAMES, preset, sync_bilateral
from reenact.errors import InputError, ScriptError

#: Characters not allowed in an output file name (replaced by "_").
SAFE_NAME = re.compile(r"[^A-Za-z0-9_.-]+")


@dataclass(frozen=True)
class Target:
    """One AU target: a file-safe name and its (23,) AU row in [0, 1]."""

    name: str
    values: np.ndarray


def _target_from_fields(name, preset_name, intensity, aus: dict[str, float],
                        where: str) -> tuple[str, np.ndarray]:
    values = np.zeros(len(TABLE_AU_NAMES), np.float32)
    if preset_name:
        if preset_name not in PRESETS:
            raise ScriptError(f"{where}: unknown preset {preset_name!r}; known: {', '.join(PRESETS)}")
        values = preset(preset_name, intensity)
    idx = {n: i for i, n in enumerate(TABLE_AU_NAMES)}
    for au, v in aus.items():
        if not 0.0 <= v <= 1.0:
            raise ScriptError(f"{where}: {au} must be in [0, 1], got {v}")
        for col in [au] + ([f"{au}_L", f"{au}_R"] if f"{au}_L" in idx else []):
            values[idx[col]] = v
    if not name:
        name = preset_name or ""
    return str(name), sync_bilateral(values[None])[0]


def _au_column(header: str) -> tuple[str, float] | None:
    """CSV header -> (AU name, divisor): ours 'AU12'/'AU12_L'/'AU12_R' on [0, 1], OpenFace
    'AU12_r' (lower-case r) on 0..5."""
    h = header.strip()
    if h.endswith("_r") and h[:-2].upper() in AU_NAMES:  # OpenFace's lower-case intensity suffix
        return h[:-2].upper(), 5.0
    return (h.upper(), 1.0) if h.upper() in TABLE_AU_NAMES else None


def _looks_like_au(header: str) -> bool:
    """An AU-like column name (AU99, au12_x); OpenFace's presence columns AU*_c are allowed and
    ignored, as the YAML form has no such field."""
    return bool(re.match(r"(?i)au\d", header)) and not re.fullmatch(r"AU\d+_c", header)


def _read_csv_targets(path: Path) -> list[tuple[str, np.ndarray]]:
    with open(path, newline="", encoding="utf-8") as f:
        rows = list(csv.reader(f))
    if len(rows) < 2:
        raise ScriptError(f"{path}: needs a header row and at least one target row")
    header = [h.strip() for h in rows[0]]
    lower = [h.lower() for h in header]
    au_cols = {i: _au_column(h) for i, h in enumerate(header) if _au_column(h)}
    unknown = [h for i, h in enumerate(header) if i not in au_cols and _looks_like_au(h)]
    if unknown:
        raise ScriptError(f"{path}: line 1: unknown AU column {unknown[0]}; known: "
                          f"{', '.join(TABLE_AU_NAMES)} (or OpenFace AU*_r)")
    if not au_cols and "preset" not in lower:
        raise ScriptError(f"{path}: line 1: no AU columns (AU01 ... AU45_R, or OpenFace AU*_r) "
                          "and no preset column")
    out = []
    for line_no, row in enumerate(rows[1:], start=2):
        if not any(c.strip() for c in row):
            continue
        cell = dict(zip(lower, (c.strip() for c in row), strict=False))
        where = f"{path}: line {line_no}"
        try:
            intensity = float(cell.get("intensity") or 1.0)
            aus = {name: float(row[i]) / div for i, (name, div) in au_cols.items()
                   if i < len(row) and row[i].strip()}
        except ValueError as exc:
            raise ScriptError(f"{where}: not a number ({exc})") from exc
        out.append(_target_from_fields(cell.get("name"), cell.get("preset"), intensity, aus, where))
    return out


def _read_structured_targets(path: Path) -> list[tuple[str, np.ndarray]]:
    data, where = parse_text(path.read_text(encoding="utf-8"), path)
    items = data.get("targets") if isinstance(data, dict) else data
    if not isinstance(items, list) or not items:
        raise where.error((), "targets must be a list of {name, preset, intensity, aus}")
    base = ("targets",) if isinstance(data, dict) else ()
    out = []
    for i, item in enumerate(items):
        at = (*base, i)
        if not isinstance(item, dict) or not ({"preset", "aus"} & set(item)):
            raise where.error(at, "a target needs a preset or aus")
        aus = item.get("aus") or {}
        if not isinstance(aus, dict) or any(str(k).upper() not in TABLE_AU_NAMES for k in aus):
            raise where.error((*at, "aus"), "aus must map AU names (AU01, AU12_L ...) to values")
        try:
            values = {str(k).upper(): float(v) for k, v in aus.items()}
            intensity = float(item.get("intensity", 1.0))
        except (TypeError, ValueError) as exc:
            raise where.error(at, f"not a number ({exc})") from exc
        line = where.lines.get(at)
        loc = f"{path}: line {line}" if line else str(path)
        out.append(_target_from_fields(item.get("name"), item.get("preset"), intensity, values, loc))
    return out


def read_targets(path: str | os.PathLike) -> list[Target]:
    """AU targets from a CSV, JSON or YAML file (see the module docstring).

    Raises:
        InputError: missing file. ScriptError: malformed rows (naming the line), duplicate names.
    """
    path = Path(path)
    if not path.is_file():
        raise InputError(f"targets {path} does not exist; give a CSV/JSON/YAML table of AU targets")
    raw = _read_csv_targets(path) if path.suffix.lower() in (".csv", ".tsv", ".txt") \
        else _read_structured_targets(path)
    targets, seen = [], set()
    for i, (name, values) in enumerate(raw):
        safe = SAFE_NAME.sub("_", name).strip("._") or f"target{i:04d}"
        if safe in seen:
            raise ScriptError(f"{path}: target name {safe!r} appears twice; names must be unique")
        seen.add(safe)
        targets.append(Target(name=safe, values=values))
    return targets
