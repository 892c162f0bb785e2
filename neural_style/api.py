"""The Python API: `stylize(...)` paints one picture through the pipeline and returns a `StyleResult`.

    the request (request.py) -> the plan (plan/) -> the source images (sources.py) -> the run (pipeline.run),
    watched by the record, snapshots and log, timelapse, live page and notebook (watch/) -> the picture rendered
    and written (render.py) -> the closing lines

This module reads that path top to bottom; each stage lives in its own module.
"""

from __future__ import annotations

import math
import sys
import time
from dataclasses import dataclass, field
from typing import Any, Callable, List, Optional, TextIO

import numpy as np
from PIL import Image

from neural_style import images
from neural_style.run import pipeline
from neural_style.config import StyleConfig, WatchOptions
from neural_style.errors import NeuralStyleError
from neural_style.features.vgg19 import FeatureExtractor
from neural_style.backends.hardware import seeded
from neural_style.plan.memory import peak_resident_bytes
from neural_style.plan.run_plan import RunPlan, plan_run
from neural_style.plan.scales import Scale
from neural_style.run.render import check_output, kept_alpha, network_pixels, render, write_output
from neural_style.run.request import resolve_request
from neural_style.run.sources import SourceImages, load_sources
from neural_style.step import Step
from neural_style.watch.live_page import open_live_view
from neural_style.watch.live_run import LiveRun
from neural_style.watch.events import EventWriter
from neural_style.watch.record import Progress, Recorder, start_line
from neural_style.watch.timelapse import check_timelapse
from neural_style.watch.watchers import Watchers


@dataclass
class StyleResult:
    """What a run produced: the picture, the loss history and how the run ended."""

    image: np.ndarray  # H x W x 3 uint8 RGB (x 4 where the content has transparency: its alpha, kept)
    history: List[Step]  # one record per iteration, without images
    iterations: int
    evaluations: int
    seconds: float
    stop_reason: str  # "done", "stopped", "failed" or the optimiser's own reason
    device: str
    config: StyleConfig  # what was asked
    plan: Optional[RunPlan] = None  # what the run resolved: hardware, sizes, tiles
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
    def painted_in_one_pass(self) -> bool:
        """Whether a feed-forward network painted the picture, with no optimiser (--method adain)."""
        return self.plan is not None and not self.plan.scales

    @property
    def seconds_per_evaluation(self) -> float:
        """Optimisation time over evaluations: the average of the run as the user waited for it,
        the first evaluation's tracing and compiling included, building the network excluded
        (the benchmark's timings leave the first evaluation out)."""
        if not self.history or not self.history[-1].evaluations:
            return math.nan
        return self.history[-1].seconds / self.history[-1].evaluations

    def summary(self) -> str:
        """'150 iterations in 46 s' (or 'AdaIN in one pass in 1.2 s'), and what was written."""
        how = (f"AdaIN in one pass in {self.seconds:.1f} s" if self.painted_in_one_pass
               else f"{self.iterations} iterations in {self.seconds:.0f} s")
        return how + (f"; wrote {self.output}" if self.output else "")


