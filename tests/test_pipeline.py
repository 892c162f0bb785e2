"""The one pipeline: coarse-to-fine scales, the tolerance stop, and the plan made for the hardware it resolved
(the device is resolved before memory is planned). Video frames through it: tests/video."""

import csv
import io
import os

import numpy as np
import pytest

from neural_style import StyleConfig, stylize
from neural_style.config import STYLE_FIELDS

from tests.helpers import FAST


# --- coarse to fine ---------------------------------------------------------------------------

def test_scales_1_is_a_plain_single_optimisation(small_images, extractor):
    """--scales 1 adds nothing: the same picture as wiring the objective and L-BFGS by hand."""
    import tensorflow as tf

    from neural_style.sources import prepare_images
    from neural_style.objective.build import build_objective
    from neural_style.features.network_input import deprocess, pixel_bounds, preprocess
    from neural_style.optim.evaluator import Evaluator
    from neural_style.optim.lbfgs import run_lbfgs
    from neural_style.hardware import op_determinism

    content, style = small_images
    options = dict(FAST, precision="float32", xla=False, scales=1, tolerance=0.0, iterations=8, seed=1)
    result = stylize(content, style, **options)
    config = StyleConfig(content=content, styles=[style], **{k: v for k, v in options.items() if k in STYLE_FIELDS})
    content_pixels, style_pixels = prepare_images(config)
    objective = build_objective(config, extractor, content_pixels, style_pixels)
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
    two = stylize(content, style, scales=2, size=96, iterations=20, tolerance=0.0, snapshot_every=0, quiet=True,
                 init="content")
    cold = stylize(content, style, scales=1, size=96, iterations=1, tolerance=0.0, snapshot_every=0, quiet=True,
                  init="content")
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


# --- the plan is made for the resolved hardware ---------------------------------------------------

def test_the_memory_plan_follows_the_device_resolved_not_the_one_asked_for():
    """On a GPU, host memory does not bound a run (TensorFlow reports the GPU's own): planned for the resolved
    GPU, a size that host memory refuses is planned whole, untiled."""
    from neural_style.errors import NeuralStyleError
    from neural_style.hardware import Hardware
    from neural_style.plan.run_plan import plan_run

    config = StyleConfig(size=1024)
    cpu = Hardware("/CPU:0", "float32", "asked for", False)
    gpu = Hardware("/GPU:0", "bfloat16", "GPU compute capability 9.0", True)
    with pytest.raises(NeuralStyleError, match="needs about"):
        plan_run(config, cpu, (1024, 768), [(1024, 768)], available_memory=1e9)
    plan = plan_run(config, gpu, (1024, 768), [(1024, 768)], available_memory=1e9)
    assert [scale.memory.tile for scale in plan.scales] == [0] * len(plan.scales)
    assert "device /GPU:0" in plan.start_line(config)


def test_stylize_resolves_the_device_before_it_plans_memory(small_images, monkeypatch):
    """With --device unset on a machine whose default device is a GPU, the run is planned for that GPU: host
    memory too small for it no longer refuses or tiles the run (it did: the plan read the *requested* device)."""
    from neural_style import hardware
    from neural_style.plan import memory

    monkeypatch.setattr(hardware, "resolve_device", lambda requested: "/GPU:0")  # soft placement runs it here
    monkeypatch.setattr(memory, "available_memory_bytes", lambda: 1.0)
    content, style = small_images
    result = stylize(content, style, **dict(FAST, iterations=2))
    assert result.device == "/GPU:0" and result.iterations == 2
    assert all(scale.memory.tile == 0 for scale in result.plan.scales)
