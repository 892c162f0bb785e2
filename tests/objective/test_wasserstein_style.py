"""The Wasserstein style term against NumPy/SciPy: its value, its gradient (also by finite differences), its
blend over style images, its tiled evaluation, and a run with it."""

import numpy as np
import pytest
import scipy.linalg
import tensorflow as tf

from neural_style.objective.wasserstein_style import (
    WassersteinStyleTerm,
    moment_sums,
    trace_sqrt,
    wasserstein_layer_loss,
)


def numpy_w2_per_channel(features, style_features):
    """W2^2 between Gaussians fitted to two activation sets (1 x H x W x C), divided by C, in float64."""
    x = features.reshape(-1, features.shape[-1]).astype(np.float64)
    s = style_features.reshape(-1, style_features.shape[-1]).astype(np.float64)
    mean_x, mean_s = x.mean(0), s.mean(0)
    cov_x, cov_s = np.cov(x, rowvar=False, bias=True), np.cov(s, rowvar=False, bias=True)
    root_s = np.real(scipy.linalg.sqrtm(cov_s))
    cross = np.real(scipy.linalg.sqrtm(root_s @ cov_x @ root_s))
    return (np.sum((mean_x - mean_s) ** 2) + np.trace(cov_x) + np.trace(cov_s) - 2 * np.trace(cross)) / x.shape[1]


def target_of(term, style_features):
    sums = moment_sums(tf.constant(style_features))
    return term.finish_target(term.target_from_statistics(sums, float(style_features.size)))


def layer_loss(term, features, target):
    return wasserstein_layer_loss(moment_sums(features), tf.cast(tf.size(features), tf.float32), target)


@pytest.fixture()
def activations():
    rng = np.random.default_rng(0)
    mixing = rng.normal(size=(6, 6))
    features = (rng.normal(size=(1, 7, 9, 6)) @ mixing + 1.0).astype(np.float32)
    style = (np.abs(rng.normal(size=(1, 8, 5, 6))) @ mixing.T).astype(np.float32)
    return features, style


def test_the_value_is_the_closed_form_w2_between_fitted_gaussians(activations):
    features, style = activations
    term = WassersteinStyleTerm(weight=1.0, layers=("l",), layer_weights=(1.0,))
    got = float(layer_loss(term, tf.constant(features), target_of(term, style)))
    assert got == pytest.approx(numpy_w2_per_channel(features, style), rel=1e-3)
    assert float(layer_loss(term, tf.constant(style), target_of(term, style))) == pytest.approx(0.0, abs=1e-3)


def test_the_gradient_matches_finite_differences_and_stays_finite_for_a_singular_covariance(activations):
    features, style = activations
    term = WassersteinStyleTerm(weight=1.0, layers=("l",), layer_weights=(1.0,))
    target = target_of(term, style)
    x = tf.Variable(features.astype(np.float64))

    def loss64(value):
        return wasserstein_layer_loss(moment_sums(value), tf.cast(tf.size(value), tf.float64), tf.cast(target, tf.float64))

    with tf.GradientTape() as tape:
        value = loss64(x)
    gradient = tape.gradient(value, x).numpy()
    direction = np.random.default_rng(1).normal(size=features.shape)
    step = 1e-4
    numeric = (float(loss64(tf.constant(features + step * direction)))
               - float(loss64(tf.constant(features - step * direction)))) / (2 * step)
    assert float(np.sum(gradient * direction)) == pytest.approx(numeric, rel=1e-3)
    # Features with dead channels (a singular covariance, zero eigenvalues): the gradient is finite.
    dead = features.copy()
    dead[..., :3] = 0.0
    with tf.GradientTape() as tape:
        dead_x = tf.constant(dead)
        tape.watch(dead_x)
        value = layer_loss(term, dead_x, target)
    assert np.isfinite(float(value)) and np.isfinite(tape.gradient(value, dead_x).numpy()).all()


def test_trace_sqrt_is_the_trace_of_the_matrix_square_root():
    rng = np.random.default_rng(2)
    a = rng.normal(size=(5, 5))
    matrix = a @ a.T
    assert float(trace_sqrt(tf.constant(matrix))) == pytest.approx(np.trace(np.real(scipy.linalg.sqrtm(matrix))),
                                                                    rel=1e-6)


def test_two_styles_blend_as_a_mixture(activations):
    """The blended target is the Gaussian fitted to the mixture of both styles' features (the moments blend)."""
    features, style = activations
    other = np.flip(style, axis=2).copy() * 0.5 + 2.0
    term = WassersteinStyleTerm(weight=1.0, layers=("l",), layer_weights=(1.0,))
    parts = [term.target_from_statistics(moment_sums(tf.constant(s)), float(s.size)) for s in (style, other)]
    blended = term.finish_target(0.5 * parts[0] + 0.5 * parts[1])
    both = np.concatenate([style.reshape(1, -1, 6), other.reshape(1, -1, 6)], axis=1)  # equal counts: a 50/50 mix
    assert float(layer_loss(term, tf.constant(features), blended)) == pytest.approx(
        numpy_w2_per_channel(features, both), rel=1e-3)


def test_tiled_evaluation_matches_the_whole_image(vgg19):
    from neural_style import images
    from neural_style.config import StyleConfig
    from neural_style.features.network_input import preprocess
    from neural_style.features.vgg19 import build_feature_extractor
    from neural_style.objective.build import build_objective
    from PIL import Image
    from tests.helpers import IMAGES

    config = StyleConfig(styles=["style"], precision="float32", style_loss="wasserstein")
    extractor = build_feature_extractor(config, vgg=vgg19)
    content = images.to_array(Image.open(f"{IMAGES}/chelsea.jpg").convert("RGB").resize((96, 64)))
    style = images.to_array(Image.open(f"{IMAGES}/swirls.jpg").convert("RGB").resize((112, 84)))
    image = tf.constant(preprocess(content) + np.random.default_rng(0).normal(0, 20, (1, 64, 96, 3)).astype(np.float32))
    whole = build_objective(config, extractor, content, [style]).loss_and_gradient(image)
    tiled = build_objective(config, extractor, content, [style], 48).loss_and_gradient(image)
    assert float(tiled.total) == pytest.approx(float(whole.total), rel=1e-3)
    np.testing.assert_allclose(tiled.terms.numpy(), whole.terms.numpy(), rtol=1e-3, atol=1e-6)
    assert np.linalg.norm(tiled.gradient - whole.gradient) <= 1e-2 * np.linalg.norm(whole.gradient)


def test_a_run_with_the_wasserstein_style_loss_lowers_it(small_images):
    from neural_style import stylize
    from tests.helpers import FAST

    content, style = small_images
    result = stylize(content, style, style_loss="wasserstein", **dict(FAST, iterations=10, scales=1))
    assert result.config.resolved_loss_weights().style != 1e5  # its own default weight
    assert result.history[-1].style < 0.5 * result.history[0].style
