"""The one pipeline: coarse-to-fine scales, the tolerance stop, and the plan made for the hardware it resolved
(the device is resolved before memory is planned). Video frames through it: tests/video."""

import csv
import io
import os

import numpy as np
import pytest

from neural_style.watch.record import start_line
from neural_style import StyleConfig, stylize
from neural_style.config import STYLE_FIELDS

from tests.helpers import FAST


# --- coarse to fine ---------------------------------------------------------------------------

def test_scales_1_is_a_plain_single_optimisation(small_images, extractor):
    """--scales 1 adds nothing: the same picture as wiring the objective and L-BFGS by hand."""
    import tensorflow as tf

    from neural_style.run.sources import prepare_images
    from neural_style.objective.build import build_objective
    from neural_style.features.network_input import deprocess, pixel_bounds, preprocess
    from neural_style.optim.evaluator import Evaluator
    from neural_style.optim.lbfgs import run_lbfgs
    from neural_style.backends.hardware import op_determinism

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
                            pixel_bounds(height, width), 8, 10, lambda step: None, cold_start=True)  # the photo
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

def fake_card(monkeypatch, free_gb, total_gb=None, source="NVML"):
    """A machine whose driver reports one NVIDIA GPU with `free_gb` GB free (gpus.system_gpus, simulated)."""
    from neural_style.backends import system_gpus as gpus

    card = gpus.SystemGpu(0, "Simulated GPU", (total_gb or free_gb) * 1e9, free_gb * 1e9, source)
    monkeypatch.setattr(gpus, "system_gpus", lambda: [card])
    return card


def test_a_gpu_run_is_planned_against_the_cards_memory(monkeypatch):
    """A fake card's memory makes the plan tile or refuse as a real card of that size would; the host's memory plans
    only L-BFGS's history; a card whose memory is unknown is neither tiled nor refused by it."""
    from neural_style.errors import NeuralStyleError
    from neural_style.backends.hardware import Hardware
    from neural_style.plan import memory
    from neural_style.plan.run_plan import plan_run

    config = StyleConfig(size=2048)
    gpu = Hardware("/GPU:0", "bfloat16", "GPU compute capability 8.6", True)
    cpu = Hardware("/CPU:0", "float32", "asked for", False)
    monkeypatch.setattr(memory, "available_memory_bytes", lambda: 64e9)
    fake_card(monkeypatch, 40)
    whole = plan_run(config, gpu, (2048, 1365), [(2048, 1536)])
    assert [scale.memory.tile for scale in whole.scales] == [0] * len(whole.scales)
    assert "40.0 GB free on the GPU (NVML)" in start_line(whole, config)
    fake_card(monkeypatch, 4)
    tiled = plan_run(config, gpu, (2048, 1365), [(2048, 1536)])
    assert tiled.scales[-1].memory.tile and tiled.scales[-1].memory.needed <= 4e9
    assert "on the GPU" in tiled.scales[-1].memory.describe()
    with pytest.raises(NeuralStyleError, match="of GPU memory whole but 4.0 GB is free"):
        plan_run(config.with_options(tile_size=0), gpu, (2048, 1365), [(2048, 1536)])
    # The same card with little host memory: scipy's history does not fit beside it; the device L-BFGS keeps its
    # history on the card, where the plan counts it.
    fake_card(monkeypatch, 40)
    with pytest.raises(NeuralStyleError, match="of host memory for L-BFGS's history"):
        plan_run(config.with_options(optimizer="lbfgs"), gpu, (2048, 1365), [(2048, 1536)], available_memory=2e9)
    on_card = plan_run(config, gpu, (2048, 1365), [(2048, 1536)], available_memory=2e9)
    assert on_card.optimizer == "lbfgs-device"
    with_scipy = plan_run(config.with_options(optimizer="lbfgs"), gpu, (2048, 1365), [(2048, 1536)])
    assert on_card.scales[-1].memory.needed > with_scipy.scales[-1].memory.needed  # the history, on the card
    # A CPU is planned against the host, as before.
    assert plan_run(config, cpu, (2048, 1365), [(2048, 1536)], available_memory=64e9).scales[-1].memory.tile == 0
    monkeypatch.setattr("neural_style.backends.system_gpus.system_gpus", lambda: [])
    unknown = plan_run(config, gpu, (2048, 1365), [(2048, 1536)])
    assert all(scale.memory.tile == 0 for scale in unknown.scales) and "GPU memory unknown" in start_line(unknown, config)


