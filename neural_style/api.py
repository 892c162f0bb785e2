"""The Python API: `stylize(...)` runs the whole pipeline and returns a `StyleResult`.

images in -> features (model.py) -> losses (losses.py) -> optimiser (optimize.py) -> outputs (outputs.py)
"""

from __future__ import annotations

import math
import os
import time
from dataclasses import dataclass, field
from typing import Any, Callable, List, Optional, Sequence, TextIO, Tuple

import numpy as np
from PIL import Image

from . import images
from .config import StyleConfig, validate
from .errors import NeuralStyleError
from .optimize import Step
from .outputs import LossRecord, Progress, Recorder


@dataclass
class StyleResult:
    """What a run produced: the picture, the loss history and how the run ended."""

    image: np.ndarray  # H x W x 3 uint8 RGB
    history: List[LossRecord]
    iterations: int
    evaluations: int
    seconds: float
    stop_reason: str  # "done", "stopped", "failed" or the optimiser's own reason
    device: str
    config: StyleConfig
    error: Optional[str] = None
    output: Optional[str] = None
    snapshots: List[str] = field(default_factory=list)
    log_file: Optional[str] = None

    def to_pil(self) -> Image.Image:
        return Image.fromarray(self.image)

    def save(self, path: str) -> None:
        images.save_image(path, self.image)

    @property
    def seconds_per_evaluation(self) -> float:
        """Optimisation time per loss-and-gradient evaluation (model building excluded)."""
        if not self.history or not self.history[-1].evaluations:
            return math.nan
        return self.history[-1].seconds / self.history[-1].evaluations


def resolve_device(requested: Optional[str]) -> str:
    """A TensorFlow device name: the one asked for (checked), else the first GPU, else the CPU."""
    import tensorflow as tf

    devices = [d.name.replace("/device:", "/") for d in tf.config.list_logical_devices()]
    if requested is None:
        gpus = [d for d in devices if "/GPU:" in d]
        return gpus[0] if gpus else "/CPU:0"
    name = requested.strip()
    name = name[len("/device:"):] if name.lower().startswith("/device:") else name.lstrip("/")
    kind, _, index = name.partition(":")
    normalised = f"/{kind.upper()}:{index or '0'}"
    if normalised not in devices:
        raise NeuralStyleError(f"unknown device {requested!r}: TensorFlow sees {', '.join(devices)}")
    return normalised


def prepare_images(config: StyleConfig) -> Tuple[np.ndarray, List[np.ndarray]]:
    """Content at --size (longest side); each style image at --size x --style-scale."""
    content = images.load_image(config.content, "content")
    content = images.resize_longest_side(content, config.size)
    style_side = max(1, math.ceil(config.size * config.style_scale))
    styles = []
    for index, source in enumerate(config.styles):
        role = "style" if len(config.styles) == 1 else f"style #{index + 1}"
        style = images.resize_longest_side(images.load_image(source, role), style_side)
        styles.append(images.to_array(style))
    return images.to_array(content), styles


def check_image_sizes(config: StyleConfig, content: np.ndarray, styles: Sequence[np.ndarray]) -> None:
    """VGG19's poolings halve the image; the deepest layer used must still have a pixel."""
    from .model import deepest_downsampling

    poolings = deepest_downsampling(tuple(config.content_layers) + tuple(config.style_layers))
    smallest = 2**poolings
    for role, array in [("content", content)] + [("style", s) for s in styles]:
        if min(array.shape[:2]) < smallest:
            raise NeuralStyleError(
                f"the {role} image is {array.shape[1]}x{array.shape[0]} px at this --size/--style-scale; "
                f"the deepest layer used needs at least {smallest} px on each side: raise --size"
            )


