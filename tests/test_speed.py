"""Speed features: precision choice, bfloat16 accuracy, coarse-to-fine scales, the tolerance stop, and
the benchmark. Timings are the benchmark's business, not these tests'."""

import csv
import io
import os

import numpy as np
import pytest

from neural_style import StyleConfig, stylize
from neural_style.optim.coarse_to_fine import plan_scales, scale_count, split_iterations
from neural_style.hardware import native_bfloat16, resolve_precision, resolve_xla

FAST = dict(size=48, iterations=6, snapshot_every=0, quiet=True)


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
    assert result.config.precision == "float32" and result.config.xla is False
    monkeypatch.setattr(precision, "cpu_flags", lambda: frozenset({"avx512_bf16"}))
    stream = io.StringIO()
    result = stylize(content, style, stream=stream, **dict(FAST, iterations=1, quiet=False))
    assert "bfloat16 (auto: CPU with AVX512_BF16), graph;" in stream.getvalue()
    assert result.config.precision == "bfloat16"


def test_bfloat16_loss_and_gradient_are_close_to_float32(small_images):
    """Stated tolerance: the loss within 2% and the gradient within 10% (relative L2; measured 5.8%)
    of float32's, pointing the same way (cosine > 0.99), at the content image with noise; the
    activations themselves differ by about 0.5%."""
    import tensorflow as tf

    from neural_style.api import prepare_images
    from neural_style.objective.losses import build_objective
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


# --- coarse to fine ---------------------------------------------------------------------------

def test_scale_sizes_and_the_iteration_split():
    plan = plan_scales(StyleConfig(size=512, iterations=500))  # each sqrt(2) times the previous
    assert [(s.size, s.iterations) for s in plan] == [(256, 125), (362, 125), (512, 250)]
    assert [s.size for s in plan_scales(StyleConfig(size=1024))] == [256, 362, 512, 724, 1024]
    assert [s.size for s in plan_scales(StyleConfig(size=384))] == [192, 272, 384]
    assert [s.size for s in plan_scales(StyleConfig(size=256))] == [256]
    assert [s.size for s in plan_scales(StyleConfig(size=512, scales=2))] == [362, 512]
    assert [s.size for s in plan_scales(StyleConfig(size=512, scales=1))] == [512]
    assert scale_count(StyleConfig(size=2048, init=__file__)) == 1  # resuming from a picture: one scale
    assert scale_count(StyleConfig(size=512, sizing="reference")) == 1
    assert split_iterations(500, 3) == [125, 125, 250] and split_iterations(7, 2) == [3, 4]
    assert len(plan_scales(StyleConfig(size=4096, iterations=2))) == 2  # never more scales than iterations


def test_scales_1_is_a_plain_single_optimisation(small_images):
    """--scales 1 adds nothing: the same picture as wiring the objective and L-BFGS by hand."""
    import tensorflow as tf

    from neural_style.api import prepare_images
    from neural_style.objective.losses import build_objective
    from neural_style.features.vgg19 import build_feature_extractor
    from neural_style.features.network_input import deprocess, pixel_bounds, preprocess
    from neural_style.optim.optimize import Evaluator, run_lbfgs
    from neural_style.commands.common import op_determinism

    content, style = small_images
    options = dict(FAST, precision="float32", xla=False, scales=1, tolerance=0.0, iterations=8, seed=1)
    result = stylize(content, style, **options)
    config = StyleConfig(content=content, styles=[style], **options)
    content_pixels, style_pixels = prepare_images(config)
    objective = build_objective(config, build_feature_extractor(config), content_pixels, style_pixels)
    height, width = content_pixels.shape[:2]
    evaluator = Evaluator(objective, (1, height, width, 3), "/CPU:0")
    with tf.device("/CPU:0"), op_determinism(True):  # as the seeded run above
        outcome = run_lbfgs(evaluator, preprocess(content_pixels).astype(np.float64).ravel(),
                            pixel_bounds(height, width), 8, 10, lambda step: None)
    np.testing.assert_array_equal(result.image, deprocess(outcome.image.reshape(1, height, width, 3)))
    assert result.evaluations == outcome.evaluations


