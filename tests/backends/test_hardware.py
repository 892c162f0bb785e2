"""Where and how a run computes: the precision choice, XLA, bfloat16's accuracy, seeded byte-identity."""

import io

import numpy as np
import pytest

from neural_style import StyleConfig, stylize
from neural_style.backends.hardware import native_precision, resolve_precision, resolve_xla
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
    assert native_precision("/CPU:0", without) == ("float32", "CPU without AVX512-BF16 or AMX")


def test_auto_precision_beyond_linux_and_ampere():
    """NumPy's CPUID features find native bfloat16 where /proc/cpuinfo does not exist (macOS, Windows); Apple
    silicon's FEAT_BF16 is reported but kept at float32; NVIDIA GPUs: bfloat16 from Ampere, float16 on Volta and
    Turing (a V100, Colab's T4), float32 before."""
    from neural_style.backends.hardware import native_bfloat16_cpu, native_precision

    assert native_bfloat16_cpu(frozenset(), frozenset({"AVX512F", "AVX512BF16"}), False) == ("AVX512BF16",
                                                                                            "CPU with AVX512BF16")
    assert native_bfloat16_cpu(frozenset(), frozenset({"AVX512_SPR"}), False)[0] == "AVX512_SPR"
    assert native_bfloat16_cpu(frozenset(), frozenset({"AVX2"}), False)[0] is None
    instructions, why = native_bfloat16_cpu(frozenset(), frozenset({"NEON"}), True)
    assert instructions is None and "Apple silicon with FEAT_BF16" in why
    # Linux's flags are the CPU's own word: NumPy is not asked where they say no.
    assert native_bfloat16_cpu(frozenset({"avx2"}), frozenset({"AVX512BF16"}), False)[0] is None
    assert native_precision("/GPU:0", capability=(9, 0)) == ("bfloat16", "GPU compute capability 9.0")
    assert native_precision("/GPU:0", capability=(8, 0))[0] == "bfloat16"
    assert native_precision("/GPU:0", capability=(7, 5)) == ("float16", "GPU compute capability 7.5")
    assert native_precision("/GPU:0", capability=(7, 0))[0] == "float16"
    assert native_precision("/GPU:0", capability=(6, 1))[0] == "float32"


def test_xla_only_where_it_pays_and_never_when_seeded():
    assert resolve_xla(None, "/CPU:0", seeded=False) is False
    assert resolve_xla(None, "/GPU:0", seeded=False) is True
    assert resolve_xla(True, "/CPU:0", seeded=False) is True
    assert resolve_xla(True, "/GPU:0", seeded=True) is False


def test_the_start_line_says_which_precision_and_why(small_images, monkeypatch):
    from neural_style.backends import hardware as precision

    content, style = small_images
    monkeypatch.delenv(precision.CPU_BFLOAT16_VARIABLE, raising=False)  # this test is about what the flags say
    monkeypatch.setattr(precision, "cpu_flags", lambda: frozenset({"avx2"}))
    stream = io.StringIO()
    result = stylize(content, style, stream=stream, **dict(FAST, iterations=1, quiet=False))
    assert "float32 (auto: CPU without AVX512-BF16 or AMX), graph (" in stream.getvalue()
    assert result.precision == "float32" and result.plan.hardware.xla is False
    monkeypatch.setattr(precision, "cpu_flags", lambda: frozenset({"avx512_bf16"}))
    stream = io.StringIO()
    result = stylize(content, style, stream=stream, **dict(FAST, iterations=1, quiet=False))
    assert "bfloat16 (auto: CPU with AVX512_BF16), graph (" in stream.getvalue()
    assert result.precision == "bfloat16"


def test_the_start_line_explains_every_choice_auto_made(small_images):
    """Backend, precision, compiler and optimiser each named with the reason auto chose it; a choice asked for says
    so."""
    content, style = small_images
    options = {key: value for key, value in FAST.items() if key not in ("precision", "xla", "seed", "optimizer")}
    stream = io.StringIO()
    result = stylize(content, style, stream=stream, **dict(options, iterations=1, quiet=False))
    line = stream.getvalue().splitlines()[0]
    hardware = result.plan.hardware
    assert hardware.backend_why and f"{hardware.backend} ({hardware.backend_why}" in line  # auto's, or Keras's own
    for choice, why in ((hardware.precision, hardware.precision_why), (hardware.compiler, hardware.compiler_why),
                        (result.plan.optimizer, result.plan.optimizer_why)):
        assert why.startswith("auto: ") and f"{choice} ({why}" in line, (choice, why, line)
    stream = io.StringIO()
    stylize(content, style, stream=stream, **dict(options, iterations=1, quiet=False, xla=False, precision="float32"))
    assert "float32 (asked for), graph (asked for)" in stream.getvalue()


def test_bfloat16_loss_and_gradient_are_close_to_float32(small_images):
    """Stated tolerance: the loss within 2% and the gradient within 10% (relative L2; measured 5.8%)
    of float32's, pointing the same way (cosine > 0.99), at the content image with noise; the
    activations themselves differ by about 0.5%."""
    import tensorflow as tf

    from neural_style.run.sources import prepare_images
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


