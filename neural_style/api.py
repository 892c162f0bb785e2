"""The Python API: `stylize(...)` runs the whole pipeline and returns a `StyleResult`.

images in -> features (model.py) -> losses (losses.py) -> optimiser (optimize.py) -> outputs (outputs.py)
"""

from __future__ import annotations

import contextlib
import math
import os
import tempfile
import time
from dataclasses import dataclass, field
from typing import Any, Callable, Iterator, List, Optional, Sequence, TextIO, Tuple

import numpy as np
from PIL import Image

from . import images
from .config import PRESETS, StyleConfig, validate
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


def prepare_images(config: StyleConfig, notify: Optional[Callable[[str], None]] = None
                   ) -> Tuple[np.ndarray, List[np.ndarray]]:
    """Content at --size (longest side); each style image at --size x --style-scale. The planned
    sizes are checked (smallest usable, memory) before anything is resized."""
    content = images.load_image(config.content, "content", notify)
    styles = [images.load_image(source, "style" if len(config.styles) == 1 else f"style #{index + 1}", notify)
              for index, source in enumerate(config.styles)]
    if config.sizing == "reference":
        content_size = images.torchvision_resize_size(content.width, content.height, config.size)
        style_sizes = [content_size] * len(styles)
        resize = images.resize_to_bilinear
    else:
        style_side = max(1, math.ceil(config.size * config.style_scale))
        content_size = images.scaled_size(content.width, content.height, config.size)
        style_sizes = [images.scaled_size(style.width, style.height, style_side) for style in styles]
        resize = images.resize_to
    check_image_sizes(config, content_size, style_sizes)
    check_memory(config, content_size, style_sizes)
    return (images.to_array(resize(content, content_size)),
            [images.to_array(resize(style, size)) for style, size in zip(styles, style_sizes)])


def check_image_sizes(config: StyleConfig, content_size: Tuple[int, int],
                      style_sizes: Sequence[Tuple[int, int]]) -> None:
    """VGG19's poolings halve the image; the deepest layer used must still have a pixel."""
    from .model import deepest_downsampling

    poolings = deepest_downsampling(tuple(config.content_layers) + tuple(config.style_layers))
    smallest = 2**poolings
    for role, (width, height) in [("content", content_size)] + [("style", s) for s in style_sizes]:
        if min(width, height) < smallest:
            raise NeuralStyleError(
                f"the {role} image is {width}x{height} px at this --size/--style-scale; "
                f"the deepest layer used needs at least {smallest} px on each side: raise --size"
            )


# Measured here (README): about 1 GB for TensorFlow and the weights, and about 3.5 KB per pixel for the
# activations kept for the backward pass, plus L-BFGS's float64 history. A margin covers the rest.
BASE_MEMORY_BYTES = 1.2e9
BYTES_PER_PIXEL = 4.5e3


def estimated_memory_bytes(pixels: int, lbfgs_history: int) -> float:
    """Rough peak memory of a CPU run on an image of `pixels` pixels."""
    optimiser = pixels * 3 * 8 * (2 * lbfgs_history + 8)  # float64 history pairs and working vectors
    return BASE_MEMORY_BYTES + BYTES_PER_PIXEL * pixels + optimiser


def available_memory_bytes() -> Optional[float]:
    """MemAvailable from /proc/meminfo (Linux), else None."""
    try:
        with open("/proc/meminfo") as stream:
            for line in stream:
                if line.startswith("MemAvailable:"):
                    return float(line.split()[1]) * 1024
    except OSError:
        pass
    return None