def test_a_two_scale_run_logs_both_sizes_and_counts_on(small_images, tmp_path):
    content, style = small_images
    output = str(tmp_path / "two.png")
    stream = io.StringIO()
    result = stylize(content, style, output, scales=2, size=64, iterations=8, snapshot_every=2, print_every=1,
                     tolerance=0.0, stream=stream)
    with open(tmp_path / "two_log.csv") as log:
        rows = list(csv.DictReader(log))
    assert [int(r["iteration"]) for r in rows] == list(range(1, 9))
    assert [(r["width"], r["height"]) for r in rows] == [("45", "30")] * 4 + [("64", "42")] * 4
    evaluations = [int(r["evaluations"]) for r in rows]
    seconds = [float(r["seconds"]) for r in rows]
    assert evaluations == sorted(evaluations) and seconds == sorted(seconds) and evaluations[-1] == result.evaluations
    # Snapshots keep their names and the output's size, at every scale.
    from PIL import Image

    assert [os.path.basename(p) for p in result.snapshots] == [f"two_at_iteration_{n}.png" for n in (2, 4, 6, 8)]
    assert {Image.open(p).size for p in result.snapshots} == {(64, 42)} and Image.open(output).size == (64, 42)
    text = stream.getvalue()
    assert "scale 1/2: 45x30, up to 4 iterations" in text and "scale 2/2: 64x42, up to 4 iterations" in text
    assert "iteration 5/8  scale 2/2 64x42" in text


def test_the_second_scale_starts_from_the_first_ones_result(small_images):
    """The fine scale's first loss is far below a cold start's at that size: it starts from the
    coarse result upsampled, not from the content image."""
    content, style = small_images
    two = stylize(content, style, scales=2, size=96, iterations=20, tolerance=0.0, snapshot_every=0, quiet=True)
    cold = stylize(content, style, scales=1, size=96, iterations=1, tolerance=0.0, snapshot_every=0, quiet=True)
    fine = [r for r in two.history if r.width == 96]
    assert fine[0].total < 0.5 * cold.history[0].total


def test_the_tolerance_ends_a_scale_and_says_why(small_images):
    content, style = small_images
    stream = io.StringIO()
    result = stylize(content, style, tolerance=0.9, stream=stream, **dict(FAST, iterations=60, quiet=False))
    assert 10 < result.iterations < 60
    assert result.stop_reason.startswith("converged: the loss fell ") and "(--tolerance 0.9)" in result.stop_reason
    assert result.stop_reason in stream.getvalue()
    off = stylize(content, style, tolerance=0.0, **dict(FAST, iterations=25))
    assert off.iterations == 25 and off.stop_reason == "done"


# --- the benchmark -------------------------------------------------------------------------------

def test_benchmark_prints_its_table_at_a_tiny_size(capsys):
    from neural_style.commands.cli import main

    assert main(["benchmark", "--sizes", "32", "--precisions", "bfloat16", "--rounds", "1"]) == 0
    out = capsys.readouterr().out
    row = next(line for line in out.splitlines() if line.strip().startswith("bfloat16"))
    fields = row.split()
    assert fields[1] == "32x21"
    graph_min, graph_median = (float(v) for v in fields[2].split("/"))
    assert 0 < graph_min <= graph_median
    assert float(fields[4]) > 0 and float(fields[5]) > 0 and fields[6].endswith("%")
    start, memory = float(fields[7].rstrip("s")), float(fields[8])
    assert 0 < start < 120 and memory > 100
    assert "bfloat16 matmul peak:" in out


