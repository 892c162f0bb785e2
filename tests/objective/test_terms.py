"""Each term of the objective against a plain numpy computation, the objective as their weighted sum, and a
term added by registration alone reaching every place that shows terms."""

import numpy as np
import pytest
import tensorflow as tf

from neural_style.objective.content import ContentTerm, content_loss
from neural_style.objective.gram_style import GramStyleTerm, gram_matrix, style_loss
from neural_style.objective.total_variation import TotalVariationTerm, total_variation_loss
from neural_style.objective.evaluation import compute_targets
from neural_style.objective.whole import Objective, WholeFeatures


def make_objective(extractor, content, styles, content_layers, style_layers, weights=(1.0, 1.0, 1.0),
                   layer_weights=None, xla=False):
    """The default three terms on a bare extractor, with (content, style, tv) weights."""
    terms = (ContentTerm(weight=weights[0], layers=tuple(content_layers)),
             GramStyleTerm(weight=weights[1], layers=tuple(style_layers),
                           layer_weights=tuple(layer_weights or (1.0,) * len(style_layers))),
             TotalVariationTerm(weight=weights[2]))
    targets = compute_targets(WholeFeatures(extractor), terms, content, styles, [1.0 / len(styles)] * len(styles))
    return Objective(extractor, terms, targets, xla=xla)


@pytest.fixture()
def features():
    return np.random.default_rng(1).normal(size=(1, 5, 7, 4)).astype(np.float32)


def test_gram_matrix_matches_numpy(features):
    flat = features.reshape(-1, 4).astype(np.float64)
    expected = flat.T @ flat / features.size
    got = gram_matrix(tf.constant(features)).numpy()
    np.testing.assert_allclose(got, expected, rtol=1e-5)
    assert got.shape == (4, 4)


def test_content_loss_is_mean_squared_difference(features):
    target = features[::-1].copy() + 0.5
    expected = np.mean((features.astype(np.float64) - target) ** 2)
    got = float(content_loss(tf.constant(features), tf.constant(target)))
    assert got == pytest.approx(expected, rel=1e-5)


def test_style_loss_is_mean_squared_gram_difference(features):
    other = np.random.default_rng(2).normal(size=(1, 6, 3, 4)).astype(np.float32)
    g1 = features.reshape(-1, 4).astype(np.float64)
    g2 = other.reshape(-1, 4).astype(np.float64)
    expected = np.mean((g1.T @ g1 / features.size - g2.T @ g2 / other.size) ** 2)
    got = float(style_loss(gram_matrix(tf.constant(features)), gram_matrix(tf.constant(other))))
    assert got == pytest.approx(expected, rel=1e-5)
    assert float(style_loss(gram_matrix(tf.constant(features)),
                                   gram_matrix(tf.constant(features)))) == 0.0


def test_total_variation_matches_numpy():
    image = np.random.default_rng(3).uniform(-100, 100, size=(1, 6, 9, 3)).astype(np.float32)
    x = image.astype(np.float64)
    expected = np.mean((x[:, :, 1:] - x[:, :, :-1]) ** 2) + np.mean((x[:, 1:] - x[:, :-1]) ** 2)
    assert float(total_variation_loss(tf.constant(image))) == pytest.approx(expected, rel=1e-5)
    flat = np.full((1, 4, 4, 3), 7.0, np.float32)
    assert float(total_variation_loss(tf.constant(flat))) == 0.0


def test_objective_gradient_matches_finite_differences(vgg19):
    """The one compiled function's gradient is the derivative of the loss it returns."""
    from neural_style.features.vgg19 import feature_extractor

    extractor = feature_extractor(vgg19, ["block1_conv1", "block2_conv1"])
    rng = np.random.default_rng(4)
    content = tf.constant(rng.uniform(-100, 100, (1, 12, 12, 3)).astype(np.float32))
    style = tf.constant(rng.uniform(-100, 100, (1, 12, 12, 3)).astype(np.float32))
    objective = make_objective(extractor, content, [style], ["block2_conv1"], ["block1_conv1"], (1.0, 100.0, 1e-3))
    image = rng.uniform(-100, 100, (1, 12, 12, 3)).astype(np.float64)
    total, terms, gradient = objective.loss_and_gradient(tf.constant(image, tf.float32))
    direction = rng.normal(size=image.shape)
    direction /= np.linalg.norm(direction)
    step = 0.5
    plus = float(objective.loss_and_gradient(tf.constant(image + step * direction, tf.float32))[0])
    minus = float(objective.loss_and_gradient(tf.constant(image - step * direction, tf.float32))[0])
    numeric = (plus - minus) / (2 * step)
    analytic = float(np.sum(gradient.numpy() * direction))
    assert analytic == pytest.approx(numeric, rel=2e-2)


