"""The sliced Wasserstein style term against NumPy: its value, its gradient by finite differences, its directions
fixed by the seed, a run with it, and what it refuses (tiles, masks)."""

import numpy as np
import pytest
import tensorflow as tf

from neural_style.objective.sliced_style import QUANTILES, SlicedStyleTerm, directions


def numpy_sliced(features, style, seed):
    """Mean over directions and positions of (sorted projections - the style's quantile function there)^2, with the
    style's quantile function read from its own sorted projections by linear interpolation (float64)."""
    x = features.reshape(-1, features.shape[-1]).astype(np.float64)
    s = style.reshape(-1, style.shape[-1]).astype(np.float64)
    d = directions(x.shape[1], seed).astype(np.float64)
    px, ps = np.sort(x @ d, axis=0), np.sort(s @ d, axis=0)
    own_levels = (np.arange(len(ps)) + 0.5) / len(ps)
    # The target keeps QUANTILES values of the style's quantile function, then is read at the picture's levels.
    kept_levels = (np.arange(QUANTILES) + 0.5) / QUANTILES
    kept = np.stack([np.interp(kept_levels, own_levels, ps[:, j]) for j in range(d.shape[1])], 1)
    levels = (np.arange(len(px)) + 0.5) / len(px)
    wanted = np.stack([np.interp(levels, kept_levels, kept[:, j]) for j in range(d.shape[1])], 1)
    return np.mean((px - wanted) ** 2)


@pytest.fixture()
def activations():
    rng = np.random.default_rng(0)
    features = (rng.normal(size=(1, 9, 11, 6)) + 1.0).astype(np.float32)
    style = np.abs(rng.normal(size=(1, 8, 7, 6))).astype(np.float32) * 2
    return features, style


def term(seed=3):
    return SlicedStyleTerm(weight=1.0, layers=("l",), layer_weights=(1.0,), seed=seed)


def target_of(sliced, style):
    return sliced.finish_target(sliced.target_from_statistics(sliced.statistics(tf.constant(style)), None))


def test_the_value_is_the_sliced_wasserstein_distance(activations):
    features, style = activations
    sliced = term()
    got = float(sliced.loss(None, {"l": tf.constant(features)}, {"l": target_of(sliced, style)}))
    assert got == pytest.approx(numpy_sliced(features, style, 3), rel=1e-4)
    assert float(sliced.loss(None, {"l": tf.constant(style)}, {"l": target_of(sliced, style)})) < 1e-3 * got


def test_the_gradient_matches_finite_differences(activations):
    features, style = activations
    sliced = term()
    target = tf.cast(target_of(sliced, style), tf.float64)
    x = tf.constant(features.astype(np.float64))
    with tf.GradientTape() as tape:
        tape.watch(x)
        value = sliced.loss(None, {"l": x}, {"l": target})
    gradient = tape.gradient(value, x).numpy()
    direction = np.random.default_rng(1).normal(size=features.shape)
    step = 1e-6  # small enough that no two projected values change order
    numeric = (float(sliced.loss(None, {"l": tf.constant(x + step * direction)}, {"l": target}))
               - float(sliced.loss(None, {"l": tf.constant(x - step * direction)}, {"l": target}))) / (2 * step)
    assert float(np.sum(gradient * direction)) == pytest.approx(numeric, rel=1e-4)


def test_the_directions_are_unit_vectors_fixed_by_the_seed():
    first, again, other = directions(16, 1), directions(16, 1), directions(16, 2)
    np.testing.assert_array_equal(first, again)
    assert not np.allclose(first, other)
    np.testing.assert_allclose(np.linalg.norm(first, axis=0), 1.0, rtol=1e-6)


def test_a_run_with_the_sliced_style_loss_lowers_it(small_images):
    from neural_style import stylize
    from tests.helpers import FAST

    content, style = small_images
    result = stylize(content, style, style_loss="sliced", **dict(FAST, iterations=10, scales=1))
    assert result.history[-1].style < 0.5 * result.history[0].style


@pytest.mark.parametrize("flags, message", [
    (["--tile-size", "32"], "--style-loss sliced needs the whole image at once"),
    (["--masks", "MASK"], "--style-loss sliced needs the whole image at once (it sorts every position), so it "
                          "cannot paint regions by masks: drop the masks"),
])
def test_what_the_sliced_loss_cannot_do_is_refused_in_one_line(small_images, tmp_path, capsys, flags, message):
    from PIL import Image

    from neural_style.commands.cli import main

    content, style = small_images
    mask = tmp_path / "mask.png"
    Image.new("L", (128, 85), 255).save(mask)
    output = tmp_path / "out.png"
    flags = [str(mask) if flag == "MASK" else flag for flag in flags]
    code = main([content, style, "--style-loss", "sliced", *flags, "-o", str(output), "--size", "48"])
    err = capsys.readouterr().err
    assert code == 2 and message in err and len(err.strip().splitlines()) == 1 and not output.exists()


def test_the_calibration_a_sliced_run_gets_is_the_one_its_start_line_names(small_images, tmp_path, capsys):
    """Target calibration applies to the sliced loss (and the start line says so); gradient, which has no reference for
    it, is refused in one line before any work."""
    from neural_style.commands.cli import main
    from tests.helpers import refused

    content, style = small_images
    output = tmp_path / "out.png"
    refused(capsys, [content, style, "--style-loss", "sliced", "--style-calibration", "gradient", "-o", str(output)],
            "--style-calibration gradient has no reference for --style-loss sliced", folder=str(tmp_path))
    for calibration, said in (("auto", "(target calibration)"), ("off", "(uncalibrated)")):
        assert main([content, style, "--style-loss", "sliced", "--style-calibration", calibration, "-o", str(output),
                     "--size", "48", "--iterations", "2", "--init", "content", "--no-xla"]) == 0
        start = capsys.readouterr().err.splitlines()[0]
        assert said in start, start


def test_a_sliced_run_too_large_for_memory_is_refused_not_tiled():
    from neural_style.config import StyleConfig
    from neural_style.errors import NeuralStyleError
    from neural_style.backends.hardware import resolve_hardware
    from neural_style.plan.run_plan import plan_run

    config = StyleConfig(content="c", styles=["s"], style_loss="sliced", size=2048, precision="float32", scales=1)
    with pytest.raises(NeuralStyleError, match="cannot be tiled, and the whole 2048 px image does not fit"):
        plan_run(config, resolve_hardware(config), (2048, 1536), [(1024, 768)], available_memory=5e9)