def test_evaluation_gflop_counts_vgg19s_convolutions(vgg19):
    from neural_style.commands.benchmark import evaluation_gflop
    from neural_style.features.vgg19 import feature_extractor

    model = feature_extractor(vgg19, ["block1_conv1"])
    # One 3x3 conv, 3 -> 64 channels, on 10 x 10: forward and input gradient, plus its Gram matrix.
    expected = 2 * 2 * 10 * 10 * 9 * 3 * 64 + 2 * 2 * 10 * 10 * 64 * 64
    assert evaluation_gflop(model, ["block1_conv1"], 10, 10) == pytest.approx(expected / 1e9)
    deep = feature_extractor(vgg19, ["block2_conv1"])
    assert evaluation_gflop(deep, [], 8, 8) == pytest.approx(
        4 * 8 * 8 * 9 * (3 * 64 + 64 * 64) / 1e9 + 4 * 4 * 4 * 9 * 64 * 128 / 1e9)


def test_time_to_quality_compares_the_baseline_with_the_default(small_images):
    from neural_style.commands import benchmark

    content, style = small_images
    runs = benchmark.time_to_quality(content, style, 48, lambda: False, say=lambda text: None, iterations=12)
    summary = benchmark.summarise_time_to_quality(runs, content, style, 48)
    assert summary["baseline"]["precision"] == "float32" and summary["baseline"]["scales"] == 1
    assert summary["baseline"]["iterations"] == 12
    assert summary["baseline"]["float32_loss"] > 0 and summary["default"]["float32_loss"] > 0
    assert summary["wall_time_ratio"] > 0


# --- L-BFGS restarts -----------------------------------------------------------------------------

CURVATURES = np.linspace(1.0, 1000.0, 12).reshape(1, 2, 2, 3).astype(np.float32)


class _Quadratic:
    """0.5 * sum(c * (x - 1)^2), ill-conditioned so L-BFGS needs many iterations, as an Objective:
    enough for the optimiser's plumbing."""

    def loss_and_gradient(self, image):
        import tensorflow as tf

        difference = image - 1.0
        total = 0.5 * tf.reduce_sum(CURVATURES * difference * difference)
        return total, tf.stack([total, 0.0, 0.0]), CURVATURES * difference


def test_lbfgs_restarts_where_its_line_search_failed(monkeypatch):
    from neural_style.optim import lbfgsb

    from neural_style.optim.optimize import Evaluator, run_lbfgs

    real = lbfgsb.fmin_l_bfgs_b
    calls = []

    def fails_once_after_two_iterations(func, x0, **kwargs):
        calls.append((x0.copy(), kwargs["maxiter"], np.stack(kwargs["bounds"])))
        if len(calls) == 1:
            kwargs["maxiter"] = 2
            x, f, info = real(func, x0, **kwargs)
            return x, f, dict(info, task="ABNORMAL_TERMINATION_IN_LNSRCH")
        return real(func, x0, **kwargs)

    monkeypatch.setattr(lbfgsb, "fmin_l_bfgs_b", fails_once_after_two_iterations)
    evaluator = Evaluator(_Quadratic(), (1, 2, 2, 3), "/CPU:0")
    steps = []
    bounds = (np.full(12, -5.0), np.full(12, 5.0))
    outcome = run_lbfgs(evaluator, np.zeros(12), bounds, 6, 5, steps.append)
    assert outcome.reason == "done" and outcome.iterations == 6 == len(steps)
    assert [step.iteration for step in steps] == list(range(1, 7))
    assert calls[1][1] == 4 and not np.array_equal(calls[1][0], calls[0][0])  # from where it stopped