def _loss_and_gradient(config, content_pixels, style_pixels, image, vgg, precision, initial_scale=None):
    from neural_style.features.vgg19 import build_feature_extractor
    from neural_style.objective.build import build_objective

    config = config.with_options(precision=precision)
    objective = build_objective(config, build_feature_extractor(config, vgg=vgg), content_pixels, style_pixels)
    if initial_scale is not None:
        objective.loss_scale.value = initial_scale
    total, _, gradient = objective.loss_and_gradient(image)
    return float(total), gradient.numpy(), objective.loss_scale


def test_float16_with_loss_scaling_agrees_with_float32(small_images):
    """Stated tolerance: the loss within 1% and the gradient within 5% (relative L2) of float32's, pointing the same
    way (cosine > 0.998): float16 has three more bits than bfloat16. The gradient is loss-scaled (float32 and bfloat16
    are not); a scale that overflows is halved until the gradient is finite, and gives the same gradient."""
    import tensorflow as tf

    from neural_style.features.network_input import preprocess
    from neural_style.features.vgg19 import build_vgg19
    from neural_style.objective.loss_scale import INITIAL_SCALE
    from neural_style.run.sources import prepare_images

    content, style = small_images
    config = StyleConfig(content=content, styles=[style], size=96, xla=False)
    content_pixels, style_pixels = prepare_images(config)
    image = preprocess(content_pixels) + np.random.default_rng(0).uniform(-20, 20, (1,) + content_pixels.shape)
    image = tf.constant(image.astype(np.float32))
    vgg = build_vgg19("gatys")
    loss32, grad32, scale32 = _loss_and_gradient(config, content_pixels, style_pixels, image, vgg, "float32")
    loss16, grad16, scale16 = _loss_and_gradient(config, content_pixels, style_pixels, image, vgg, "float16")
    assert not scale32.enabled and scale16.enabled and scale16.value <= INITIAL_SCALE
    assert loss16 == pytest.approx(loss32, rel=0.01) and loss16 != loss32
    assert np.linalg.norm(grad16 - grad32) / np.linalg.norm(grad32) < 0.05
    assert np.sum(grad16 * grad32) / (np.linalg.norm(grad16) * np.linalg.norm(grad32)) > 0.998
    _, overflowed, scale = _loss_and_gradient(config, content_pixels, style_pixels, image, vgg, "float16",
                                              initial_scale=2.0 ** 60)
    assert scale.overflows > 0 and scale.value < 2.0 ** 60 and np.isfinite(overflowed).all()
    assert np.linalg.norm(overflowed - grad16) / np.linalg.norm(grad16) < 0.05


def test_a_run_in_float16_goes_through(small_images):
    result = stylize(*small_images, precision="float16", **dict(FAST, iterations=3))
    assert result.precision == "float16" and result.iterations == 3 and np.isfinite(result.history[-1].total)


def test_xla_that_cannot_compile_falls_back_to_the_graph_saying_so_once(small_images, monkeypatch):
    """As on a GPU architecture XLA has no kernels for: the first XLA call fails (a PTX error), the run goes on with
    the plain graph at every scale, and says so once."""
    import tensorflow as tf

    from neural_style import backends

    plain = backends.gradient_function

    def cannot_compile(body, mode="eager", *rest, **options):
        if mode != "xla":
            return plain(body, mode, *rest, **options)

        def compiled(*arguments):
            raise tf.errors.InternalError(None, None, "ptxas fatal: Value 'sm_120' is not defined for option "
                                          "'gpu-name' (simulated)")
        return compiled

    monkeypatch.setattr(backends, "gradient_function", cannot_compile)
    stream = io.StringIO()
    result = stylize(*small_images, stream=stream, **dict(FAST, size=96, iterations=6, scales=2, xla=True,
                                                          quiet=False))
    said = stream.getvalue()
    assert result.iterations == 6 and result.plan.hardware.xla and len(result.plan.scales) == 2
    assert said.count("XLA could not compile the objective here (InternalError: ptxas fatal") == 1
    assert "going on with the plain graph" in said


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


def test_a_cpu_can_be_taken_as_without_bfloat16(monkeypatch):
    """NEURAL_STYLE_CPU_BFLOAT16=0 keeps auto in float32 on any CPU and says why; given flags are still read."""
    from neural_style.backends.hardware import CPU_BFLOAT16_VARIABLE, native_bfloat16_cpu, resolve_precision

    monkeypatch.setenv(CPU_BFLOAT16_VARIABLE, "0")
    assert resolve_precision("auto", "/CPU:0") == ("float32", "auto: CPU taken as without native bfloat16 "
                                                   "(NEURAL_STYLE_CPU_BFLOAT16=0)")
    assert resolve_precision("bfloat16", "/CPU:0")[0] == "bfloat16"
    assert native_bfloat16_cpu(frozenset({"avx512_bf16"}))[0] == "AVX512_BF16"
