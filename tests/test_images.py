"""Images in and out: every common mode becomes RGB, the network convention round-trips exactly,
bad files give a one-line NeuralStyleError."""

import os

import numpy as np
import pytest
from PIL import Image

from neural_style import images
from neural_style.errors import NeuralStyleError
from neural_style.features.network_input import deprocess, pixel_bounds, preprocess
from neural_style.plan.sizes import plan_sizes, torchvision_resize_size

from tests.helpers import random_image


def test_preprocess_deprocess_round_trip_is_exact():
    every_value = np.stack(np.meshgrid(np.arange(256), np.arange(256), indexing="ij"), -1)
    pixels = np.concatenate([every_value, every_value[..., :1][:, ::-1]], axis=-1).astype(np.uint8)
    network = preprocess(pixels)
    assert network.shape == (1, 256, 256, 3) and network.dtype == np.float32
    np.testing.assert_array_equal(deprocess(network), pixels)


def test_preprocess_is_keras_caffe_convention():
    pixel = np.array([[[255, 0, 10]]], np.uint8)  # R, G, B
    bgr = preprocess(pixel)[0, 0, 0]
    np.testing.assert_allclose(bgr, [10 - 103.939, 0 - 116.779, 255 - 123.68], rtol=1e-6)


def test_pixel_bounds_match_the_0_255_range():
    low, high = pixel_bounds(2, 3)
    np.testing.assert_array_equal(deprocess(low.reshape(1, 2, 3, 3)), np.zeros((2, 3, 3), np.uint8))
    np.testing.assert_array_equal(deprocess(high.reshape(1, 2, 3, 3)), np.full((2, 3, 3), 255, np.uint8))


def _expected_rgb(rgb, mode):
    """What each mode's file should load as, computed from the source pixels with numpy."""
    pixels = np.asarray(rgb).astype(np.int64)
    grey = np.asarray(rgb.convert("L")).astype(np.int64)  # ITU-R 601 luma, Pillow's L
    if mode in ("RGB", "RGBA", "CMYK"):  # opaque alpha; Pillow's CMYK round trip is exact
        return pixels
    if mode in ("L", "LA", "I;16", "I", "F"):  # 16-bit and float values rescaled back to 0-255
        return np.repeat(grey[..., None], 3, axis=-1)
    if mode == "1":  # Floyd-Steinberg dithered: every pixel black or white
        return None
    return None  # "P": checked against its own palette below


@pytest.mark.parametrize("mode", ["L", "1", "P", "RGBA", "LA", "CMYK", "I;16", "I", "F", "RGB"])
def test_every_mode_loads_as_rgb_with_its_colours(tmp_path, mode):
    rgb = Image.fromarray(random_image(10, 12))
    if mode in ("I;16", "I", "F"):
        source = Image.fromarray((np.asarray(rgb.convert("L"), np.uint16) * 257).astype(np.uint16))
        source = source if mode == "I;16" else source.convert(mode)
    else:
        source = rgb.convert(mode)
    extension = {"CMYK": ".tiff", "I": ".tiff", "F": ".tiff"}.get(mode, ".png")
    path = tmp_path / f"image{extension}"
    source.save(path)
    loaded = images.load_image(str(path), "content")
    assert loaded.mode == "RGB" and loaded.size == (12, 10)
    got = np.asarray(loaded).astype(np.int64)
    expected = _expected_rgb(rgb, mode)
    if mode == "1":
        assert set(np.unique(got)) <= {0, 255} and (got[..., 0] == got[..., 2]).all()
        # Dithering keeps the mean brightness roughly.
        assert abs(got.mean() - np.asarray(rgb.convert("L")).mean()) < 40
    elif mode == "P":
        palette = np.asarray(source.getpalette(), np.int64).reshape(-1, 3)
        np.testing.assert_array_equal(got, palette[np.asarray(source)])
        assert np.abs(got - np.asarray(rgb)).mean() < 40  # the adaptive palette is close to the photo
    else:
        assert np.abs(got - expected).max() <= 1, mode


def test_alpha_is_composited_on_white(tmp_path):
    transparent = Image.new("RGBA", (4, 4), (255, 0, 0, 0))
    path = tmp_path / "clear.png"
    transparent.save(path)
    assert np.asarray(images.load_image(str(path))).tolist()[0][0] == [255, 255, 255]


