"""High resolution: tiled evaluation gives the whole image's loss and gradient, and tiling turns on
where the whole image does not fit."""

import numpy as np
import pytest
from PIL import Image

from neural_style import images
from neural_style.plan import memory
from neural_style.commands.cli import main
from neural_style.config import StyleConfig
from neural_style.errors import NeuralStyleError
from neural_style.plan.memory import CPU_MODEL, plan_memory
from neural_style.config import DEFAULT_TILE_HALO, TILE_ALIGNMENT as ALIGNMENT
from neural_style.objective.tiled import axis_spans, tile_grid

from tests.helpers import IMAGES, refused


def test_tile_interiors_partition_the_image_on_multiples_of_16():
    for length, tile, halo in [(96, 48, 64), (100, 48, 16), (1365, 1024, 64), (2731, 512, 64), (40, 256, 64)]:
        spans = axis_spans(length, tile, halo)
        assert spans[0].inner_start == 0 and spans[-1].inner_end == length
        for before, after in zip(spans, spans[1:]):
            assert before.inner_end == after.inner_start
        for span in spans:
            assert span.inner_start % ALIGNMENT == 0 and span.start % ALIGNMENT == 0
            assert span.inner_end - span.inner_start <= tile
            assert span.start == max(0, span.inner_start - halo) and span.end == min(length, span.inner_end + halo)
    assert len(axis_spans(40, 256, 64)) == 1  # a tile larger than the image is the image
    assert len(tile_grid(170, 256, 128, 64)) == 4
    with pytest.raises(ValueError):
        axis_spans(100, 50, 16)


def pictures(width, height, style_scale=1.0):
    content = Image.open(f"{IMAGES}/chelsea.jpg").convert("RGB").resize((width, height), Image.LANCZOS)
    style = Image.open(f"{IMAGES}/swirls.jpg").convert("RGB")
    style = style.resize((round(width * style_scale), round(width * style_scale * 0.75)), Image.LANCZOS)
    return images.to_array(content), [images.to_array(style)]


def whole_and_tiled(extractor, config, content, styles, tile):
    """Loss, terms and gradient of the whole-image and the tiled objective at a content-plus-noise image."""
    import tensorflow as tf

    from neural_style.objective.build import build_objective
    from neural_style.features.network_input import preprocess

    image = preprocess(content) + np.random.default_rng(0).normal(0, 20, (1,) + content.shape).astype(np.float32)
    image = tf.constant(image, tf.float32)
    whole = build_objective(config, extractor, content, styles).loss_and_gradient(image)
    tiled = build_objective(config, extractor, content, styles, tile).loss_and_gradient(image)
    return [(float(total), terms.numpy(), gradient.numpy()) for total, terms, gradient in (whole, tiled)]


@pytest.mark.parametrize("width, height, tile, halo, normalization", [
    (96, 64, 48, DEFAULT_TILE_HALO, "mean"),      # the example: 96 px in 48 px tiles
    (100, 67, 32, DEFAULT_TILE_HALO, "mean"),     # odd sizes: the last tiles end off the 16 px grid
    (96, 64, 256, DEFAULT_TILE_HALO, "mean"),     # a tile larger than the image
    (192, 128, 48, DEFAULT_TILE_HALO, "chapter"),  # the halo does not reach across: the default's own error
])
def test_tiled_loss_and_gradient_match_the_whole_image(extractor, width, height, tile, halo, normalization):
    config = StyleConfig(styles=["style"], precision="float32", tile_halo=halo, style_normalization=normalization)
    content, styles = pictures(width, height)
    (loss, terms, gradient), (tiled_loss, tiled_terms, tiled_gradient) = whole_and_tiled(
        extractor, config, content, styles, tile)
    assert abs(tiled_loss - loss) <= 1e-3 * abs(loss)
    np.testing.assert_allclose(tiled_terms, terms, rtol=1e-3, atol=1e-6)
    assert np.linalg.norm(tiled_gradient - gradient) <= 1e-2 * np.linalg.norm(gradient)


def test_a_narrow_halo_is_measurably_wrong(extractor):
    # The comparison above can fail: with no halo, tile borders cut the network's context.
    config = StyleConfig(styles=["style"], precision="float32", tile_halo=0)
    content, styles = pictures(192, 128)
    (_, _, gradient), (_, _, tiled_gradient) = whole_and_tiled(extractor, config, content, styles, 48)
    assert np.linalg.norm(tiled_gradient - gradient) > 0.1 * np.linalg.norm(gradient)


