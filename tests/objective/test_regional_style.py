"""Masks and regional styles: the regional term against NumPy, one white mask equal to no mask, the tiled
evaluation equal to the whole, each half of a two-mask picture nearer its own style, and bad masks refused."""

import numpy as np
import pytest
import tensorflow as tf
from PIL import Image

from neural_style.config import StyleConfig
from neural_style.images import Masks
from neural_style.objective.gram_style import GramStyleTerm
from neural_style.objective.regional_style import RegionalStyleTerm
from tests.helpers import FAST, IMAGES, photo, refused


def numpy_guided_gram_loss(features, guide, style, style_guide):
    """Sum over regions of share_k * mean((G_k / n_k - S_k / m_k)^2): G_k the Gram matrix with positions weighted
    by region k's guide, n_k = C * its mass; S_k likewise over the style's positions."""
    x = features.reshape(-1, features.shape[-1]).astype(np.float64)
    s = style.reshape(-1, style.shape[-1]).astype(np.float64)
    channels = x.shape[1]
    total = 0.0
    for k in range(guide.shape[-1]):
        w, v = guide[..., k].reshape(-1), style_guide[..., k].reshape(-1)
        gram = (x * w[:, None]).T @ x / (channels * w.sum())
        target = (s * v[:, None]).T @ s / (channels * v.sum())
        total += (w.sum() / w.size) * np.mean((gram - target) ** 2)
    return total


def regional(regions=2):
    inner = GramStyleTerm(weight=1.0, layers=("block1_conv1",), layer_weights=(1.0,))
    return RegionalStyleTerm(name="style", weight=1.0, layers=inner.layers, inner=inner,
                             region_weights=(1.0,) * regions)


def test_the_regional_gram_loss_is_the_guided_gram_matrices_of_gatys_2017():
    rng = np.random.default_rng(0)
    features = rng.normal(size=(1, 6, 8, 5)).astype(np.float32)
    style = np.abs(rng.normal(size=(1, 7, 4, 5))).astype(np.float32)
    guide = rng.uniform(size=(1, 6, 8, 2)).astype(np.float32)  # grey masks, overlapping
    style_guide = rng.uniform(size=(1, 7, 4, 2)).astype(np.float32)
    term = regional()
    target = term.finish_target(term.target_from_statistics(term.statistics(tf.constant(style), style_guide), None))
    got = float(term.loss(None, {"block1_conv1": tf.constant(features)}, {"block1_conv1": target}, guide))
    assert got == pytest.approx(numpy_guided_gram_loss(features, guide, style, style_guide), rel=1e-4)


def test_an_empty_region_adds_nothing_and_keeps_the_gradient_finite():
    rng = np.random.default_rng(1)
    features = tf.constant(rng.normal(size=(1, 4, 4, 3)).astype(np.float32))
    style = tf.constant(rng.normal(size=(1, 4, 4, 3)).astype(np.float32))
    term = regional()
    style_guide = np.ones((1, 4, 4, 2), np.float32)
    target = term.finish_target(term.target_from_statistics(term.statistics(style, style_guide), None))
    guide = np.zeros((1, 4, 4, 2), np.float32)
    guide[..., 0] = 1.0  # region 2 covers nothing
    with tf.GradientTape() as tape:
        tape.watch(features)
        value = term.loss(None, {"block1_conv1": features}, {"block1_conv1": target}, guide)
    one_region = regional(1)
    alone = one_region.loss(None, {"block1_conv1": features}, {"block1_conv1": target[:1]}, guide[..., :1])
    assert float(value) == pytest.approx(float(alone), rel=1e-6)
    assert np.isfinite(tape.gradient(value, features).numpy()).all()


@pytest.fixture(scope="module")
def pictures():
    from neural_style import images
    from neural_style.features.network_input import preprocess

    content = photo(96, 64)
    styles = [images.to_array(Image.open(f"{IMAGES}/{name}").convert("RGB").resize((80, 64)))
              for name in ("swirls.jpg", "chelsea.jpg")]
    image = tf.constant(preprocess(content) + np.random.default_rng(0).normal(0, 20, (1, 64, 96, 3)).astype(np.float32))
    return content, styles, image


@pytest.mark.parametrize("style_loss", ["gram", "wasserstein"])
def test_one_white_mask_is_no_mask(extractor, pictures, style_loss):
    from neural_style.objective.build import build_objective

    content, styles, image = pictures
    plain = StyleConfig(styles=["s"], precision="float32", style_loss=style_loss)
    masked = plain.with_options(masks=["white"])
    whole = build_objective(plain, extractor, content, styles[:1]).loss_and_gradient(image)
    white = build_objective(masked, extractor, content, styles[:1],
                            masks=Masks(np.ones((64, 96, 1), np.float32))).loss_and_gradient(image)
    np.testing.assert_allclose(white.terms.numpy(), whole.terms.numpy(), rtol=2e-4)
    assert np.linalg.norm(white.gradient - whole.gradient) <= 1e-3 * np.linalg.norm(whole.gradient)


