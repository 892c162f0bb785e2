"""What each option promises (README), checked by its effect: sizes, layers and weights reach the
objective, the optimiser gets its memory, logs are written or not, and how a run ends is said."""

import io
import os

import numpy as np
import pytest

from neural_style import NeuralStyleError, StyleConfig, stylize
from neural_style.run.sources import prepare_images

from tests.helpers import FAST

FAST = dict(FAST, iterations=4)


def test_style_scale_sizes_the_style_image(small_images):
    content, style = small_images  # 128 x 85 and 128 x 96
    plain = prepare_images(StyleConfig(content=content, styles=[style], size=64))
    half = prepare_images(StyleConfig(content=content, styles=[style], size=64, style_scale=0.5))
    assert plain[0].shape == half[0].shape == (42, 64, 3)  # the content keeps --size
    assert plain[1][0].shape == (48, 64, 3) and half[1][0].shape == (24, 32, 3)


def _objective(config, content, style):
    from neural_style.run.sources import prepare_images
    from neural_style.objective.build import build_objective
    from neural_style.features.vgg19 import build_feature_extractor

    config = config.with_options(content=content, styles=[style])
    content_pixels, style_pixels = prepare_images(config)
    extractor = build_feature_extractor(config)
    return extractor, build_objective(config, extractor, content_pixels, style_pixels), content_pixels


def test_content_layers_choose_the_content_target_and_the_network_depth(small_images):
    content, style = small_images
    config = StyleConfig(size=48, content_layers=("block2_conv2",), style_layers=("block1_conv1",), xla=False)
    extractor, objective, _ = _objective(config, content, style)
    assert list(objective.targets["content"]) == ["block2_conv2"]
    assert objective.targets["content"]["block2_conv2"].shape[-1] == 128  # block2 has 128 filters
    assert extractor.model.layers[-1].name == "block2_conv2"  # nothing deeper runs


def test_style_layer_weights_weight_each_layer(small_images):
    import tensorflow as tf

    from neural_style.features.network_input import preprocess

    content, style = small_images
    layers = ("block1_conv1", "block2_conv1")
    base = StyleConfig(size=48, style_layers=layers, content_weight=0.0, tv_weight=0.0, xla=False)
    _, objective, content_pixels = _objective(base, content, style)
    image = tf.constant(preprocess(content_pixels))
    equal = float(objective.term_values(image)["style"])
    only_first = float(_objective(base.with_options(style_layer_weights=(1.0, 0.0)), content, style)[1].term_values(image)["style"])
    only_second = float(_objective(base.with_options(style_layer_weights=(0.0, 1.0)), content, style)[1].term_values(image)["style"])
    weighted = float(_objective(base.with_options(style_layer_weights=(2.0, 0.5)), content, style)[1].term_values(image)["style"])
    assert 0 < only_first and 0 < only_second
    assert equal == pytest.approx(only_first + only_second, rel=1e-5)
    assert weighted == pytest.approx(2.0 * only_first + 0.5 * only_second, rel=1e-5)


def test_lbfgs_history_is_the_optimisers_memory(small_images, monkeypatch):
    from neural_style.optim import lbfgsb

    content, style = small_images
    real = lbfgsb.fmin_l_bfgs_b
    memories = []

    def recording(*args, **kwargs):
        memories.append(kwargs["m"])
        return real(*args, **kwargs)

    monkeypatch.setattr(lbfgsb, "fmin_l_bfgs_b", recording)
    short = stylize(content, style, lbfgs_history=1, **dict(FAST, iterations=8))
    calls_short = len(memories)
    long = stylize(content, style, lbfgs_history=12, **dict(FAST, iterations=8))
    # Every call of scipy's routine gets the history asked for: how many calls a run makes (a restart after a slow
    # first iteration is a second call) depends on the CPU's rounding, the memory given does not.
    assert calls_short >= 1 and len(memories) > calls_short
    assert set(memories[:calls_short]) == {1} and set(memories[calls_short:]) == {12}
    assert not np.array_equal(short.image, long.image)  # the memory changes the steps taken


def test_no_log_writes_no_log(small_images, tmp_path):
    content, style = small_images
    tmp_path = tmp_path / "out"
    tmp_path.mkdir()
    stylize(content, style, str(tmp_path / "with.png"), **FAST)
    stylize(content, style, str(tmp_path / "without.png"), log=False, **FAST)
    assert sorted(os.listdir(tmp_path)) == ["with.png", "with_log.csv", "without.png"]


def test_a_failed_log_write_is_reported_once_and_the_run_goes_on(small_images, tmp_path, monkeypatch):
    from neural_style.watch import record as outputs

    def full_disk(path, header, rows):
        raise OSError(28, "No space left on device", path)

    monkeypatch.setattr(outputs, "write_csv", full_disk)
    content, style = small_images
    stream = io.StringIO()
    result = stylize(content, style, str(tmp_path / "o.png"), stream=stream, **dict(FAST, quiet=False))
    assert result.stop_reason == "done" and os.path.exists(tmp_path / "o.png")
    assert stream.getvalue().count("No space left on device") == 1
    assert "o_log.csv" in stream.getvalue()  # names the file it could not write


