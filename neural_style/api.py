"""The Python API: `stylize(...)` paints one picture through the pipeline and returns a `StyleResult`.

    what was asked (config.py) -> hardware and plan resolved (pipeline.plan_run) -> the run (pipeline.run),
    watched by the record, snapshots and log, timelapse, live page and notebook (watch/) -> the picture

This module turns a still's request into a pipeline run and its result; the stages live in their packages.
"""

from __future__ import annotations

import math
import os
import tempfile
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Callable, List, Optional, TextIO, Tuple

import numpy as np
from PIL import Image

from neural_style import images
from neural_style.config import StyleConfig, WatchOptions, build_config, build_watch, split_options, validate
from neural_style.errors import NeuralStyleError
from neural_style.step import Step

if TYPE_CHECKING:
    from neural_style.features.vgg19 import FeatureExtractor
    from neural_style.pipeline import RunPlan
    from neural_style.watch.live_run import LiveRun


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
    config: StyleConfig  # what was asked
    plan: Optional["RunPlan"] = None  # what the run resolved: hardware, sizes, tiles
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
    def precision(self) -> str:
        """The arithmetic the run used (its `--precision auto` resolved)."""
        return self.plan.hardware.precision if self.plan else self.config.precision

    @property
    def seconds_per_evaluation(self) -> float:
        """Optimisation time over evaluations: the average of the run as the user waited for it,
        the first evaluation's tracing and compiling included, building the network excluded
        (the benchmark's timings leave the first evaluation out)."""
        if not self.history or not self.history[-1].evaluations:
            return math.nan
        return self.history[-1].seconds / self.history[-1].evaluations


def load_sources(config: StyleConfig, notify: Optional[Callable[[str], None]] = None) -> Any:
    """The content and style images as loaded (pipeline.SourceImages), each checked."""
    from neural_style.pipeline import SourceImages, load_masks

    content = images.load_image(config.content, "content", notify)
    styles = [images.load_image(source, "style" if len(config.styles) == 1 else f"style #{index + 1}", notify)
              for index, source in enumerate(config.styles)]
    return SourceImages(content, styles, config.color_match, *load_masks(config, content.size, styles))


def prepare_images(config: StyleConfig, notify: Optional[Callable[[str], None]] = None
                   ) -> Tuple[np.ndarray, List[np.ndarray]]:
    """The content and style images as uint8 arrays at the output's size (`config.size`)."""
    sources = load_sources(config, notify)
    plan = images.plan_sizes(sources.content.size, [s.size for s in sources.styles], config.size, config.style_scale,
                             config.sizing)
    return sources.at(plan)