def check_memory(config: StyleConfig, content_size: Tuple[int, int], style_sizes: Sequence[Tuple[int, int]],
                 available: Optional[float] = None) -> None:
    """Refuse, before building anything, a size that cannot fit in this machine's memory
    (checked for CPU runs; a GPU's memory is TensorFlow's to report)."""
    available = available_memory_bytes() if available is None else available
    if available is None or "GPU" in (config.device or "").upper():
        return
    pixels = max(w * h for w, h in [content_size, *style_sizes])
    needed = estimated_memory_bytes(pixels, config.lbfgs_history)
    if needed <= available:
        return
    # The estimate is linear in the pixel count, and pixels grow with the square of --size.
    per_pixel = BYTES_PER_PIXEL + 3 * 8 * (2 * config.lbfgs_history + 8)
    largest_pixels = (available - BASE_MEMORY_BYTES) / per_pixel
    fits = int(config.size * math.sqrt(largest_pixels / pixels)) if largest_pixels > 0 else 0
    raise NeuralStyleError(
        f"--size {config.size} needs about {needed / 1e9:.1f} GB of memory but {available / 1e9:.1f} GB is available: "
        + (f"use --size {fits} or less" if fits >= 16 else "free some memory")
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


def save_final_image(path: str, pixels: np.ndarray, log: Callable[[str], None]) -> str:
    """Write the final picture; if that fails (a full disk, a folder gone), save it in the system's
    temporary folder instead and say where, so a long run never loses its picture."""
    try:
        images.save_image(path, pixels)
        return path
    except OSError as error:
        fallback = os.path.join(tempfile.gettempdir(), "neural_style_" + os.path.basename(path))
        try:
            images.save_image(fallback, pixels)
        except OSError:
            raise NeuralStyleError(
                f"cannot write {path} ({error.strerror or error}), nor a copy in {tempfile.gettempdir()}: "
                "free some disk space and continue from the last snapshot with --init"
            ) from None
        log(f"warning: cannot write {path} ({error.strerror or error}); saved the picture as {fallback} instead")
        return fallback


@contextlib.contextmanager
def op_determinism(enabled: bool) -> Iterator[None]:
    """TensorFlow's op determinism for one run, restored afterwards (it is process-wide, and a
    notebook's later runs should not inherit it)."""
    import tensorflow as tf
    from tensorflow.python.framework import config as tf_config  # is_/disable_ are not in tf.config

    was_enabled = tf_config.is_op_determinism_enabled()
    if enabled and not was_enabled:
        tf.config.experimental.enable_op_determinism()
    try:
        yield
    finally:
        if enabled and not was_enabled:
            tf_config.disable_op_determinism()


def merge_config(config: Optional[StyleConfig], given: dict, options: dict) -> StyleConfig:
    """`config` (or the defaults), then a preset's values, then the call's own values."""
    base = config or StyleConfig()
    preset = options.pop("preset", None)
    if preset is not None:
        if preset not in PRESETS:
            raise NeuralStyleError(f"unknown preset {preset!r}: use one of {', '.join(PRESETS)}")
        base = base.with_options(**PRESETS[preset])
    return base.with_options(**{k: v for k, v in given.items() if v is not None}, **options)


def build_objective(config: StyleConfig, content_pixels: np.ndarray, style_pixels: Sequence[np.ndarray],
                    log: Callable[[str], None]) -> Any:
    """VGG19 with its weights, cut after the deepest layer used, the targets computed once, and the
    compiled loss-and-gradient function."""
    import tensorflow as tf

    from .losses import Objective, compute_targets
    from .model import build_vgg19, feature_extractor, preprocess

    vgg = build_vgg19(config.weights, config.cache_dir, log)
    layers = tuple(dict.fromkeys(tuple(config.content_layers) + tuple(config.style_layers)))
    extractor = feature_extractor(vgg, layers, config.pooling)
    targets = compute_targets(
        extractor, tf.constant(preprocess(content_pixels)), [tf.constant(preprocess(s)) for s in style_pixels],
        config.resolved_blend_weights(), config.content_layers, config.style_layers, config.style_normalization,
    )
    return Objective(
        extractor, targets, config.resolved_loss_weights(),
        dict(zip(config.style_layers, config.resolved_style_layer_weights())),
        # TensorFlow has no deterministic XLA max-pool gradient: a seeded run uses the plain graph.
        xla=config.xla and config.seed is None, style_normalization=config.style_normalization,
    )


def optimise(config: StyleConfig, evaluator: Any, x0: np.ndarray, recorder: Recorder) -> Any:
    """Run the chosen optimiser from x0 within the valid pixel range."""
    from .model import adam_space, pixel_bounds
    from .optimize import run_adam, run_lbfgs

    height, width = evaluator.shape[1:3]
    bounds = pixel_bounds(height, width)
    if config.optimizer == "lbfgs":
        return run_lbfgs(evaluator, x0, bounds, config.iterations, config.lbfgs_history, recorder)
    return run_adam(evaluator, x0, bounds, config.iterations, config.learning_rate, recorder,
                    space=adam_space(config.adam_space, height, width))


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
    of them to blend). Options are `StyleConfig` fields, e.g. `size=256, iterations=100`, or
    `preset="reference"` for the PyTorch reference's objective and sizing.

    With `output`, the final image, snapshots and the CSV log are written beside it.
    `on_step(step)` is called after every iteration (it may raise StopIteration to stop early);
    `should_stop()` is polled before every evaluation.
    """
    config = merge_config(config, {"content": content, "styles": style, "output": output}, options)
    validate(config)
    if config.output:
        images.check_writable_image_path(config.output)
    progress = Progress(config.iterations, stream=stream, quiet=config.quiet, print_every=config.print_every)
    content_pixels, style_pixels = prepare_images(config, progress.message)

    import keras

    device = resolve_device(config.device)
    if config.seed is not None:
        # With op determinism (below), the same inputs, options and seed give byte-identical output
        # on the same machine.
        keras.utils.set_random_seed(config.seed)
    height, width = content_pixels.shape[:2]
    progress.message(
        f"device {device}; content {width}x{height}, style "
        + ", ".join(f"{s.shape[1]}x{s.shape[0]}" for s in style_pixels)
        + f"; weights {config.weights}; {config.optimizer} for {config.iterations} iterations"
    )

    with op_determinism(config.seed is not None):
        return _run(config, content_pixels, style_pixels, device, progress, on_step, should_stop)


def _run(config: StyleConfig, content_pixels: np.ndarray, style_pixels: Sequence[np.ndarray], device: str,
         progress: Progress, on_step: Optional[Callable[[Step], None]],
         should_stop: Optional[Callable[[], bool]]) -> StyleResult:
    """Build the objective, optimise, write the final picture, report."""
    import tensorflow as tf

    from .model import deprocess
    from .optimize import Evaluator

    height, width = content_pixels.shape[:2]
    started = time.perf_counter()
    with tf.device(device):
        objective = build_objective(config, content_pixels, style_pixels, progress.message)

    def render(flat_image: np.ndarray) -> np.ndarray:
        pixels = deprocess(flat_image.reshape(1, height, width, 3))
        return images.transfer_luminance(pixels, content_pixels) if config.original_colors else pixels

    recorder = Recorder(render, progress, config.output, config.snapshot_every, config.log, on_step)
    evaluator = Evaluator(objective, (1, height, width, 3), device, should_stop)
    x0 = initial_image(config, content_pixels, np.random.default_rng(config.seed)).astype(np.float64).ravel()
    outcome = optimise(config, evaluator, x0, recorder)
    progress.close()

    final = render(outcome.image)
    # An output is written only for a run that finished at least one iteration: a run stopped or
    # broken before that has nothing to show, and must not overwrite an earlier picture.
    written = None
    if config.output and outcome.iterations > 0:
        written = save_final_image(config.output, final, progress.message)
    seconds = time.perf_counter() - started
    result = StyleResult(
        image=final, history=recorder.history, iterations=outcome.iterations,
        evaluations=outcome.evaluations, seconds=seconds, stop_reason=outcome.reason, device=device,
        config=config, error=outcome.error, output=written, snapshots=recorder.snapshots,
        log_file=recorder.log_file,
    )
    if outcome.error:
        progress.message(f"stopped: {outcome.error}; kept the last good image")
    elif outcome.reason not in ("done", "stopped"):
        progress.message(outcome.reason)
    progress.message(
        f"{outcome.iterations} iterations, {outcome.evaluations} evaluations in {seconds:.1f} s "
        f"({result.seconds_per_evaluation:.2f} s/evaluation)"
        + (f"; wrote {written}" if written else "")
    )
    return result