def test_a_start_that_cannot_move_is_retried_with_a_one_grey_level_step(monkeypatch):
    from neural_style.optim import lbfgsb

    from neural_style.optim.optimize import Evaluator, run_lbfgs

    calls = []

    def never_moves(func, x0, **kwargs):
        calls.append(np.stack(kwargs["bounds"]))
        func(x0)
        return x0, 0.0, {"task": "ABNORMAL_TERMINATION_IN_LNSRCH"}

    monkeypatch.setattr(lbfgsb, "fmin_l_bfgs_b", never_moves)
    evaluator = Evaluator(_Quadratic(), (1, 2, 2, 3), "/CPU:0")
    bounds = (np.full(12, -5.0), np.full(12, 5.0))
    outcome = run_lbfgs(evaluator, np.full(12, -3.0), bounds, 6, 5, lambda step: None)
    assert len(calls) == 2  # the plain start, then one scaled start, then it gives up
    # At x = -3 the gradient is -4 c: scipy's variable becomes x / s with s = 1 / sqrt(rms(4 c)), so its
    # first step, the whole gradient, is one grey level (root mean square) in x.
    scale = 1.0 / np.sqrt(np.sqrt(np.mean((4.0 * CURVATURES) ** 2)))
    np.testing.assert_allclose(calls[1], calls[0] / scale, rtol=1e-5)
    assert outcome.iterations == 0
    assert outcome.reason == "L-BFGS ended after 0 iterations: ABNORMAL_TERMINATION_IN_LNSRCH"
    assert evaluator.evaluations == 1  # the start point, evaluated once for both attempts and the scale


def test_a_first_iteration_that_cannot_move_restarts_without_evaluating_its_start_again(monkeypatch):
    from neural_style.optim import lbfgsb
    from neural_style.optim import optimize

    from neural_style.optim.optimize import Evaluator, run_lbfgs

    real = lbfgsb.fmin_l_bfgs_b
    calls = []  # per attempt: the points asked for

    def line_search_that_never_moves_then_real(func, x0, **kwargs):
        asked = []
        calls.append(asked)

        def counted(y):
            asked.append(y.copy())
            return func(y)

        if len(calls) == 1:
            while True:  # trial steps too small to change the loss, until the optimiser gives up on them
                counted(x0 + 1e-12 * len(asked))
        return real(counted, x0, **kwargs)

    monkeypatch.setattr(lbfgsb, "fmin_l_bfgs_b", line_search_that_never_moves_then_real)
    evaluator = Evaluator(_Quadratic(), (1, 2, 2, 3), "/CPU:0")
    bounds = (np.full(12, -5.0), np.full(12, 5.0))
    outcome = run_lbfgs(evaluator, np.full(12, -3.0), bounds, 40, 5, lambda step: None)
    stalled, scaled = calls
    assert len(stalled) == optimize.FIRST_ITERATION_EVALUATIONS + 1  # the last one raised before evaluating
    assert outcome.reason == "done" and outcome.iterations == 40
    # The scaled attempt's first point is the start, already evaluated: only its other points cost.
    assert evaluator.evaluations == optimize.FIRST_ITERATION_EVALUATIONS + len(scaled) - 1
    np.testing.assert_allclose(outcome.image, 1.0, atol=0.05)  # and it still finds the minimum


def test_a_cold_start_that_stalls_is_restarted_with_a_one_grey_level_step(small_images, monkeypatch):
    # A loss that has not fallen by STALL_FALL after STALL_ITERATIONS restarts once; here every cold
    # start counts as stalled (a fall of more than 100% is impossible), and a warm one is left alone.
    from neural_style import stylize
    from neural_style.optim import optimize

    raised = []

    class CountedStall(optimize.Stalled):
        def __init__(self, *args):
            raised.append(1)
            super().__init__(*args)

    monkeypatch.setattr(optimize, "Stalled", CountedStall)
    monkeypatch.setattr(optimize, "STALL_FALL", 1.01)
    content, style = small_images
    result = stylize(content, style, size=64, iterations=25, scales=1, tolerance=0, quiet=True)
    assert len(raised) == 1 and result.iterations == 25 and result.stop_reason == "done"
    assert [s.iteration for s in result.history] == list(range(1, 26))
    raised.clear()
    stylize(content, style, size=64, iterations=25, scales=1, tolerance=0, quiet=True, init=content)
    assert raised == []  # a start from an image file is not a cold start
