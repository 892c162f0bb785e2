"""The Python API a notebook uses: options, optimisers, init, blending, early stop, failed writes."""

import os

import numpy as np
import pytest
from PIL import Image

from neural_style import NeuralStyleError, StyleConfig, stylize
from neural_style.images import save_image

from tests.helpers import FAST


def test_stylize_returns_image_and_history_without_writing(small_images, tmp_path):
    content, style = small_images
    before = set(os.listdir(tmp_path))
    result = stylize(content, style, **FAST)
    assert result.image.shape == (32, 48, 3) and result.image.dtype == np.uint8
    assert [r.iteration for r in result.history] == list(range(1, 7))
    assert result.stop_reason == "done" and result.evaluations >= 6
    assert result.history[-1].total < result.history[0].total
    assert set(os.listdir(tmp_path)) == before  # no output path, nothing written
    assert result.to_pil().size == (48, 32)


def test_accepts_pillow_images_and_arrays_as_the_same_pictures_as_files(small_images):
    content, style = small_images
    from_files = stylize(content, style, seed=1, **FAST)
    from_objects = stylize(Image.open(content), np.asarray(Image.open(style).convert("RGB")), seed=1, **FAST)
    np.testing.assert_array_equal(from_objects.image, from_files.image)  # a channel swap would differ
    assert [r.total for r in from_objects.history] == [r.total for r in from_files.history]
    swapped = stylize(np.asarray(Image.open(content).convert("RGB"))[..., ::-1].copy(), style, seed=1, **FAST)
    assert not np.array_equal(swapped.image, from_files.image)  # ... as this one does


def test_adam_lowers_the_loss(small_images):
    content, style = small_images
    result = stylize(content, style, learning_rate=5.0, **dict(FAST, optimizer="adam", iterations=15))
    assert result.evaluations == 15
    assert result.history[-1].total < 0.8 * result.history[0].total


def test_same_seed_gives_the_same_image(small_images):
    content, style = small_images
    first = stylize(content, style, **dict(FAST, init="random", seed=7))
    second = stylize(content, style, **dict(FAST, init="random", seed=7))
    other = stylize(content, style, **dict(FAST, init="random", seed=8))
    np.testing.assert_array_equal(first.image, second.image)
    assert not np.array_equal(first.image, other.image)


def test_init_from_a_file_resumes_from_that_image(small_images, tmp_path):
    content, style = small_images
    first = stylize(content, style, **FAST)
    snapshot = str(tmp_path / "snapshot.png")
    save_image(snapshot, first.image)
    resumed = stylize(content, style, **dict(FAST, iterations=1, init=snapshot))
    fresh = stylize(content, style, **dict(FAST, iterations=1))
    assert resumed.history[0].total < fresh.history[0].total


def test_two_styles_blend(small_images, tmp_path):
    content, style = small_images
    red = str(tmp_path / "red.png")
    Image.new("RGB", (64, 48), (220, 30, 30)).save(red)
    only_red = stylize(content, [style, red], style_blend_weights=[0, 1], **FAST)
    only_swirls = stylize(content, [style, red], style_blend_weights=[1, 0], **FAST)
    assert only_red.image[..., 0].mean() > only_swirls.image[..., 0].mean() + 10


def test_original_colors_keep_the_content_palette(small_images):
    content, style = small_images
    kept = stylize(content, style, original_colors=True, **FAST)
    plain = stylize(content, style, **FAST)
    photo = np.asarray(Image.open(content).convert("RGB").resize((48, 32)), float)
    # The cat photo is warm (red > blue); the swirl painting is blue.
    warmth = lambda image: image[..., 0].mean() - image[..., 2].mean()  # noqa: E731
    assert warmth(kept.image.astype(float)) > warmth(plain.image.astype(float)) + 20
    assert warmth(kept.image.astype(float)) == pytest.approx(warmth(photo), abs=25)


def test_on_step_can_stop_the_run(small_images, tmp_path):
    content, style = small_images
    output = str(tmp_path / "stopped.png")

    def stop_after_three(step):
        if step.iteration == 3:
            raise StopIteration

    result = stylize(content, style, output, on_step=stop_after_three, **dict(FAST, iterations=50))
    assert result.stop_reason == "stopped" and result.iterations == 3
    assert os.path.exists(output) and len(result.history) == 3


