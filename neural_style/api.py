"""The Python API: `stylize(...)` runs the whole pipeline and returns a `StyleResult`.

images in (images.py) -> features (model.py) -> losses (losses.py) -> optimiser (optimize.py) -> outputs (outputs.py)

This module only wires the stages together; each stage's work lives in its own module.
"""

from __future__ import annotations

import math
import os
import tempfile
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Callable, List, Optional, Sequence, TextIO, Tuple

import numpy as np
from PIL import Image

from neural_style import images
from neural_style.config import StyleConfig, build_config, validate
from neural_style.errors import NeuralStyleError
from neural_style.optim.memory import available_memory_bytes, peak_resident_bytes, plan_memory
from neural_style.optim.optimize import Step
from neural_style.watch.record import Progress, Recorder
from neural_style.watch.timelapse import check_timelapse
from neural_style.watch.watchers import Watchers
from neural_style.watch.live_page import open_live_view

if TYPE_CHECKING:
    from neural_style.features.vgg19 import FeatureExtractor
    from neural_style.watch.live_page import LiveView


@dataclass
class StyleResult:
    """What a run produced: the picture, the loss history and how the run ended."""

    image: np.ndarray  # H x W x 3 uint8 RGB
    history: List[Step]  # one record per iteration, without images
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
    timelapse: Optional[str] = None

    def to_pil(self) -> Image.Image:
        return Image.fromarray(self.image)

    def save(self, path: str) -> None:
        images.save_image(path, self.image)

    @property
    def seconds_per_evaluation(self) -> float:
        """Optimisation time over evaluations: the average of the run as the user waited for it,
        the first evaluation's tracing and compiling included, building the network excluded
        (the benchmark's timings leave the first evaluation out)."""
        if not self.history or not self.history[-1].evaluations:
            return math.nan
        return self.history[-1].seconds / self.history[-1].evaluations


def load_images(config: StyleConfig, notify: Optional[Callable[[str], None]] = None,
                available_memory: Optional[float] = None,
                ) -> Tuple[Image.Image, List[Image.Image], images.SizePlan]:
    """The content and style images as loaded, and the sizes of the output (`config.size`), checked
    (smallest usable; fits in `available_memory` bytes, default this machine's available memory,
    whole or in tiles) before anything is resized."""
    content = images.load_image(config.content, "content", notify)
    styles = [images.load_image(source, "style" if len(config.styles) == 1 else f"style #{index + 1}", notify)
              for index, source in enumerate(config.styles)]
    plan = images.plan_sizes(content.size, [style.size for style in styles], config.size, config.style_scale,
                             config.sizing)
    check_image_sizes(config, plan.content, plan.styles)
    if "GPU" not in (config.device or "").upper():  # a GPU's memory is TensorFlow's to report
        plan_memory(config.size, [plan.content, *plan.styles], config.lbfgs_history, config.tile_size,
                    config.tile_halo, available_memory)
    return content, styles, plan


def prepare_images(config: StyleConfig, notify: Optional[Callable[[str], None]] = None
                   ) -> Tuple[np.ndarray, List[np.ndarray]]:
    """The content and style images as uint8 arrays at the output's size (`config.size`)."""
    content, styles, plan = load_images(config, notify)
    return (images.to_array(plan.resize(content, plan.content)),
            [images.to_array(plan.resize(style, size)) for style, size in zip(styles, plan.styles)])


def check_image_sizes(config: StyleConfig, content_size: Tuple[int, int],
                      style_sizes: Sequence[Tuple[int, int]]) -> None:
    """VGG19's poolings halve the image; the deepest layer used must still have a pixel."""
    from neural_style.features.vgg19 import deepest_downsampling

    poolings = deepest_downsampling(tuple(config.content_layers) + tuple(config.style_layers))
    smallest = 2**poolings
    for role, (width, height) in [("content", content_size)] + [("style", s) for s in style_sizes]:
        if min(width, height) < smallest:
            raise NeuralStyleError(
                f"the {role} image is {width}x{height} px at this --size/--style-scale; "
                f"the deepest layer used needs at least {smallest} px on each side: raise --size"
            )


