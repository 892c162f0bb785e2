"""Coarse-to-fine: optimise a small picture first, then each larger one from the previous result
upsampled, with content targets and style Gram matrices recomputed at every size.

A small scale costs a fraction of the final one per iteration (a quarter at half the side), and it
settles the large structures that the final scale would otherwise spend most of its iterations on.
Iteration numbers, evaluations and seconds count on across scales; the budget (--iterations) is split
over the scales, and what a scale leaves unused (it converged) passes to the next.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any, Callable, Dict, List, Optional, Sequence

import numpy as np

from neural_style import images
from neural_style.optim.memory import plan_memory
from neural_style.optim.optimize import ConvergenceCheck, Evaluator, Outcome, Step, run_optimiser

if TYPE_CHECKING:
    from PIL import Image

    from neural_style.config import StyleConfig
    from neural_style.features.vgg19 import FeatureExtractor

# The first scale's longest side is at most this (VGG19 still sees every structure of a photo at 256 px),
# and each scale is sqrt(2) times the previous one (twice the pixels). Measured at 512 px (README, Speed):
# with factor 2 (256 -> 512) the upsampled picture starts the last scale at 10x its coarse loss, with
# factor sqrt(2) at 3.5x, and after the same 500 iterations the final loss was 1.5% lower.
FIRST_SCALE_AT_MOST = 256
SCALE_FACTOR = math.sqrt(2.0)
# The share of the budget each scale may use, coarsest first, before rollover; measured in the README.
FINAL_SCALE_SHARE = 0.5


@dataclass(frozen=True)
class Scale:
    """One size of a coarse-to-fine run."""

    index: int  # 1-based
    count: int
    size: int  # --size at this scale (the longest side; the shorter one for the reference sizing)
    iterations: int  # this scale's share of the budget, before what earlier scales leave over

    @property
    def label(self) -> str:
        return f"scale {self.index}/{self.count}"


def scale_count(config: "StyleConfig") -> int:
    """--scales, or for 'auto' as many as it takes to start at FIRST_SCALE_AT_MOST px or less,
    growing by SCALE_FACTOR up to --size. A run resumed from an image file (--init FILE) stays at one scale: its
    picture already has the final size's detail."""
    if config.scales != "auto":
        return int(config.scales)
    if config.init not in ("content", "random") or config.sizing == "reference":
        return 1
    return 1 + max(0, math.ceil(math.log(config.size / FIRST_SCALE_AT_MOST, SCALE_FACTOR) - 1e-9))


def scale_sizes(size: int, count: int) -> List[int]:
    """`count` sizes growing by SCALE_FACTOR and ending at `size`: 512 over 3 is [256, 362, 512]."""
    if count == 1:
        return [size]
    return [max(16, round(size / SCALE_FACTOR ** (count - 1 - index))) for index in range(count)]