def save_final_image(path: str, pixels: np.ndarray, notify: Callable[[str], None],
                     save: Optional[Callable[[str, np.ndarray], None]] = None) -> str:
    """Write the final picture with `save` (default images.save_image); if that fails (a full disk, a folder gone),
    save it in the system's temporary folder instead and say where, so a long run never loses its picture."""
    save = save or images.save_image
    try:
        save(path, pixels)
        return path
    except OSError as error:
        fallback = os.path.join(tempfile.gettempdir(), "neural_style_" + os.path.basename(path))
        try:
            save(fallback, pixels)
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
    watch: Optional[WatchOptions] = None,
    extractor: Optional["FeatureExtractor"] = None,
    on_step: Optional[Callable[[Step], None]] = None,
    stream: Optional[TextIO] = None,
    should_stop: Optional[Callable[[], bool]] = None,
    display: bool = False,
    live: Optional["LiveRun"] = None,
    **options: Any,
) -> StyleResult:
    """Paint `content` in the style of `style` (a path, Pillow image or uint8 array, or a list
    of them to blend). Options are `StyleConfig` fields, e.g. `size=256, iterations=100`, or
    `preset="reference"` for the PyTorch reference's objective and sizing, and `WatchOptions` fields
    (`snapshot_every`, `quiet`, `web`, `timelapse`, ...).

    With `output`, the final image, snapshots and the CSV log are written beside it.
    `extractor` (from `features.vgg19.build_feature_extractor`) skips building the network, for many runs
    in one process. `display=True` shows the picture and the loss curve updating in place in a
    notebook; `web=PORT` serves them on a local page (watch/live_page.py). `on_step(step)` is called after
    every iteration (it may raise StopIteration to stop early); `should_stop()` is polled before every
    evaluation. `live` (a watch.live_run.LiveRun) is updated as the run goes, as the live page is, and its
    `stop_requested` stops it: how the studio follows a run.
    """
    from neural_style.hardware import resolve_hardware, seeded
    from neural_style.pipeline import plan_run
    from neural_style.watch.live_page import open_live_view
    from neural_style.watch.record import Progress
    from neural_style.watch.timelapse import check_timelapse

    style_options, watch_options = split_options(options)
    given = {k: v for k, v in (("content", content), ("styles", style), ("output", output)) if v is not None}
    config = build_config(config, style_options.pop("preset", None), **given, **style_options)
    validate(config)
    watch = build_watch(watch, **watch_options)
    if config.output:
        images.check_writable_image_path(config.output)
        if images.output_bits(config.output, config.output_bits) == 16:
            images.check_sixteen_bit_output(config.output)
    if watch.timelapse:
        check_timelapse(watch.timelapse, watch.timelapse_fps)
    progress = Progress(config.iterations, stream=stream, quiet=watch.quiet, print_every=watch.print_every)
    sources = load_sources(config, progress.message)
    hardware = resolve_hardware(config)
    plan = plan_run(config, hardware, sources.content.size, [s.size for s in sources.styles])
    # Bound before any work, so a port in use is refused at once.
    if live is not None and watch.web is not None:
        raise NeuralStyleError("a run is followed either by its own live page (web) or by the caller's LiveRun, not both")
    if watch.web is not None:
        live = open_live_view(watch, *sources.at(plan.sizes), config.iterations, progress.message)
    progress.message(plan.start_line(config))
    try:
        with seeded(config.seed):
            if config.method == "adain":
                return _paint_in_one_pass(config, plan, sources, progress, live)
            return _paint(config, watch, plan, sources, extractor, progress, on_step, should_stop, live, display)
    except BaseException as error:
        if live:
            live.finish(None, "failed", str(error) or type(error).__name__)
        raise


def _paint(config: StyleConfig, watch: WatchOptions, plan: "RunPlan", sources: Any,
           extractor: Optional["FeatureExtractor"], progress: Any, on_step: Optional[Callable[[Step], None]],
           should_stop: Optional[Callable[[], bool]], live: Any, display: bool) -> StyleResult:
    """Open the session, run the pipeline with the watchers, write the final picture, report."""
    from neural_style import pipeline
    from neural_style.watch.record import Recorder
    from neural_style.watch.watchers import Watchers

    started = time.perf_counter()
    session = pipeline.open_session(config, plan.hardware, progress.message, extractor)
    final_content = sources.at(plan.sizes)[0]

    def render(step: Step) -> np.ndarray:
        return render_image(config, step.image, step.width, step.height, final_content)

    watchers = Watchers(watch, config.iterations, render, live, display)

    def on_scale(scale: Any, width: int, height: int, budget: int) -> None:
        if scale.count > 1:
            progress.scale = f"{scale.label} {width}x{height}"
            progress.message(f"{scale.label}: {width}x{height}, up to {budget} iterations")
            watchers.on_scale(progress.scale)

    recorder = Recorder(render, progress, config.output, watch.snapshot_every, watch.log,
                        _chain(watchers.on_step, on_step))
    try:
        ran = pipeline.run(config, plan, session, sources, on_step=recorder, notify=progress.message,
                           should_stop=watchers.should_stop(should_stop), on_scale=on_scale,
                           on_start=lambda image, width, height: watchers.on_start(
                               render_image(config, image, width, height, final_content)))
    except BaseException:
        watchers.close()
        raise
    outcome = ran.outcome
    progress.close()

    final = render_image(config, outcome.image, ran.width, ran.height, final_content)
    # An output is written only for a run that finished at least one iteration: a run stopped or
    # broken before that has nothing to show, and must not overwrite an earlier picture.
    written = None
    if config.output and outcome.iterations > 0:
        if images.output_bits(config.output, config.output_bits) == 16:
            written = save_final_image(config.output, render_image(config, outcome.image, ran.width, ran.height,
                                                                   final_content, rounded=False),
                                       progress.message, images.save_image_16)
        else:
            written = save_final_image(config.output, final, progress.message)
    result = StyleResult(
        image=final, history=recorder.history, iterations=outcome.iterations,
        evaluations=outcome.evaluations, seconds=time.perf_counter() - started, stop_reason=outcome.reason,
        device=plan.hardware.device, config=config, plan=plan, error=outcome.error, output=written,
        snapshots=recorder.snapshots, log_file=recorder.log_file,
    )
    result.timelapse = watchers.finish(final if outcome.iterations > 0 else None, iterations=result.iterations,
                                       seconds=result.seconds, stop_reason=result.stop_reason, error=result.error,
                                       output=result.output, notify=progress.message)
    _report(result, progress)
    return result