@pytest.mark.parametrize("style_loss", ["gram", "wasserstein"])
def test_masked_tiled_evaluation_matches_the_whole_image(extractor, pictures, style_loss):
    from neural_style.objective.build import build_objective

    content, styles, image = pictures
    config = StyleConfig(styles=["a", "b"], precision="float32", style_loss=style_loss, masks=["m1", "m2"],
                         style_masks=["s1", "s2"])
    ramp = np.linspace(0, 1, 96, dtype=np.float32)[np.newaxis, :].repeat(64, 0)
    style_ramp = np.linspace(1, 0, 64, dtype=np.float32)[:, np.newaxis].repeat(80, 1)
    masks = Masks(np.stack([ramp, 1 - ramp], -1), [style_ramp, np.ones((64, 80), np.float32)])
    whole = build_objective(config, extractor, content, styles, masks=masks).loss_and_gradient(image)
    tiled = build_objective(config, extractor, content, styles, 32, masks=masks).loss_and_gradient(image)
    np.testing.assert_allclose(tiled.terms.numpy(), whole.terms.numpy(), rtol=1e-3)
    assert np.linalg.norm(tiled.gradient - whole.gradient) <= 1e-2 * np.linalg.norm(whole.gradient)


def test_two_masks_paint_each_half_nearer_its_own_style(tmp_path, extractor):
    """Top half masked to one painting, bottom half to the other: each half ends nearer its own painting's Gram
    matrices than the other's (measured on the halves as pictures of their own, at the final size)."""
    from neural_style import images, stylize
    from neural_style.features.network_input import preprocess
    from neural_style.objective.gram_style import gram_matrix

    height, width = 64, 96
    top = np.zeros((height, width), np.uint8)
    top[:height // 2] = 255
    paths = {}
    for name, array in (("top", top), ("bottom", 255 - top)):
        paths[name] = str(tmp_path / f"{name}.png")
        Image.fromarray(array).save(paths[name])
    content = str(tmp_path / "content.png")
    Image.fromarray(photo(width, height)).save(content)
    first, second = f"{IMAGES}/swirls.jpg", f"{IMAGES}/coffee.jpg"
    result = stylize(content, [first, second], masks=[paths["top"], paths["bottom"]],
                     **dict(FAST, size=width, iterations=60, scales=1, precision="float32"))
    picture = result.image

    def grams(pixels):
        features = extractor.model(tf.constant(preprocess(pixels)))
        return [gram_matrix(features[name]).numpy() for name in ("block1_conv1", "block2_conv1", "block3_conv1")]

    def distance(pixels, style):
        return sum(np.mean((a - b) ** 2) for a, b in zip(grams(pixels), grams(style)))

    styles = [images.to_array(images.load_image(path).resize((width, height // 2))) for path in (first, second)]
    upper, lower = picture[:height // 2], picture[height // 2:]
    assert distance(upper, styles[0]) < distance(upper, styles[1])
    assert distance(lower, styles[1]) < distance(lower, styles[0])


def _mask(tmp_path, name, value, size=(128, 85)):
    path = tmp_path / name
    Image.fromarray(np.full(size[::-1], value, np.uint8)).save(path)
    return str(path)


@pytest.mark.parametrize("case, message", [
    ("count", "--masks has 1 mask but 2 style images were given"),
    ("black", "is all black"),
    ("missing", "mask #1 image"),
    ("shape", "draw the mask over that image"),
    ("style-count", "--style-masks has 1 mask but 2 style images"),
    ("reference", "drop --preset reference"),
])
def test_bad_masks_are_one_line_errors_before_any_work(small_images, tmp_path, capsys, case, message):

    content, style = small_images
    white, black = _mask(tmp_path, "white.png", 255), _mask(tmp_path, "black.png", 0)
    masks = {"count": ["--masks", white], "black": ["--masks", white, black],
             "missing": ["--masks", str(tmp_path / "nope.png"), white],
             "shape": ["--masks", white, _mask(tmp_path, "tall.png", 255, (50, 100))],
             "style-count": ["--style-masks", white],
             "reference": ["--masks", white, white, "--preset", "reference"]}[case]
    refused(capsys, [content, style, style, *masks, "-o", str(tmp_path / "out.png"), "--size", "48", "--iterations", "2"],
            message, folder=str(tmp_path))