def test_exif_orientation_is_honoured(tmp_path):
    tall = Image.fromarray(random_image(20, 10))  # 10 wide, 20 tall
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90 degrees clockwise to display
    path = tmp_path / "rotated.jpg"
    tall.save(path, exif=exif)
    assert images.load_image(str(path)).size == (20, 10)


def test_size_plan_longest_side_keeps_aspect_and_scales_the_style():
    plan = plan_sizes((300, 200), [(200, 300), (400, 400)], 150, style_scale=0.4)
    assert plan.content == (150, 100)
    assert plan.styles == [(40, 60), (60, 60)]  # longest side ceil(150 * 0.4) = 60
    assert plan.resize(Image.new("RGB", (300, 200)), plan.content).size == (150, 100)


def test_size_plan_reference_truncates_like_torchvision():
    # Resize(224) on 451 x 300: 224 * 451 / 300 = 336.7, truncated (not rounded) to 336.
    plan = plan_sizes((451, 300), [(640, 480)], 224, sizing="reference")
    assert plan.content == (336, 224) and plan.styles == [(336, 224)]
    assert torchvision_resize_size(300, 451, 224) == (224, 336)
    assert plan.resize is images.resize_to_bilinear


@pytest.mark.parametrize(
    "make, expected",
    [
        (lambda p: None, "does not exist"),
        (lambda p: os.mkdir(p), "is a folder"),
        (lambda p: open(p, "wb").close(), "empty"),
        (lambda p: open(p, "wb").write(b"this is not an image at all" * 10), "not an image"),
    ],
)
def test_bad_files_give_one_line_errors(tmp_path, make, expected):
    path = str(tmp_path / "input.png")
    make(path)
    with pytest.raises(NeuralStyleError) as error:
        images.load_image(path, "content")
    assert expected in str(error.value) and "\n" not in str(error.value)


@pytest.mark.parametrize("extension", ["jpg", "png"])
def test_truncated_files_are_refused(tmp_path, extension):
    whole = tmp_path / f"whole.{extension}"
    Image.fromarray(random_image(64, 64)).save(whole)
    data = whole.read_bytes()
    truncated = tmp_path / f"truncated.{extension}"
    truncated.write_bytes(data[: len(data) // 2])
    with pytest.raises(NeuralStyleError, match="broken or truncated"):
        images.load_image(str(truncated), "style")


def test_save_image_is_atomic_and_leaves_no_temporaries(tmp_path):
    path = tmp_path / "out.png"
    pixels = random_image(8, 8)
    images.save_image(str(path), pixels)
    np.testing.assert_array_equal(np.asarray(Image.open(path)), pixels)
    assert sorted(os.listdir(tmp_path)) == ["out.png"]


def test_luminance_transfer_keeps_content_colours():
    content = np.zeros((8, 8, 3), np.uint8)
    content[..., 0] = 200  # red
    stylised = np.full((8, 8, 3), 100, np.uint8)  # grey
    result = images.transfer_luminance(stylised, content)
    assert result[..., 0].mean() > result[..., 2].mean() + 50  # red-tinted
    grey = np.asarray(Image.fromarray(result).convert("L"), float).mean()
    assert abs(grey - 100) < 8  # the stylised image's brightness


def test_color_matching_gives_the_style_the_contents_colour_statistics():
    from neural_style.images import match_colors

    rng = np.random.default_rng(5)
    content = np.clip(rng.normal([150, 90, 60], [30, 20, 15], (40, 50, 3)), 0, 255).astype(np.uint8)
    style = np.clip(rng.normal([60, 80, 170], [25, 35, 20], (30, 60, 3)), 0, 255).astype(np.uint8)
    matched = match_colors(style, content)
    assert matched.shape == style.shape and matched.dtype == np.uint8
    flat = lambda a: a.reshape(-1, 3).astype(float)  # noqa: E731
    np.testing.assert_allclose(flat(matched).mean(0), flat(content).mean(0), atol=1.5)
    np.testing.assert_allclose(np.cov(flat(matched), rowvar=False), np.cov(flat(content), rowvar=False),
                               rtol=0.1, atol=15)
    flat_style = np.full((8, 8, 3), 90, np.uint8)  # one colour: a singular covariance, still a picture
    assert match_colors(flat_style, content).shape == (8, 8, 3)
