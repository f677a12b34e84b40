"""AU trajectory scripts for ``reenact animate``: keyframes of AUs or presets, eased and layered.

A script is YAML or JSON::

    fps: 25                 # frames per second of the output
    duration: 4.0           # seconds (default: up to and including the last keyframe)
    relative: false         # true: add the values to the source face's own AUs
    layers:                 # or a single top-level `keyframes:` list
      - name: smile
        keyframes:
          - {t: 0.0, preset: neutral}
          - {t: 1.0, preset: happy, intensity: 0.8, ease: ease-in-out}
          - {t: 3.0, aus: {AU12: 0.4, AU25: 0.2}, ease: hold}
      - name: blinks
        blend: max          # max (default) | add | over
        keyframes:
          - {t: 1.50, preset: neutral}
          - {t: 1.58, preset: blink}
          - {t: 1.70, preset: neutral}

A keyframe sets AU values at time ``t`` (seconds) from a ``preset`` (``reenact.au.space.PRESETS``: the
7 emotion prototypes, blink, wink_left/right, half smiles, neutral) scaled by ``intensity``,
and/or explicit ``aus`` (which win over the preset's values). ``ease`` is how the value travels
from the previous keyframe to this one: ``linear`` (default), ``ease-in-out`` (smoothstep) or
``hold`` (stay at the previous value, jump at ``t``). Before the first keyframe a layer holds
its first value, after the last one its last value.

Layers are combined in order: ``max`` takes the larger value per AU, ``add`` adds (clipped to
[0, 1]), ``over`` replaces the AUs that the layer's keyframes name and leaves the others.

An AU table (ours, OpenFace or py-feat CSV, ``reenact.au.tables.read_au_table``) is a valid script
too: its rows are the frames, at its own frame rate.

A bad script fails with a ``ScriptError`` naming the file, the line and the field.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import yaml

from reenact.au.smoothing import fill_gaps
from reenact.au.space import PRESETS, TABLE_AU_NAMES, preset, sync_bilateral
from reenact.au.tables import read_au_table
from reenact.errors import InputError, ScriptError

EASINGS = ("linear", "ease-in-out", "hold")
BLENDS = ("max", "add", "over")
TABLE_SUFFIXES = (".csv", ".tsv", ".txt")
MAX_FRAMES = 100_000
_TOP_KEYS = {"fps", "duration", "relative", "layers", "keyframes"}
_LAYER_KEYS = {"name", "blend", "keyframes"}
_KEY_KEYS = {"t", "preset", "intensity", "aus", "ease"}


@dataclass(frozen=True, eq=False)
class AUScript:
    """A rendered-out AU trajectory.

    Attributes:
        values: (T, 23) float32 AU values in [0, 1], ``TABLE_AU_NAMES`` order, one row per frame.
        fps: frames per second.
        relative: add ``values`` to the source face's own AUs (True) or use them as they are.
        path: the script file.
    """

    values: np.ndarray
    fps: float
    relative: bool
    path: Path | None = None

    def __len__(self) -> int:
        return len(self.values)


@dataclass(frozen=True)
class Keyframe:
    t: float
    values: np.ndarray  # (23,)
    named: np.ndarray  # (23,) bool: AUs this keyframe names (for blend "over")
    ease: str


class _Where:
    """Turns a field path into 'file: line N: path' using the YAML node marks."""

    def __init__(self, path: Path | None, lines: dict[tuple, int]):
        self.path, self.lines = path, lines

    def error(self, where: tuple, message: str) -> ScriptError:
        probe = where
        while probe and probe not in self.lines:
            probe = probe[:-1]
        line = self.lines.get(probe)
        field = "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in where).lstrip(".")
        parts = [str(self.path) if self.path else "script"]
        if line is not None:
            parts.append(f"line {line}")
        if field:
            parts.append(field)
        return ScriptError(f"{': '.join(parts)}: {message}")


def _line_map(node, where: tuple = (), lines: dict | None = None) -> dict[tuple, int]:
    """Line (1-based) of every field of a composed YAML node tree, keyed by its path."""
    lines = {} if lines is None else lines
    lines[where] = node.start_mark.line + 1
    if isinstance(node, yaml.MappingNode):
        for key, value in node.value:
            k = key.value
            _line_map(value, (*where, k), lines)
            lines[(*where, k)] = key.start_mark.line + 1
    elif isinstance(node, yaml.SequenceNode):
        for i, item in enumerate(node.value):
            _line_map(item, (*where, i), lines)
    return lines


def parse_text(text: str, path: Path | None = None):
    """YAML/JSON text -> (data, _Where). Syntax errors name their line."""
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
        data = yaml.load(text, Loader=yaml.SafeLoader)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = f"line {mark.line + 1}: " if mark is not None else ""
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise ScriptError(f"{path or 'script'}: {line}not valid YAML/JSON ({problem})") from exc
    lines = _line_map(node) if node is not None else {}
    return data, _Where(path, lines)


def _number(value, where: _Where, at: tuple, *, lo: float | None = None, hi: float | None = None,
            positive: bool = False) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not np.isfinite(value):
        raise where.error(at, f"must be a number, got {value!r}")
    if positive and value <= 0:
        raise where.error(at, f"must be > 0, got {value}")
    if lo is not None and value < lo or hi is not None and value > hi:
        raise where.error(at, f"must be in [{lo}, {hi}], got {value}")
    return float(value)


def _keyframe(raw, where: _Where, at: tuple) -> Keyframe:
    if not isinstance(raw, dict):
        raise where.error(at, "a keyframe must be a mapping like {t: 1.0, preset: happy}")
    unknown = set(raw) - _KEY_KEYS
    if unknown:
        raise where.error((*at, sorted(map(str, unknown))[0]),
                          f"unknown field; use {', '.join(sorted(_KEY_KEYS))}")
    if "t" not in raw:
        raise where.error(at, "missing field t (the keyframe's time in seconds)")
    t = _number(raw["t"], where, (*at, "t"), lo=0.0)
    if "preset" not in raw and "aus" not in raw:
        raise where.error(at, "a keyframe needs a preset or aus")
    values = np.zeros(len(TABLE_AU_NAMES), np.float32)
    named = np.zeros(len(TABLE_AU_NAMES), bool)
    if "preset" in raw:
        name = raw["preset"]
        if name not in PRESETS:
            raise where.error((*at, "preset"), f"unknown preset {name!r}; known: {', '.join(PRESETS)}")
        intensity = _number(raw.get("intensity", 1.0), where, (*at, "intensity"), lo=0.0, hi=1.0)
        values = preset(name, intensity)
        named |= values > 0
        if name == "neutral":
            named[:] = True
    elif "intensity" in raw:
        raise where.error((*at, "intensity"), "intensity scales a preset; this keyframe has none")
    if "aus" in raw:
        values, named = _explicit_aus(raw["aus"], values, named, where, (*at, "aus"))
    ease = raw.get("ease", "linear")
    if ease not in EASINGS:
        raise where.error((*at, "ease"), f"unknown easing {ease!r}; use {', '.join(EASINGS)}")
    return Keyframe(t=t, values=values, named=named, ease=ease)


def _explicit_aus(aus, values, named, where: _Where, at: tuple):
    if not isinstance(aus, dict) or not aus:
        raise where.error(at, "aus must be a mapping like {AU12: 0.8, AU45_L: 1.0}")
    idx = {n: i for i, n in enumerate(TABLE_AU_NAMES)}
    values = values.copy()
    for name, v in aus.items():
        key = str(name).upper()
        if key not in idx:
            raise where.error((*at, name), f"unknown AU; known: {', '.join(TABLE_AU_NAMES)}")
        value = _number(v, where, (*at, name), lo=0.0, hi=1.0)
        cols = [key] + ([f"{key}_L", f"{key}_R"] if f"{key}_L" in idx else [])
        for c in cols:
            values[idx[c]] = value
            named[idx[c]] = True
        if key.endswith(("_L", "_R")):
            named[idx[key[:-2]]] = True
    return sync_bilateral(values[None])[0], named


def _ease(u: np.ndarray, kind: str) -> np.ndarray:
    if kind == "hold":
        return np.zeros_like(u)
    if kind == "ease-in-out":
        return u * u * (3.0 - 2.0 * u)
    return u


def sample_layer(keys: list[Keyframe], times: np.ndarray) -> np.ndarray:
    """Values (T, 23) of one layer's keyframes (sorted by t) at ``times`` (T,) seconds."""
    ts = np.array([k.t for k in keys])
    vals = np.stack([k.values for k in keys])  # (K, 23)
    out = np.empty((len(times), vals.shape[1]), np.float32)
    seg = np.clip(np.searchsorted(ts, times, side="right"), 1, len(keys) - 1) if len(keys) > 1 else None
    if seg is None:
        out[:] = vals[0]
        return out
    for i, t in enumerate(times):
        if t <= ts[0]:
            out[i] = vals[0]
        elif t >= ts[-1]:
            out[i] = vals[-1]
        else:
            j = seg[i]
            span = max(ts[j] - ts[j - 1], 1e-9)
            u = np.clip((t - ts[j - 1]) / span, 0.0, 1.0)
            w = _ease(np.array(u), keys[j].ease)
            out[i] = vals[j - 1] + w * (vals[j] - vals[j - 1])
    return out