def test_a_failed_snapshot_write_is_reported_once_and_the_run_goes_on(small_images, tmp_path, monkeypatch):
    import io

    from neural_style.watch import record as outputs

    content, style = small_images
    output = str(tmp_path / "out.png")
    real_save = outputs.save_image

    def full_disk(path, pixels):
        if "_at_iteration_" in path:
            raise OSError(28, "No space left on device", path)
        real_save(path, pixels)

    monkeypatch.setattr(outputs, "save_image", full_disk)
    stream = io.StringIO()
    result = stylize(content, style, output, stream=stream,
                     **dict(FAST, quiet=False, snapshot_every=1, print_every=100))
    assert result.stop_reason == "done" and os.path.exists(output)
    assert stream.getvalue().count("No space left on device") == 1
    assert result.snapshots == []


def test_loss_weight_defaults_follow_the_weight_source(tmp_path):
    from neural_style.config import LossWeights

    assert StyleConfig(content="a.jpg", styles="b.jpg").styles == ("b.jpg",)  # one style, not a list of letters
    # The numbers README.md and --help state: Gatys' network, and Caffe ImageNet (also for a user's file).
    assert StyleConfig().resolved_loss_weights() == LossWeights(content=1.0, style=1e5, tv=1e-3)
    assert StyleConfig(weights="imagenet").resolved_loss_weights() == LossWeights(content=5.0, style=100.0, tv=3e-2)
    weights_file = tmp_path / "mine.weights.h5"
    weights_file.write_bytes(b"")
    assert StyleConfig(weights=str(weights_file)).resolved_loss_weights() == LossWeights(5.0, 100.0, 3e-2)
    # One weight given: the others keep the source's defaults.
    assert StyleConfig(style_weight=3.0).resolved_loss_weights() == LossWeights(1.0, 3.0, 1e-3)
    assert StyleConfig(weights="imagenet", tv_weight=0.0).resolved_loss_weights() == LossWeights(5.0, 100.0, 0.0)


def test_color_match_paints_in_the_photos_colours(small_images):
    """With --color-match the result's mean colour moves towards the photo's (the swirls are blue, the cat is not)."""
    content, style = small_images
    photo = np.asarray(Image.open(content).convert("RGB").resize((48, 32)), float).reshape(-1, 3).mean(0)
    plain = stylize(content, style, seed=2, **dict(FAST, iterations=8, scales=1))
    matched = stylize(content, style, seed=2, color_match=True, **dict(FAST, iterations=8, scales=1))

    def distance(result):
        return np.linalg.norm(result.image.reshape(-1, 3).astype(float).mean(0) - photo)

    assert distance(matched) < 0.5 * distance(plain)


@pytest.mark.parametrize("name, options", [("out.tif", {}), ("out.png", {"output_bits": 16}),
                                           ("kept.tif", {"original_colors": True})])
def test_a_16_bit_output_keeps_the_picture_unrounded(small_images, tmp_path, name, options):
    cv2 = pytest.importorskip("cv2", reason="16-bit output needs the video extra's OpenCV")
    content, style = small_images
    result = stylize(content, style, str(tmp_path / name), **dict(FAST, iterations=3), **options)
    written = cv2.imread(str(tmp_path / name), cv2.IMREAD_UNCHANGED)
    assert written.dtype == np.uint16 and written.shape == result.image.shape
    rgb = written[..., ::-1].astype(float)
    assert np.any(written % 257 != 0)  # values between 8-bit levels: not an 8-bit picture scaled up
    # The same picture as the 8-bit result: within its rounding, and Pillow's 8-bit YCbCr for --original-colors.
    assert np.abs(rgb / 257.0 - result.image).max() <= (4.0 if options.get("original_colors") else 1.0)


def test_a_16_bit_output_needs_a_png_or_tiff(small_images, tmp_path):
    content, style = small_images
    before = set(os.listdir(tmp_path))
    with pytest.raises(NeuralStyleError, match="cannot be written as .jpg"):
        stylize(content, style, str(tmp_path / "out.jpg"), output_bits=16, **FAST)
    assert set(os.listdir(tmp_path)) == before  # nothing written