def _paint_in_one_pass(config: StyleConfig, plan: "RunPlan", sources: Any, progress: Any, live: Any) -> StyleResult:
    """--method adain: the feed-forward picture at the output's size, written like an optimised one (and shown on
    `live`, a LiveRun, if given)."""
    import tensorflow as tf

    from neural_style import pipeline

    started = time.perf_counter()
    with tf.device(plan.hardware.device):
        painter = pipeline.build_adain(config.cache_dir, progress.message, plan.hardware.precision)
        content, styles = sources.at(plan.sizes)
        ready = time.perf_counter()
        pixels = pipeline.feed_forward_picture(config, painter, content, styles, sources.masks_at(plan.sizes))
    painted = time.perf_counter() - ready
    exact = images.transfer_luminance_float(pixels, content) if config.original_colors else pixels
    final = np.clip(np.rint(exact), 0, 255).astype(np.uint8)
    written = None
    if config.output:
        sixteen = images.output_bits(config.output, config.output_bits) == 16
        written = save_final_image(config.output, exact if sixteen else final, progress.message,
                                   images.save_image_16 if sixteen else None)
    seconds = time.perf_counter() - started
    progress.close()
    progress.message(f"AdaIN in one pass: {painted:.2f} s to paint ({seconds:.1f} s with loading the network)"
                     + (f"; wrote {written}" if written else ""))
    if live:
        live.finish(final, "done", f"AdaIN in one pass, {painted:.2f} s" + (f"; wrote {written}" if written else ""))
    return StyleResult(image=final, history=[], iterations=0, evaluations=0, seconds=seconds, stop_reason="done",
                       device=plan.hardware.device, config=config, plan=plan, output=written)


def _report(result: StyleResult, progress: Any) -> None:
    """The closing lines: why the run ended, what it cost, what it wrote."""
    from neural_style.optim.memory import peak_resident_bytes

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
                 content_pixels: np.ndarray, rounded: bool = True) -> np.ndarray:
    """A flat network image of width x height as the output's RGB picture: at the output's size (a coarse
    scale's picture is upsampled), with the content's colours if --original-colors; uint8, or with `rounded`
    False float in 0-255 (a 16-bit output: the final picture, always at the output's size)."""
    from neural_style.features.network_input import deprocess, deprocess_float

    if not rounded:
        pixels = deprocess_float(flat_image.reshape(1, height, width, 3))
        return images.transfer_luminance_float(pixels, content_pixels) if config.original_colors else pixels
    pixels = deprocess(flat_image.reshape(1, height, width, 3))
    if pixels.shape[:2] != content_pixels.shape[:2]:
        pixels = images.to_array(images.resize_to(Image.fromarray(pixels),
                                                  (content_pixels.shape[1], content_pixels.shape[0])))
    return images.transfer_luminance(pixels, content_pixels) if config.original_colors else pixels