def initial_image(config: StyleConfig, content: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """The starting network image: the content, white noise, or a file (e.g. a snapshot, to resume)."""
    from neural_style.features.network_input import preprocess

    if config.init == "content":
        return preprocess(content)
    if config.init == "random":
        height, width = content.shape[:2]
        noise = rng.uniform(0, 255, size=(height, width, 3))
        return preprocess(noise)
    start = images.load_image(config.init, "--init")
    start = images.resize_to(start, (content.shape[1], content.shape[0]))
    return preprocess(images.to_array(start))


def save_final_image(path: str, pixels: np.ndarray, notify: Callable[[str], None]) -> str:
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
        notify(f"warning: cannot write {path} ({error.strerror or error}); saved the picture as {fallback} instead")
        return fallback


def stylize(
    content: Any = None,
    style: Any = None,
    output: Optional[str] = None,
    *,
    config: Optional[StyleConfig] = None,
    extractor: Optional["FeatureExtractor"] = None,
    on_step: Optional[Callable[[Step], None]] = None,
    stream: Optional[TextIO] = None,
    should_stop: Optional[Callable[[], bool]] = None,
    display: bool = False,
    **options: Any,
) -> StyleResult:
    """Paint `content` in the style of `style` (a path, Pillow image or uint8 array, or a list
    of them to blend). Options are `StyleConfig` fields, e.g. `size=256, iterations=100`, or
    `preset="reference"` for the PyTorch reference's objective and sizing.

    With `output`, the final image, snapshots and the CSV log are written beside it.
    `extractor` (from `model.build_feature_extractor`) skips building the network, for many runs
    in one process. `display=True` shows the picture and the loss curve updating in place in a
    notebook; `web=PORT` serves them on a local page (web_view.py). `on_step(step)` is called after every iteration (it may raise StopIteration to
    stop early); `should_stop()` is polled before every evaluation.
    """
    from neural_style.hardware import resolve_precision, resolve_xla
    from neural_style.commands.common import op_determinism, resolve_device

    given = {k: v for k, v in (("content", content), ("styles", style), ("output", output)) if v is not None}
    config = build_config(config, options.pop("preset", None), **given, **options)
    validate(config)
    if config.output:
        images.check_writable_image_path(config.output)
    if config.timelapse:
        check_timelapse(config.timelapse, config.timelapse_fps)
    progress = Progress(config.iterations, stream=stream, quiet=config.quiet, print_every=config.print_every)
    # Measured once, so the check before any work and each scale's choice of tiles agree.
    available = None if "GPU" in (config.device or "").upper() else available_memory_bytes()
    content_image, style_images, plan = load_images(config, progress.message, available)
    # Bound before any work, so a port in use is refused at once.
    live = open_live_view(config, content_image, style_images, plan, progress.message) if config.web is not None else None

    import keras

    device = resolve_device(config.device)
    precision, why = resolve_precision(config.precision, device)
    config = config.with_options(precision=precision, xla=resolve_xla(config.xla, device, config.seed is not None))
    if extractor is not None and not extractor.matches(config):
        raise NeuralStyleError("the extractor given was built for other weights, pooling, layers or precision than "
                               "this run's: build it with model.build_feature_extractor(config)")
    if config.seed is not None:
        # With op determinism (below), the same inputs, options and seed give byte-identical output
        # on the same machine.
        keras.utils.set_random_seed(config.seed)
    progress.message(
        f"device {device}; content {plan.content[0]}x{plan.content[1]}, style "
        + ", ".join(f"{w}x{h}" for w, h in plan.styles)
        + f"; weights {config.weights}; {precision} ({why}), {'XLA' if config.xla else 'graph'}; "
        f"{config.optimizer} for up to {config.iterations} iterations"
    )

    try:
        with op_determinism(config.seed is not None):
            return _run(config, extractor, content_image, style_images, plan, device, progress, on_step,
                        should_stop, available, live, display)
    except BaseException as error:
        if live:
            live.finish(None, "failed", str(error) or type(error).__name__)
        raise


def _run(config: StyleConfig, extractor: Optional["FeatureExtractor"], content_image: Image.Image,
         style_images: Sequence[Image.Image], plan: images.SizePlan, device: str, progress: Progress,
         on_step: Optional[Callable[[Step], None]], should_stop: Optional[Callable[[], bool]],
         available_memory: Optional[float] = None, live: Optional["LiveView"] = None,
         display: bool = False) -> StyleResult:
    """Build the network unless given, optimise scale by scale, write the final picture, report."""
    import tensorflow as tf

    from neural_style.optim.coarse_to_fine import run_scales
    from neural_style.features.vgg19 import build_feature_extractor

    width, height = plan.content
    content_pixels = images.to_array(plan.resize(content_image, plan.content))
    started = time.perf_counter()
    with tf.device(device):
        extractor = extractor or build_feature_extractor(config, progress.message)

    def render(step: Step) -> np.ndarray:
        return render_image(config, step.image, step.width, step.height, content_pixels)

    watchers = Watchers(config, render, live, display)

    def on_scale(scale: Any, scale_width: int, scale_height: int, budget: int) -> None:
        if scale.count > 1:
            progress.scale = f"{scale.label} {scale_width}x{scale_height}"
            progress.message(f"{scale.label}: {scale_width}x{scale_height}, up to {budget} iterations")
            watchers.on_scale(progress.scale)

    recorder = Recorder(render, progress, config.output, config.snapshot_every, config.log,
                        _chain(watchers.on_step, on_step))
    rng = np.random.default_rng(config.seed)
    try:
        scaled = run_scales(config, extractor, content_image, style_images, device, recorder, progress.message,
                            lambda pixels: initial_image(config, pixels, rng), watchers.should_stop(should_stop),
                            on_scale, available_memory)
    except BaseException:
        watchers.close()
        raise
    outcome = scaled.outcome
    progress.close()

    final = render_image(config, outcome.image, scaled.width, scaled.height, content_pixels)
    # An output is written only for a run that finished at least one iteration: a run stopped or
    # broken before that has nothing to show, and must not overwrite an earlier picture.
    written = None
    if config.output and outcome.iterations > 0:
        written = save_final_image(config.output, final, progress.message)
    result = StyleResult(
        image=final, history=recorder.history, iterations=outcome.iterations,
        evaluations=outcome.evaluations, seconds=time.perf_counter() - started, stop_reason=outcome.reason,
        device=device, config=config, error=outcome.error, output=written, snapshots=recorder.snapshots,
        log_file=recorder.log_file,
    )
    watchers.finish(final if outcome.iterations > 0 else None, result, progress.message)
    _report(result, progress)
    return result


def _report(result: StyleResult, progress: Progress) -> None:
    """The closing lines: why the run ended, what it cost, what it wrote."""
    if result.error:
        progress.message(f"stopped: {result.error}; kept the last good image")
    elif result.stop_reason not in ("done", "stopped"):
        progress.message(result.stop_reason)
    peak = peak_resident_bytes()
    progress.message(
        f"{result.iterations} iterations, {result.evaluations} evaluations in {result.seconds:.1f} s "
        f"({result.seconds_per_evaluation:.2f} s/evaluation)"
        + (f", peak memory {peak / 1e9:.1f} GB" if peak else "")
        + (f"; wrote {result.output}" if result.output else "")
    )


def _chain(*callbacks: Optional[Callable[[Step], None]]) -> Optional[Callable[[Step], None]]:
    """One callback calling each of `callbacks` that is not None, in order (None if there are none)."""
    present = [callback for callback in callbacks if callback is not None]
    if len(present) <= 1:
        return present[0] if present else None

    def call(step: Step) -> None:
        for callback in present:
            callback(step)

    return call


def render_image(config: StyleConfig, flat_image: np.ndarray, width: int, height: int,
                 content_pixels: np.ndarray) -> np.ndarray:
    """A flat network image of width x height as the output's uint8 RGB picture: at the output's size
    (a coarse scale's picture is upsampled), with the content's colours if --original-colors."""
    from neural_style.features.network_input import deprocess

    pixels = deprocess(flat_image.reshape(1, height, width, 3))
    if pixels.shape[:2] != content_pixels.shape[:2]:
        pixels = images.to_array(images.resize_to(Image.fromarray(pixels),
                                                  (content_pixels.shape[1], content_pixels.shape[0])))
    return images.transfer_luminance(pixels, content_pixels) if config.original_colors else pixels