def test_xla_and_graph_agree(vgg19):
    from neural_style.config import DEFAULT_STYLE_LAYERS
    from neural_style.features.vgg19 import feature_extractor

    layers = ["block4_conv2", *DEFAULT_STYLE_LAYERS]
    extractor = feature_extractor(vgg19, layers)
    rng = np.random.default_rng(5)
    content, style, image = (tf.constant(rng.uniform(-100, 100, (1, 32, 48, 3)).astype(np.float32)) for _ in range(3))
    results = []
    for xla in (False, True):
        objective = make_objective(extractor, content, [style], ["block4_conv2"], DEFAULT_STYLE_LAYERS,
                                   (1.0, 1e5, 1e-3), xla=xla)
        total, terms, gradient = objective.loss_and_gradient(image)
        results.append((float(total), gradient.numpy()))
        assert objective.uses_xla == xla  # XLA really ran where asked
    (graph_total, graph_gradient), (xla_total, xla_gradient) = results
    assert xla_total == pytest.approx(graph_total, rel=1e-4)
    assert np.linalg.norm(xla_gradient - graph_gradient) <= 1e-3 * np.linalg.norm(graph_gradient)


def test_objective_terms_and_total_match_numpy(vgg19):
    """Each weighted term from the network's activations, computed again in float64 numpy, and the
    total as their sum: a wrong weight, a dropped term or a wrong sum would show."""
    from neural_style.features.vgg19 import feature_extractor

    extractor = feature_extractor(vgg19, ["block1_conv1", "block2_conv1", "block2_conv2"])
    rng = np.random.default_rng(6)
    content, style, image = (rng.uniform(-100, 100, (1, 16, 20, 3)).astype(np.float32) for _ in range(3))
    objective = make_objective(extractor, tf.constant(content), [tf.constant(style)], ["block2_conv2"],
                               ["block1_conv1", "block2_conv1"], (2.0, 300.0, 0.01), (1.0, 0.5))
    assert objective.names == ("content", "style", "tv")
    total, terms, _ = objective.loss_and_gradient(tf.constant(image))

    def activations(x):
        return {name: np.asarray(value, np.float64) for name, value in extractor(x).items()}

    def gram(a):
        flat = a.reshape(-1, a.shape[-1])
        return flat.T @ flat / a.size

    mine, theirs, of_style = activations(image), activations(content), activations(style)
    content_term = 2.0 * np.mean((mine["block2_conv2"] - theirs["block2_conv2"]) ** 2)
    style_term = 300.0 * sum(w * np.mean((gram(mine[n]) - gram(of_style[n])) ** 2)
                             for n, w in (("block1_conv1", 1.0), ("block2_conv1", 0.5)))
    x = image.astype(np.float64)
    tv_term = 0.01 * (np.mean((x[:, :, 1:] - x[:, :, :-1]) ** 2) + np.mean((x[:, 1:] - x[:, :-1]) ** 2))
    np.testing.assert_allclose(terms.numpy(), [content_term, style_term, tv_term], rtol=1e-4)
    assert float(total) == pytest.approx(content_term + style_term + tv_term, rel=1e-4)


def test_a_failing_xla_compile_falls_back_to_the_graph(vgg19):
    from neural_style.features.vgg19 import feature_extractor

    extractor = feature_extractor(vgg19, ["block1_conv1"])
    rng = np.random.default_rng(7)
    content, image = (tf.constant(rng.uniform(-100, 100, (1, 8, 8, 3)).astype(np.float32)) for _ in range(2))
    objective = make_objective(extractor, content, [content], ["block1_conv1"], ["block1_conv1"], xla=True)
    assert objective.uses_xla

    def cannot_compile(*arguments):
        raise tf.errors.UnimplementedError(None, None, "no XLA kernel for this op here")

    objective._xla.function = cannot_compile  # as on a platform whose XLA lacks an op
    total, _, gradient = objective.loss_and_gradient(image)
    assert not objective.uses_xla and np.isfinite(float(total)) and gradient.shape == image.shape
    plain = make_objective(extractor, content, [content], ["block1_conv1"], ["block1_conv1"])
    assert float(total) == pytest.approx(float(plain.loss_and_gradient(image)[0]), rel=1e-6)


