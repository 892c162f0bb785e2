"""A content picture with transparency gives an output with the same transparency (PNG, WebP, TIFF, 16 bits,
--original-colors, tiles); a JPEG output says, in one line, that it drops it."""

import io

import numpy as np
import pytest
from PIL import Image, ImageDraw

from neural_style import stylize
from tests.helpers import FAST


@pytest.fixture()
def transparent_photo(small_images, tmp_path):
    """The sample photo (128 x 85) with an alpha channel: a disc opaque, the rest half and fully transparent."""
    content, style = small_images
    photo = Image.open(content).convert("RGBA")
    alpha = Image.new("L", photo.size, 0)
    ImageDraw.Draw(alpha).rectangle([0, 0, 127, 20], fill=128)
    ImageDraw.Draw(alpha).ellipse([20, 10, 100, 80], fill=255)
    photo.putalpha(alpha)
    path = tmp_path / "cut-out.png"
    photo.save(path)
    return str(path), style, alpha


def expected_alpha(alpha, size):
    return np.asarray(alpha.resize(size, Image.LANCZOS))


@pytest.mark.parametrize("extension, options", [
    (".png", {}),
    (".png", {"original_colors": True}),
    (".png", {"tile_size": 32, "size": 96}),
    (".webp", {}),
    (".tif", {}),  # 16 bits per channel
])
def test_the_contents_transparency_is_kept(transparent_photo, tmp_path, extension, options):
    content, style, alpha = transparent_photo
    output = tmp_path / f"out{extension}"
    result = stylize(content, style, str(output), **dict(FAST, iterations=2, scales=1, **options))
    width, height = result.image.shape[1], result.image.shape[0]
    assert result.image.shape[2] == 4 and np.array_equal(result.image[..., 3], expected_alpha(alpha, (width, height)))
    if extension == ".tif":
        import cv2

        sixteen = cv2.imread(str(output), cv2.IMREAD_UNCHANGED)
        assert sixteen.dtype == np.uint16 and sixteen.shape == (height, width, 4)
        assert np.abs(sixteen[..., 3] / 257.0 - expected_alpha(alpha, (width, height))).max() <= 1.0
        return
    written = Image.open(output)
    assert written.mode == "RGBA"
    assert np.array_equal(np.asarray(written)[..., 3], expected_alpha(alpha, (width, height)))


def test_a_jpeg_output_says_it_drops_the_transparency(transparent_photo, tmp_path):
    content, style, _ = transparent_photo
    stream = io.StringIO()
    output = tmp_path / "out.jpg"
    result = stylize(content, style, str(output), stream=stream, **dict(FAST, iterations=2, quiet=False))
    notes = [line for line in stream.getvalue().splitlines() if "transparency" in line]
    assert notes == ["note: out.jpg cannot hold the content's transparency, so it is dropped: write a .png, .webp or "
                     ".tif to keep it"]
    assert Image.open(output).mode == "RGB" and result.image.shape[2] == 3


def test_an_opaque_photo_stays_rgb(small_images, tmp_path):
    content, style = small_images
    result = stylize(content, style, str(tmp_path / "out.png"), **dict(FAST, iterations=1))
    assert result.image.shape[2] == 3 and Image.open(tmp_path / "out.png").mode == "RGB"