def _layers(data: dict, where: _Where) -> list[tuple[tuple, dict]]:
    if "layers" in data and "keyframes" in data:
        raise where.error(("keyframes",), "give either layers or keyframes, not both")
    if "keyframes" in data:
        return [((), {"keyframes": data["keyframes"]})]
    layers = data.get("layers")
    if not isinstance(layers, list) or not layers:
        raise where.error(("layers",) if "layers" in data else (), "a script needs keyframes or layers")
    out = []
    for i, layer in enumerate(layers):
        if not isinstance(layer, dict):
            raise where.error(("layers", i), "a layer must be a mapping with keyframes")
        unknown = set(layer) - _LAYER_KEYS
        if unknown:
            raise where.error(("layers", i, sorted(map(str, unknown))[0]),
                              f"unknown field; use {', '.join(sorted(_LAYER_KEYS))}")
        out.append((("layers", i), layer))
    return out


def _parse_layers(data: dict, where: _Where) -> tuple[list[tuple[list[Keyframe], str]], float]:
    """The script's layers as (sorted keyframes, blend) and the last keyframe time."""
    parsed = []
    last_t = 0.0
    for at, layer in _layers(data, where):
        keys_raw = layer.get("keyframes")
        if not isinstance(keys_raw, list) or not keys_raw:
            raise where.error((*at, "keyframes"), "must be a non-empty list of keyframes")
        keys = [_keyframe(k, where, (*at, "keyframes", j)) for j, k in enumerate(keys_raw)]
        for j in range(1, len(keys)):
            if keys[j].t < keys[j - 1].t:
                raise where.error((*at, "keyframes", j, "t"), "keyframe times must not decrease")
        blend = layer.get("blend", "max")
        if blend not in BLENDS:
            raise where.error((*at, "blend"), f"unknown blend {blend!r}; use {', '.join(BLENDS)}")
        parsed.append((keys, blend))
        last_t = max(last_t, keys[-1].t)
    return parsed, last_t