def test_the_temporal_term_beside_the_objective_is_in_the_total_and_reported_with_the_others(vgg19):
    """The temporal term's value and closed-form gradient against numpy and finite differences; the total is
    the sum of the terms reported (it was not: the temporal term was added to the total but not reported)."""
    from neural_style.features.vgg19 import feature_extractor
    from neural_style.objective.temporal import TemporalTerm

    extractor = feature_extractor(vgg19, ["block1_conv1"])
    rng = np.random.default_rng(0)
    content = tf.constant(rng.uniform(-100, 100, (1, 6, 5, 3)).astype(np.float32))
    warped = rng.normal(0, 50, (1, 6, 5, 3)).astype(np.float32)
    mask = (rng.uniform(size=(6, 5)) > 0.3).astype(np.float32)
    plain = make_objective(extractor, content, [content], ["block1_conv1"], ["block1_conv1"])
    objective = plain.with_targets(plain.targets, [TemporalTerm(weight=0.5, warped=warped, mask=mask)])
    assert objective.names == ("content", "style", "tv", "temporal")
    x = rng.normal(0, 50, (1, 6, 5, 3)).astype(np.float32)
    total, terms, gradient = objective.loss_and_gradient(tf.constant(x))
    assert float(terms[3]) == pytest.approx(0.5 * np.mean(mask[None, :, :, None] * (x - warped) ** 2), rel=1e-5)
    assert float(total) == pytest.approx(float(np.sum(terms.numpy())), rel=1e-6)
    np.testing.assert_array_equal(terms.numpy()[:3], plain.loss_and_gradient(tf.constant(x)).terms.numpy())
    step = np.zeros_like(x)
    step[0, 2, 3, 1] = 0.01
    numeric = (float(objective.loss_and_gradient(tf.constant(x + step))[0])
               - float(objective.loss_and_gradient(tf.constant(x - step))[0])) / 0.02
    assert gradient.numpy()[0, 2, 3, 1] == pytest.approx(numeric, rel=1e-2, abs=1e-4)


def test_a_term_added_by_registration_alone_reaches_every_place_that_shows_terms(small_images, tmp_path,
                                                                                 monkeypatch):
    """A new term is its own class plus one entry in objective.build.TERMS: the log's columns, the progress
    line, each Step, the batch summary and the total all follow, with no other change."""
    import csv
    import io
    from dataclasses import dataclass

    from neural_style import stylize, stylize_batch
    from neural_style.objective import build
    from neural_style.objective.terms import ImageTerm
    from tests.helpers import FAST

    @dataclass(frozen=True, kw_only=True)
    class Brightness(ImageTerm):
        name: str = "brightness"

        def loss(self, image, features, targets):
            return tf.reduce_mean(image) ** 2

    monkeypatch.setattr(build, "TERMS", build.TERMS + (lambda config: Brightness(weight=1e-3),))
    content, style = small_images
    stream = io.StringIO()
    result = stylize(content, style, str(tmp_path / "out.png"), stream=stream,
                     **dict(FAST, quiet=False, print_every=1, iterations=3))
    step = result.history[-1]
    assert list(step.terms) == ["content", "style", "tv", "brightness"] and step.brightness > 0
    assert step.total == pytest.approx(sum(step.terms.values()), rel=1e-6)
    assert "brightness " in stream.getvalue()
    with open(tmp_path / "out_log.csv") as log:
        header = next(csv.reader(log))
    assert header == ["iteration", "evaluations", "seconds", "total", "content", "style", "tv", "brightness",
                      "width", "height"]
    batch = stylize_batch([content], [style], str(tmp_path / "batch"), **dict(FAST, iterations=2))
    assert float(batch.rows[0]["brightness_loss"]) > 0


def test_style_augmentation_makes_the_style_target_independent_of_the_paintings_orientation(vgg19):
    """The 8 orientations are a group: a painting turned by 90 degrees has the same augmented target, which is
    the mean of its 8 orientations' targets; without augmentation the targets differ."""
    from neural_style.config import StyleConfig
    from neural_style.features.vgg19 import build_feature_extractor
    from neural_style.images import dihedral_copies
    from neural_style.objective.build import build_targets, terms_for

    rng = np.random.default_rng(8)
    content = rng.integers(0, 256, (32, 32, 3), dtype=np.uint8)
    style = np.cumsum(rng.integers(0, 20, (32, 48, 3)), axis=1).clip(0, 255).astype(np.uint8)  # horizontal streaks
    turned = np.ascontiguousarray(np.rot90(style))

    def style_targets(pixels, augment):
        config = StyleConfig(styles=["s"], precision="float32", style_layers=("block1_conv1", "block2_conv1"),
                             style_augment=augment)
        extractor = build_feature_extractor(config, vgg=vgg19)
        return build_targets(config, extractor, terms_for(config), content, [pixels])["style"]

    plain, plain_turned = style_targets(style, False), style_targets(turned, False)
    augmented, augmented_turned = style_targets(style, True), style_targets(turned, True)
    for name in plain:
        assert not np.allclose(plain[name].numpy(), plain_turned[name].numpy(), rtol=1e-2)
        np.testing.assert_allclose(augmented[name].numpy(), augmented_turned[name].numpy(), rtol=1e-4, atol=1e-7)
    each = [style_targets(copy, False) for copy in dihedral_copies(style)]
    for name in augmented:
        np.testing.assert_allclose(augmented[name].numpy(), np.mean([t[name].numpy() for t in each], axis=0),
                                   rtol=1e-4, atol=1e-7)