def stylize(
    content: Any = None,
    style: Any = None,
    output: Optional[str] = None,
    *,
    config: Optional[StyleConfig] = None,
    watch: Optional[WatchOptions] = None,
    extractor: Optional[FeatureExtractor] = None,
    on_step: Optional[Callable[[Step], None]] = None,
    stream: Optional[TextIO] = None,
    should_stop: Optional[Callable[[], bool]] = None,
    display: bool = False,
    live: Optional[LiveRun] = None,
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
    request = resolve_request(options, config, watch, content=content, styles=style, output=output)
    config, watch = request.config, request.watch
    check_output(config, watch)
    if watch.timelapse:
        check_timelapse(watch.timelapse, watch.timelapse_fps)
    if live is not None and watch.web is not None:
        raise NeuralStyleError("a run is followed either by its own live page (web) or by the caller's LiveRun, not both")
    progress = Progress(config.iterations, stream=stream, quiet=watch.quiet, print_every=watch.print_every,
                        events=EventWriter() if watch.json else None)
    sources = load_sources(config, progress.message)
    plan = plan_run(config, request.hardware, sources.content.size, sources.style_sizes)
    if watch.web is not None:  # bound before any work, so a port in use is refused at once
        live = open_live_view(watch, *sources.at(plan.sizes), config.iterations, progress.message)
    progress.message(start_line(plan, config))
    _report_start(plan, config, progress)
    if plan.hardware.warning:
        progress.message(plan.hardware.warning)
    try:
        with seeded(config.seed):
            result = _paint(config, watch, plan, sources, extractor, progress, on_step, should_stop, live, display)
        if watch.profile and plan.scales and result.stop_reason != "stopped" and not result.error:
            _print_profile(result, stream or sys.stderr)
        return result
    except BaseException as error:
        if live:
            live.finish(None, "failed", str(error) or type(error).__name__)
        raise


def _paint(config: StyleConfig, watch: WatchOptions, plan: RunPlan, sources: SourceImages,
           extractor: Optional[FeatureExtractor], progress: Progress, on_step: Optional[Callable[[Step], None]],
           should_stop: Optional[Callable[[], bool]], live: Optional[LiveRun], display: bool) -> StyleResult:
    """The run with its watchers, then the final picture rendered and written, and the closing lines."""
    started = time.perf_counter()
    session = pipeline.Session(config, plan.hardware, progress.message, extractor)
    final_content = sources.at(plan.sizes)[0]

    # The content's transparency, where the output can hold it: on the output and its snapshots, not on the pages'
    # and the timelapse's pictures.
    alpha = kept_alpha(config.output, sources.content_alpha, progress.message)

    def render_step(step: Step, with_alpha: bool = False) -> np.ndarray:
        return render(config, network_pixels(step.image, step.width, step.height), final_content,
                      alpha=alpha if with_alpha else None)

    watchers = Watchers(watch, config.iterations, render_step, live, display)

    def on_scale(scale: Scale, width: int, height: int, budget: int) -> None:
        progress.event("scale", index=scale.index, count=scale.count, width=width, height=height, iterations=budget)
        if scale.count > 1:
            progress.scale = f"{scale.label} {width}x{height}"
            progress.message(f"{scale.label}: {width}x{height}, up to {budget} iterations")
            watchers.on_scale(progress.scale)

    recorder = Recorder(lambda step: render_step(step, with_alpha=True), progress, config.output, watch.snapshot_every,
                        watch.log,
                        _chain(watchers.on_step, on_step))
    try:
        ran = pipeline.run(config, plan, session, sources, pipeline.Listeners(
            on_step=recorder, notify=progress.message, should_stop=watchers.should_stop(should_stop), on_scale=on_scale,
            on_start=lambda picture: watchers.on_start(render(config, picture, final_content))))
    except BaseException:
        watchers.close()
        raise
    outcome = ran.outcome
    progress.close()
    final = render(config, ran.pixels(), final_content, alpha=alpha)
    written = write_output(config, ran.pixels(), final_content, progress.message, alpha, rendered=final) if (
        config.output and ran.has_picture) else None
    result = StyleResult(
        image=final, history=recorder.history, iterations=outcome.iterations,
        evaluations=outcome.evaluations, seconds=time.perf_counter() - started, stop_reason=outcome.reason,
        device=plan.hardware.device, config=config, plan=plan, error=outcome.error, output=written,
        snapshots=recorder.snapshots, log_file=recorder.log_file,
    )
    result.timelapse = watchers.finish(final[..., :3] if ran.has_picture else None, summary=result.summary(),
                                       seconds=result.seconds, stop_reason=result.stop_reason, error=result.error,
                                       notify=progress.message)
    _report(result, progress)
    return result


def _print_profile(result: StyleResult, stream: TextIO) -> None:
    """--profile: where an evaluation's time went at the final size, after the run's own lines."""
    from neural_style.run.profile import profile_run

    if result.plan is not None and result.plan.scales[-1].memory.tile:
        print("profile: the final size was evaluated in tiles; this is a whole evaluation at that size", file=stream)
    profile = profile_run(result)
    print(f"profile: {profile.summary()}\n{profile.table()}", file=stream, flush=True)


def _report_start(plan: RunPlan, config: StyleConfig, progress: Progress) -> None:
    """The start event (--json): the plan as the start line says it, in fields."""
    hardware = plan.hardware
    progress.event("start", device=hardware.device, precision=hardware.precision, precision_why=hardware.precision_why,
                   xla=hardware.xla, optimizer=plan.optimizer if plan.scales else None,
                   optimizer_why=plan.optimizer_why if plan.scales else None, iterations=config.iterations,
                   width=plan.sizes.content[0], height=plan.sizes.content[1],
                   scales=[{"index": scale.scale.index, "width": scale.sizes.content[0],
                            "height": scale.sizes.content[1], "iterations": scale.scale.iterations,
                            "tile": scale.memory.tile or None} for scale in plan.scales],
                   start=plan.start, line=start_line(plan, config))


def _report(result: StyleResult, progress: Progress) -> None:
    """The closing lines: why the run ended, what it cost, what it wrote; and the end event (--json)."""
    progress.event("end", stop_reason=result.stop_reason, error=result.error, iterations=result.iterations,
                   evaluations=result.evaluations, seconds=result.seconds, output=result.output,
                   snapshots=list(result.snapshots), log=result.log_file, timelapse=result.timelapse,
                   peak_bytes=int(peak_resident_bytes() or 0) or None)
    if result.error:
        progress.message(f"stopped: {result.error}; kept the last good image")
    elif result.stop_reason not in ("done", "stopped"):
        progress.message(result.stop_reason)
    peak = peak_resident_bytes()
    memory = f", peak memory {peak / 1e9:.1f} GB" if peak else ""
    wrote = f"; wrote {result.output}" if result.output else ""
    if result.painted_in_one_pass:
        progress.message(f"AdaIN in one pass: {result.seconds:.1f} s with loading the network{memory}{wrote}")
        return
    progress.message(
        f"{result.iterations} iterations, {result.evaluations} evaluations in {result.seconds:.1f} s "
        f"({result.seconds_per_evaluation:.2f} s/evaluation){memory}{wrote}")


def _chain(*callbacks: Optional[Callable[[Step], None]]) -> Optional[Callable[[Step], None]]:
    """One callback calling each of `callbacks` that is not None, in order (None if there are none)."""
    present = [callback for callback in callbacks if callback is not None]
    if len(present) <= 1:
        return present[0] if present else None

    def call(step: Step) -> None:
        for callback in present:
            callback(step)

    return call


__all__ = ["StyleResult", "stylize"]