def initial_image(config: StyleConfig, content: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """The starting network image: the content, white noise, or a file (e.g. a snapshot, to resume)."""
    from .model import preprocess

    if config.init == "content":
        return preprocess(content)
    if config.init == "random":
        height, width = content.shape[:2]
        noise = rng.uniform(0, 255, size=(height, width, 3))
        return preprocess(noise)
    start = images.load_image(config.init, "--init")
    start = images.resize_to(start, (content.shape[1], content.shape[0]))
    return preprocess(images.to_array(start))


def stylize(
    content: Any = None,
    style: Any = None,
    output: Optional[str] = None,
    *,
    config: Optional[StyleConfig] = None,
    on_step: Optional[Callable[[Step], None]] = None,
    stream: Optional[TextIO] = None,
    should_stop: Optional[Callable[[], bool]] = None,
    **options: Any,
) -> StyleResult:
    """Paint `content` in the style of `style` (a path, Pillow image or uint8 array, or a list
    of them to blend). Options are `StyleConfig` fields, e.g. `size=256, iterations=100`.

    With `output`, the final image, snapshots and the CSV log are written beside it.
    `on_step(step)` is called after every iteration (it may raise StopIteration to stop early);
    `should_stop()` is polled before every evaluation.
    """
    base = config or StyleConfig()
    given = {name: value for name, value in (("content", content), ("styles", style), ("output", output))
             if value is not None}
    config = base.with_options(**given, **options)
    validate(config)
    if config.output:
        images.check_writable_image_path(config.output)
    progress = Progress(config.iterations, stream=stream, quiet=config.quiet, print_every=config.print_every)

    content_pixels, style_pixels = prepare_images(config)
    check_image_sizes(config, content_pixels, style_pixels)

    import keras
    import tensorflow as tf

    from .losses import Objective, compute_targets
    from .model import build_vgg19, deprocess, feature_extractor, pixel_bounds, preprocess
    from .optimize import Evaluator, run_adam, run_lbfgs

    device = resolve_device(config.device)
    if config.seed is not None:
        keras.utils.set_random_seed(config.seed)
    rng = np.random.default_rng(config.seed)
    height, width = content_pixels.shape[:2]
    progress.message(
        f"device {device}; content {width}x{height}, style "
        + ", ".join(f"{s.shape[1]}x{s.shape[0]}" for s in style_pixels)
        + f"; weights {config.weights}; {config.optimizer} for {config.iterations} iterations"
    )

    started = time.perf_counter()
    with tf.device(device):
        vgg = build_vgg19(config.weights, config.cache_dir, progress.message)
        layers = tuple(dict.fromkeys(tuple(config.content_layers) + tuple(config.style_layers)))
        extractor = feature_extractor(vgg, layers, config.pooling)
        targets = compute_targets(
            extractor,
            tf.constant(preprocess(content_pixels)),
            [tf.constant(preprocess(s)) for s in style_pixels],
            config.resolved_blend_weights(),
            config.content_layers,
            config.style_layers,
        )
        objective = Objective(
            extractor, targets, config.resolved_loss_weights(),
            dict(zip(config.style_layers, config.resolved_style_layer_weights())),
            xla=config.xla,
        )

    def render(flat_image: np.ndarray) -> np.ndarray:
        pixels = deprocess(flat_image.reshape(1, height, width, 3))
        return images.transfer_luminance(pixels, content_pixels) if config.original_colors else pixels

    recorder = Recorder(render, progress, config.output, config.snapshot_every, config.log, on_step)
    evaluator = Evaluator(objective, (1, height, width, 3), device, should_stop)
    x0 = initial_image(config, content_pixels, rng).astype(np.float64).ravel()
    bounds = pixel_bounds(height, width)
    if config.optimizer == "lbfgs":
        outcome = run_lbfgs(evaluator, x0, bounds, config.iterations, config.lbfgs_history, recorder)
    else:
        outcome = run_adam(evaluator, x0, bounds, config.iterations, config.learning_rate, recorder)
    progress.close()

    final = render(outcome.image)
    if config.output:
        images.save_image(config.output, final)
    seconds = time.perf_counter() - started
    result = StyleResult(
        image=final, history=recorder.history, iterations=outcome.iterations,
        evaluations=outcome.evaluations, seconds=seconds, stop_reason=outcome.reason, device=device,
        config=config, error=outcome.error, output=config.output, snapshots=recorder.snapshots,
        log_file=recorder.log_file,
    )
    if outcome.error:
        progress.message(f"stopped: {outcome.error}; kept the last good image")
    elif outcome.reason not in ("done", "stopped"):
        progress.message(outcome.reason)
    progress.message(
        f"{outcome.iterations} iterations, {outcome.evaluations} evaluations in {seconds:.1f} s "
        f"({result.seconds_per_evaluation:.2f} s/evaluation)"
        + (f"; wrote {config.output}" if config.output else "")
    )
    return result