def _combine(parsed: list[tuple[list[Keyframe], str]], times: np.ndarray) -> np.ndarray:
    """Sample every layer at ``times`` and blend them in order -> (T, 23)."""
    values = np.zeros((len(times), len(TABLE_AU_NAMES)), np.float32)
    for i, (keys, blend) in enumerate(parsed):
        layer = sample_layer(keys, times)
        if i == 0:
            values = layer
        elif blend == "max":
            values = np.maximum(values, layer)
        elif blend == "add":
            values = values + layer
        else:
            named = np.logical_or.reduce([k.named for k in keys])
            values[:, named] = layer[:, named]
    return values


def build_script(data, where: _Where, path: Path | None = None) -> AUScript:
    """Validate parsed script data and sample it at every frame."""
    if not isinstance(data, dict):
        raise where.error((), "a script must be a mapping with fps and keyframes (or layers)")
    unknown = set(data) - _TOP_KEYS
    if unknown:
        raise where.error((sorted(map(str, unknown))[0],),
                          f"unknown field; use {', '.join(sorted(_TOP_KEYS))}")
    fps = _number(data.get("fps", 25), where, ("fps",), positive=True)
    relative = data.get("relative", False)
    if not isinstance(relative, bool):
        raise where.error(("relative",), f"must be true or false, got {relative!r}")
    parsed, last_t = _parse_layers(data, where)
    if "duration" in data:
        n = int(round(_number(data["duration"], where, ("duration",), positive=True) * fps))
    else:  # up to and including the last keyframe
        n = int(round(last_t * fps)) + 1
    n = max(n, 1)
    if n > MAX_FRAMES:
        raise where.error(("duration",), f"{n} frames is too many (max {MAX_FRAMES}); shorten the script")
    values = _combine(parsed, np.arange(n) / fps)
    return AUScript(values=sync_bilateral(np.clip(values, 0.0, 1.0)), fps=fps, relative=relative, path=path)


def load_script(path: str | os.PathLike, *, fps: float | None = None) -> AUScript:
    """Read a YAML/JSON script or an AU table (CSV) as an ``AUScript``.

    Args:
        path: the script or table.
        fps: frame rate for an AU table without timestamps (ignored for scripts).

    Raises:
        ScriptError: a malformed script, naming its line and field.
        InputError: a missing file or unreadable table.
    """
    path = Path(path)
    if path.is_dir():
        raise InputError(f"script {path} is a folder; give a YAML/JSON script or an AU table (.csv)")
    if not path.is_file():
        raise InputError(f"script {path} does not exist; check the path")
    if path.suffix.lower() in TABLE_SUFFIXES:
        return _table_script(path, fps)
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise ScriptError(f"{path}: not a text file; give a YAML/JSON script or an AU table (.csv)") from exc
    data, where = parse_text(text, path)
    return build_script(data, where, path)


def _table_script(path: Path, fps: float | None) -> AUScript:
    track = read_au_table(path)
    rate = track.fps if track.fps > 0 else fps
    if not rate:
        raise ScriptError(f"{path}: the AU table has no timestamps; give its frame rate with --fps")
    values = track.values
    if np.isnan(values).all():
        raise ScriptError(f"{path}: the AU table has no row with values")
    if np.isnan(values).any():
        values = fill_gaps(values, policy="hold")
    return AUScript(values=sync_bilateral(np.clip(values, 0.0, 1.0)), fps=float(rate), relative=False,
                    path=path)