def test_a_stop_before_the_first_iteration_writes_nothing(small_images, tmp_path):
    content, style = small_images
    tmp_path = tmp_path / "out"
    tmp_path.mkdir()
    result = stylize(content, style, str(tmp_path / "o.png"), should_stop=lambda: True,
                     **dict(FAST, snapshot_every=1))
    assert result.stop_reason == "stopped" and result.iterations == 0 and result.output is None
    assert os.listdir(tmp_path) == []


def test_lbfgs_ending_early_says_why(small_images, monkeypatch):
    """A loss that no step can lower (a constant with a non-zero gradient): the line search fails and
    the run prints the optimiser's reason instead of pretending it finished."""
    import tensorflow as tf

    from neural_style.objective import whole

    def flat_loss(self, image):
        return tf.constant(1.0), tf.constant([1.0, 0.0, 0.0]), tf.ones_like(image)

    monkeypatch.setattr(whole.Objective, "loss_and_gradient", flat_loss)
    content, style = small_images
    stream = io.StringIO()
    result = stylize(content, style, stream=stream, **dict(FAST, quiet=False, iterations=20))
    assert result.iterations < 20
    assert result.stop_reason.startswith(f"L-BFGS ended after {result.iterations} iterations: ")
    assert "ABNORMAL" in result.stop_reason  # scipy's task string: the line search found no decrease
    assert result.stop_reason in stream.getvalue()


def test_determinism_is_switched_off_after_a_seeded_run(small_images):
    from neural_style.backends.hardware import is_op_determinism_enabled

    content, style = small_images
    assert not is_op_determinism_enabled()
    seen = []
    stylize(content, style, seed=5, on_step=lambda step: seen.append(is_op_determinism_enabled()), **FAST)
    assert seen and all(seen)  # on during the seeded run ...
    assert not is_op_determinism_enabled()  # ... and off after it
    stylize(content, style, on_step=lambda step: seen.append(is_op_determinism_enabled()), **dict(FAST, iterations=1))
    assert seen[-1] is False


def test_a_prebuilt_extractor_serves_many_runs_and_a_mismatched_one_is_refused(small_images, extractor):
    content, style = small_images
    shared = stylize(content, style, extractor=extractor, seed=2, precision="float32", **FAST)
    built = stylize(content, style, seed=2, precision="float32", **FAST)
    np.testing.assert_array_equal(shared.image, built.image)
    with pytest.raises(NeuralStyleError, match="extractor given was built for other"):
        stylize(content, style, extractor=extractor, pooling="avg", precision="float32", **FAST)
    with pytest.raises(NeuralStyleError, match="extractor given was built for other"):
        stylize(content, style, extractor=extractor, precision="bfloat16", **FAST)


@pytest.mark.parametrize("flags, message", [
    (["--learning-rate", "5"], "--learning-rate is Adam's setting and this run optimises with L-BFGS"),
    (["--adam-average", "0.9", "--optimizer", "lbfgs-device"], "--adam-average is Adam's setting"),
    (["--lbfgs-history", "4", "--optimizer", "adam"], "--lbfgs-history is L-BFGS's setting"),
    (["--xla", "--seed", "3"], "--xla cannot give a seeded run's byte-identical picture"),
])
def test_a_setting_the_run_would_ignore_is_refused(small_images, tmp_path, capsys, flags, message):
    """Said, not silently ignored: a setting the run's optimiser does not read, or XLA that a seed would turn off."""
    from tests.helpers import refused

    content, style = small_images
    refused(capsys, [content, style, "-o", str(tmp_path / "out.png"), *flags], message, folder=str(tmp_path))


def test_a_presets_settings_are_not_refused_as_the_users(small_images):
    """The reference preset sets Adam's learning rate for compare's Adam run; with L-BFGS that is no user's mistake."""
    content, style = small_images
    result = stylize(content, style, preset="reference", **dict(FAST, size=48, iterations=2))
    assert result.stop_reason == "done"


def test_every_name_list_the_cli_api_studio_and_sheet_show_comes_from_one_definition():
    """The names a user can choose (starts, methods, style losses, looks) and the sheet's defaults are defined once,
    in config/ or sheet.py; the flags, the registrations and the studio read them from there."""
    from neural_style import config, sheet
    from neural_style.commands.stylize import build_parser
    from neural_style.objective.build import STYLE_TERMS
    from neural_style.run.starts import STARTS
    from neural_style.studio import app

    actions = {action.dest: action for action in build_parser()._actions}
    assert tuple(actions["style_loss"].choices) == config.STYLE_LOSSES == tuple(STYLE_TERMS)
    assert tuple(actions["method"].choices) == config.METHODS
    assert tuple(actions["preset"].choices) == tuple(sorted(config.PRESETS))
    assert tuple(STARTS) == config.NAMED_STARTS  # a painter for every named start, keyed by the names themselves
    assert all(repr(name) in actions["init"].help for name in config.NAMED_STARTS)
    assert app.SHEET_ITERATIONS is sheet.SHEET_ITERATIONS
    assert app.SHEET_STRENGTHS == tuple(config.PRESETS[look]["style_strength"] for look in config.LOOKS)
