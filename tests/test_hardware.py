"""Where and how a run computes: the precision choice, XLA, bfloat16's accuracy, seeded byte-identity."""

import io

import numpy as np
import pytest

from neural_style import StyleConfig, stylize
from neural_style.hardware import native_bfloat16, resolve_precision, resolve_xla
from tests.helpers import FAST

FAST = {name: value for name, value in FAST.items() if name != "xla"}  # these tests compare XLA choices


# --- precision ------------------------------------------------------------------------------

def test_auto_precision_follows_the_hardware():
    with_bf16 = frozenset({"avx512f", "avx512_bf16"})
    with_amx = frozenset({"amx_tile", "amx_bf16"})
    without = frozenset({"avx2", "avx512f"})
    assert resolve_precision("auto", "/CPU:0", with_bf16) == ("bfloat16", "auto: CPU with AVX512_BF16")
    assert resolve_precision("auto", "/CPU:0", with_amx)[0] == "bfloat16"
    assert resolve_precision("auto", "/CPU:0", without) == ("float32", "auto: CPU without AVX512-BF16 or AMX")
    assert resolve_precision("float32", "/CPU:0", with_bf16) == ("float32", "asked for")
    assert resolve_precision("bfloat16", "/CPU:0", without) == ("bfloat16", "asked for")
    assert native_bfloat16("/CPU:0", without) == (False, "CPU without AVX512-BF16 or AMX")


def test_xla_only_where_it_pays_and_never_when_seeded():
    assert resolve_xla(None, "/CPU:0", seeded=False) is False
    assert resolve_xla(None, "/GPU:0", seeded=False) is True
    assert resolve_xla(True, "/CPU:0", seeded=False) is True
    assert resolve_xla(True, "/GPU:0", seeded=True) is False


def test_the_start_line_says_which_precision_and_why(small_images, monkeypatch):
    from neural_style import hardware as precision

    content, style = small_images
    monkeypatch.setattr(precision, "cpu_flags", lambda: frozenset({"avx2"}))
    stream = io.StringIO()
    result = stylize(content, style, stream=stream, **dict(FAST, iterations=1, quiet=False))
    assert "float32 (auto: CPU without AVX512-BF16 or AMX), graph;" in stream.getvalue()
    assert result.precision == "float32" and result.plan.hardware.xla is False
    monkeypatch.setattr(precision, "cpu_flags", lambda: frozenset({"avx512_bf16"}))
    stream = io.StringIO()
    result = stylize(content, style, stream=stream, **dict(FAST, iterations=1, quiet=False))
    assert "bfloat16 (auto: CPU with AVX512_BF16), graph;" in stream.getvalue()
    assert result.precision == "bfloat16"


def test_bfloat16_loss_and_gradient_are_close_to_float32(small_images):
    """Stated tolerance: the loss within 2% and the gradient within 10% (relative L2; measured 5.8%)
    of float32's, pointing the same way (cosine > 0.99), at the content image with noise; the
    activations themselves differ by about 0.5%."""
    import tensorflow as tf

    from neural_style.sources import prepare_images
    from neural_style.objective.build import build_objective
    from neural_style.features.vgg19 import build_feature_extractor, build_vgg19
    from neural_style.features.network_input import preprocess

    content, style = small_images
    config = StyleConfig(content=content, styles=[style], size=96, xla=False)
    content_pixels, style_pixels = prepare_images(config)
    image = preprocess(content_pixels) + np.random.default_rng(0).uniform(-20, 20, (1,) + content_pixels.shape)
    image = tf.constant(image.astype(np.float32))
    vgg = build_vgg19("gatys")
    results = {}
    for precision in ("float32", "bfloat16"):
        extractor = build_feature_extractor(config.with_options(precision=precision), vgg=vgg)
        objective = build_objective(config.with_options(precision=precision), extractor, content_pixels, style_pixels)
        total, terms, gradient = objective.loss_and_gradient(image)
        assert total.dtype == tf.float32 and gradient.dtype == tf.float32
        results[precision] = (float(total), gradient.numpy())
    (loss32, grad32), (loss16, grad16) = results["float32"], results["bfloat16"]
    assert loss16 == pytest.approx(loss32, rel=0.02)
    assert np.linalg.norm(grad16 - grad32) / np.linalg.norm(grad32) < 0.10
    assert np.sum(grad16 * grad32) / (np.linalg.norm(grad16) * np.linalg.norm(grad32)) > 0.99
    assert loss16 != loss32  # really computed in another precision


@pytest.mark.parametrize("precision", ["float32", "bfloat16"])
def test_seeded_runs_are_byte_identical_in_either_precision(small_images, tmp_path, precision):
    from neural_style.commands.cli import main

    content, style = small_images
    pictures = []
    for name in ("a.png", "b.png"):
        output = str(tmp_path / name)
        assert main([content, style, "-o", output, "--size", "64", "--iterations", "6", "--seed", "3",
                     "--init", "random", "--precision", precision, "--snapshot-every", "0", "--quiet"]) == 0
        pictures.append(open(output, "rb").read())
    assert pictures[0] == pictures[1]