def split_iterations(total: int, count: int) -> List[int]:
    """The budget over `count` scales: FINAL_SCALE_SHARE to the last, the rest evenly to the others."""
    if count == 1:
        return [total]
    final = max(1, round(total * FINAL_SCALE_SHARE))
    rest = total - final
    coarse = [rest // (count - 1) + (1 if index < rest % (count - 1) else 0) for index in range(count - 1)]
    return coarse + [final]


def plan_scales(config: "StyleConfig") -> List[Scale]:
    """The scales of a run, coarsest first."""
    count = min(scale_count(config), config.iterations)
    sizes = scale_sizes(config.size, count)
    return [Scale(index + 1, count, size, iterations)
            for index, (size, iterations) in enumerate(zip(sizes, split_iterations(config.iterations, count)))]


def upsample(network_image: np.ndarray, height: int, width: int) -> np.ndarray:
    """A 1 x h x w x 3 network image resized (bicubic) to height x width and clipped to valid pixels."""
    import tensorflow as tf

    from neural_style.features.network_input import PIXEL_HIGH, PIXEL_LOW

    resized = tf.image.resize(tf.constant(network_image, tf.float32), (height, width), method="bicubic")
    return np.clip(resized.numpy(), PIXEL_LOW, PIXEL_HIGH)


def objective_for(config: "StyleConfig", extractor: "FeatureExtractor", content_pixels: np.ndarray,
                  style_pixels: Sequence[np.ndarray], tile: int, built: Dict[int, Any]) -> Any:
    """The objective for images of these sizes, whole (`tile` 0) or in tiles: one already `built` for
    another size retargeted (no new trace), else a new one, kept in `built`."""
    from neural_style.objective.losses import build_objective, compute_config_targets
    from neural_style.objective.tiled import build_tiled_objective, compute_config_tiled_targets

    if tile in built:
        targets = (compute_config_tiled_targets(config, extractor, content_pixels, style_pixels, tile) if tile
                   else compute_config_targets(config, extractor, content_pixels, style_pixels))
        built[tile] = built[tile].for_targets(targets)
    else:
        built[tile] = (build_tiled_objective(config, extractor, content_pixels, style_pixels, tile) if tile
                       else build_objective(config, extractor, content_pixels, style_pixels))
    return built[tile]


@dataclass
class ScaledOutcome:
    """How a coarse-to-fine run ended: the optimiser's outcome at the last scale it reached."""

    outcome: Outcome
    width: int
    height: int
    scales_done: int


def run_scales(config: "StyleConfig", extractor: "FeatureExtractor", content: "Image.Image",
               styles: Sequence["Image.Image"], device: str, on_step: Callable[[Step], None],
               notify: Callable[[str], None], initial_image: Callable[[np.ndarray], np.ndarray],
               should_stop: Optional[Callable[[], bool]] = None,
               on_scale: Optional[Callable[[Scale, int, int, int], None]] = None,
               available_memory: Optional[float] = None) -> ScaledOutcome:
    """Optimise at each scale of `plan_scales(config)` in turn; `on_step` sees every iteration with
    run-wide numbers. `initial_image(content_pixels)` gives the first scale's start (network image);
    `on_scale(scale, width, height, budget)` is told when a scale starts. Scales whose images do not
    fit whole in `available_memory` bytes (None: unknown) are evaluated in tiles."""
    import tensorflow as tf

    started = time.perf_counter()
    scales = plan_scales(config)
    objectives: Dict[int, Any] = {}  # by tile size (0: whole): built once, retargeted at every scale
    previous: Optional[np.ndarray] = None
    done_iterations = done_evaluations = 0
    left_over = 0
    result: Optional[ScaledOutcome] = None
    for scale in scales:
        plan = images.plan_sizes(content.size, [s.size for s in styles], scale.size, config.style_scale, config.sizing)
        content_pixels = images.to_array(plan.resize(content, plan.content))
        style_pixels = [images.to_array(plan.resize(style, size)) for style, size in zip(styles, plan.styles)]
        width, height = plan.content
        budget = scale.iterations + left_over
        if on_scale is not None:
            on_scale(scale, width, height, budget)
        memory = plan_memory(scale.size, [plan.content, *plan.styles], config.lbfgs_history, config.tile_size,
                             config.tile_halo, available_memory, measure=False)
        if memory.tile:
            notify(f"{scale.label + ': ' if len(scales) > 1 else ''}{width}x{height} evaluated in {memory.describe()}")
        with tf.device(device):
            objective = objective_for(config, extractor, content_pixels, style_pixels, memory.tile, objectives)
        x0 = initial_image(content_pixels) if previous is None else upsample(previous, height, width)
        check = ConvergenceCheck(config.tolerance)
        offsets = (done_iterations, done_evaluations, time.perf_counter() - started)

        def on_scale_step(step: Step, offsets: tuple = offsets, check: ConvergenceCheck = check) -> None:
            on_step(replace(step, iteration=step.iteration + offsets[0], evaluations=step.evaluations + offsets[1],
                            seconds=step.seconds + offsets[2]))
            check(step)

        evaluator = Evaluator(objective, (1, height, width, 3), device, should_stop)
        # Every scale starts L-BFGS with its plain first step; where that step is too small to change
        # the loss (seen at 384 px in bfloat16), run_lbfgs restarts with a one-grey-level step. Scaling
        # every later scale's first step instead was measured worse at 512 px: loss 4.023 vs 3.952.
        outcome = run_optimiser(config.with_options(iterations=budget), evaluator,
                                x0.astype(np.float64).ravel(), on_scale_step,
                                cold_start=previous is None and config.init in ("content", "random"))
        done_iterations += outcome.iterations
        done_evaluations += outcome.evaluations
        left_over = budget - outcome.iterations
        previous = outcome.image.reshape(1, height, width, 3)
        result = ScaledOutcome(replace(outcome, iterations=done_iterations, evaluations=done_evaluations),
                               width, height, scale.index)
        if outcome.reason in ("stopped", "failed"):
            break
        if len(scales) > 1 and scale.index < len(scales) and outcome.reason != "done":
            notify(f"{scale.label} ended after {outcome.iterations} iterations: {outcome.reason}")
    assert result is not None
    return result


__all__ = ["Scale", "objective_for", "plan_scales", "run_scales", "scale_count", "scale_sizes", "split_iterations", "upsample"]