def test_a_memory_budget_plans_as_if_only_that_much_were_free(monkeypatch):
    from neural_style.errors import NeuralStyleError
    from neural_style.backends.hardware import Hardware
    from neural_style.plan import memory
    from neural_style.plan.run_plan import plan_run

    cpu = Hardware("/CPU:0", "float32", "asked for", False)
    monkeypatch.setattr(memory, "available_memory_bytes", lambda: 64e9)
    config = StyleConfig(size=2048)
    assert plan_run(config, cpu, (2048, 1365), [(2048, 1536)]).scales[-1].memory.tile == 0
    budgeted = plan_run(config.with_options(memory_budget="6GB"), cpu, (2048, 1365), [(2048, 1536)])
    assert budgeted.scales[-1].memory.tile and budgeted.scales[-1].memory.needed <= 6e9
    assert "memory budget 6.0 GB" in start_line(budgeted, config.with_options(memory_budget="6GB"))
    with pytest.raises(NeuralStyleError, match="but 1.0 GB is available"):
        plan_run(config.with_options(memory_budget=1e9), cpu, (2048, 1365), [(2048, 1536)])
    fake_card(monkeypatch, 40)
    gpu = Hardware("/GPU:0", "float32", "asked for", False)
    on_card = plan_run(config.with_options(memory_budget="3 GiB"), gpu, (2048, 1365), [(2048, 1536)])
    assert on_card.scales[-1].memory.tile and on_card.scales[-1].memory.needed <= 3 * 2**30


@pytest.mark.parametrize("budget", ["six", "0GB", "-1", "6 parsecs"])
def test_a_budget_that_is_not_a_size_is_refused(budget):
    from neural_style.config import validate
    from neural_style.errors import NeuralStyleError

    with pytest.raises(NeuralStyleError, match="is not a memory size|must be above 0"):
        validate(StyleConfig(content="c", styles=["s"], memory_budget=budget))


def test_stylize_resolves_the_device_before_it_plans_memory(small_images, monkeypatch):
    """With --device unset on a machine whose default device is a GPU, the run is planned for that GPU, against the
    card's memory (it was planned by host memory: the plan read the *requested* device)."""
    from neural_style.backends import hardware

    monkeypatch.setattr(hardware, "resolve_device", lambda requested: "/GPU:0")  # soft placement runs it here
    fake_card(monkeypatch, 12)
    content, style = small_images
    result = stylize(content, style, **dict(FAST, iterations=2))
    assert result.device == "/GPU:0" and result.iterations == 2
    assert all(scale.memory.tile == 0 for scale in result.plan.scales)
    assert "12.0 GB free on the GPU" in result.plan.memory.describe()


# --- out of memory, survived --------------------------------------------------------------------

def _running_out_of_memory(monkeypatch, at_evaluation, also_tiled=False):
    """Make the whole-image evaluation (and, with `also_tiled`, the tiled one too) raise TensorFlow's
    ResourceExhaustedError from its `at_evaluation`th call on, as a GPU out of memory does."""
    import tensorflow as tf

    from neural_style.objective import tiled, whole

    calls = {"n": 0}
    for kind in (whole.Objective, tiled.TiledObjective) if also_tiled else (whole.Objective,):
        real = kind.loss_and_gradient

        def failing(self, image, real=real):
            calls["n"] += 1
            if calls["n"] >= at_evaluation:
                raise tf.errors.ResourceExhaustedError(None, None, "OOM when allocating tensor (simulated)")
            return real(self, image)

        monkeypatch.setattr(kind, "loss_and_gradient", failing)
    return calls


def test_running_out_of_memory_goes_on_in_smaller_tiles_from_the_same_picture(small_images, monkeypatch):
    import io

    from neural_style.run import pipeline

    monkeypatch.setattr(pipeline, "SMALLEST_TILE_AFTER_OUT_OF_MEMORY", 32)  # so a 96 px test picture has tiles left
    _running_out_of_memory(monkeypatch, at_evaluation=5)
    content, style = small_images
    stream = io.StringIO()
    seen = []
    result = stylize(content, style, stream=stream, on_step=seen.append,
                     **dict(FAST, size=96, iterations=8, scales=1, quiet=False, tolerance=0.0, precision="float32"))
    said = stream.getvalue()
    assert "out of memory at 96x64 whole: going on in 48 px tiles from iteration" in said
    assert result.iterations == 8 and result.error is None and result.image.shape == (64, 96, 3)
    assert [step.iteration for step in seen] == list(range(1, 9))  # counted on, none repeated or lost
    assert seen[-1].total < seen[0].total


def test_out_of_memory_with_no_smaller_tile_left_stops_in_one_line_keeping_the_picture(small_images, tmp_path,
                                                                                      monkeypatch, capsys):
    from neural_style.commands.cli import main

    _running_out_of_memory(monkeypatch, at_evaluation=4, also_tiled=True)
    content, style = small_images
    output = tmp_path / "out.png"
    status = main([content, style, "-o", str(output), "--size", "96", "--iterations", "8", "--scales", "1",
                   "--init", "content", "--no-xla", "--snapshot-every", "0"])
    err = capsys.readouterr().err
    assert status == 1 and "Traceback" not in err
    assert "stopped: out of memory at 96x64 whole, and no smaller tile is left: lower --size" in err
    assert output.exists() and (tmp_path / "out_log.csv").exists()  # the picture so far and its log, kept