def test_tiled_targets_and_gram_sums_match_the_whole_image(extractor):
    import tensorflow as tf

    from neural_style.features.network_input import preprocess
    from neural_style.objective.build import build_targets, terms_for
    from neural_style.objective.gram_style import gram_matrix
    from neural_style.objective.tiled import TiledFeatures, activation_counts

    config = StyleConfig(styles=["style"], precision="float32")
    terms = terms_for(config)
    content, styles = pictures(160, 112, style_scale=1.5)  # a style image larger than the content
    whole = build_targets(config, extractor, terms, content, styles)
    tiled = build_targets(config, extractor, terms, content, styles, 48)
    for name, target in whole["content"].items():
        np.testing.assert_allclose(tiled["content"][name].numpy(), target.numpy(), rtol=1e-4, atol=1e-3)
    for name, gram in whole["style"].items():
        np.testing.assert_allclose(tiled["style"][name].numpy(), gram.numpy(), rtol=1e-4,
                                   atol=1e-4 * float(tf.reduce_max(tf.abs(gram))))
    image = tf.constant(preprocess(content))
    style_term = terms[1]
    statistics = TiledFeatures(extractor.model, [style_term], 48, DEFAULT_TILE_HALO).sums(image)
    gram = statistics["style"]["block3_conv1"]
    features = extractor.model(image)["block3_conv1"]
    counts = activation_counts(image.shape[1], image.shape[2], ["block3_conv1"], {"block3_conv1": features.shape[-1]})
    assert counts["block3_conv1"] == float(tf.size(features))
    np.testing.assert_allclose((gram / counts["block3_conv1"]).numpy(), gram_matrix(features).numpy(),
                               rtol=1e-4, atol=1e-6)


def test_memory_plan_tiles_only_what_does_not_fit_whole():
    output = [(4096, 2731), (4096, 3072)]
    whole = plan_memory(512, [(512, 341)], 10, available=20e9)
    assert whole.tile == 0
    tiled = plan_memory(4096, output, 10, available=20e9)
    assert tiled.tile in memory.AUTO_TILE_SIZES and tiled.needed <= 20e9 < tiled.untiled_needed
    larger = [tile for tile in memory.AUTO_TILE_SIZES if tile > tiled.tile]
    assert all(CPU_MODEL.tiled(4096 * 2731, tile, 64, 10) > 20e9 for tile in larger)  # the largest that fits
    assert "tiles" in tiled.describe() and "20.0 GB is available" in tiled.describe()
    assert plan_memory(4096, output, 10, tile_size=512, available=20e9).tile == 512
    assert plan_memory(256, [(256, 170)], 10, tile_size=512, available=20e9).tile == 0  # one tile: whole
    with pytest.raises(NeuralStyleError, match=r"in 256 px tiles .* use --size \d+ or less"):
        plan_memory(30000, [(30000, 20000)], 10, available=20e9)
    with pytest.raises(NeuralStyleError, match="or --tile-size auto"):
        plan_memory(4096, output, 10, tile_size=0, available=20e9)


@pytest.mark.parametrize("flags, message", [
    (["--tile-size", "50"], "--tile-size must be a multiple of 16 px, got 50: use --tile-size 48"),
    (["--tile-size", "-16"], "--tile-size must be an integer >= 0"),
    (["--tile-size", "big"], "expected a whole number or 'auto'"),
    (["--tile-halo", "40"], "--tile-halo must be a multiple of 16 px, got 40: use --tile-halo 32"),
])
def test_bad_tile_options_get_one_line(small_images, tmp_path, capsys, flags, message):
    content, style = small_images
    refused(capsys, [content, style, "-o", str(tmp_path / "o.png"), *flags], message, folder=str(tmp_path))


def test_tiling_turns_on_by_itself_where_the_whole_image_does_not_fit(small_images, tmp_path, capsys, monkeypatch):
    content, style = small_images
    # Make this machine too small for the whole 96 px picture, but not for 48 px tiles with a 16 px halo.
    pixels = 96 * 64
    whole = memory.CPU_MODEL.whole(96 * 72, 10)  # the style image (96 x 72) is the largest
    tiled = memory.CPU_MODEL.tiled(pixels, 48, 16, 10)
    assert tiled < whole
    monkeypatch.setattr(memory, "AUTO_TILE_SIZES", (48,))
    monkeypatch.setattr(memory, "onednn_kernels", lambda: False)  # the run's model is the estimates' (CPU_MODEL's)
    monkeypatch.setattr("neural_style.plan.memory.available_memory_bytes", lambda: (tiled + whole) / 2)
    output = tmp_path / "o.png"
    status = main([content, style, "-o", str(output), "--size", "96", "--iterations", "4", "--scales", "2",
                   "--tile-halo", "16", "--no-log", "--snapshot-every", "0", "--precision", "float32"])
    captured = capsys.readouterr()
    out = captured.out + captured.err
    assert status == 0 and output.exists()
    # Only the last scale (96 px) needs tiles; the first (68 px) fits whole.
    assert "scale 2/2: 96x64 evaluated in 48 px tiles" in out and "whole it needs about" in out
    assert "scale 1/2: 68x45 evaluated" not in out
    assert "peak memory" in out
