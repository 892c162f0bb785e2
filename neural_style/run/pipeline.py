"""The one pipeline every still, video frame and batch job goes through, whatever paints it:

    the plan (plan/) -> the start picture (starts.py: the content, noise, a file, or the feed-forward AdaIN
    picture) -> per scale of the plan: the objective (objective/build.py) and the optimiser (optim/), every
    iteration to the watchers (`on_step`) -> the picture (`RunOutcome.pixels`)

A picture painted in one pass (--method adain) is a plan whose start is the feed-forward picture and which has no
scale to optimise; a video frame is a run with a temporal term beside the objective and the previous stylised
frame, warped, as its start (video/stylize.py); a batch job is a still in a worker.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, replace
from typing import Any, Callable, Optional, Sequence

import numpy as np

from neural_style import backends, images
from neural_style.config import FEED_FORWARD_START, TILE_ALIGNMENT, StyleConfig
from neural_style.errors import NeuralStyleError
from neural_style.features.network_input import preprocess
from neural_style.features.vgg19 import FeatureExtractor, build_feature_extractor
from neural_style.feedforward.painting import build_adain, feed_forward_picture
from neural_style.backends.hardware import Hardware
from neural_style.optim.convergence import ConvergenceCheck
from neural_style.optim.evaluator import Evaluator, Outcome
from neural_style.optim.optimizers import run_optimiser
from neural_style.plan.run_plan import RunPlan, ScalePlan
from neural_style.plan.scales import Scale
from neural_style.run.render import network_pixels
from neural_style.run.sources import SourceImages
from neural_style.run.starts import cold_start, start_picture, upsample
from neural_style.step import Step


class Session:
    """What the runs of one process share, each built when a run first needs it: the network and the objectives
    already traced for it, and the feed-forward painter."""

    def __init__(self, config: StyleConfig, hardware: Hardware, notify: Optional[Callable[[str], None]] = None,
                 extractor: Optional[FeatureExtractor] = None) -> None:
        from neural_style.objective.build import ObjectiveCache  # Keras on the backend, imported once a run starts

        if extractor is not None and not extractor.matches(config, hardware.precision):
            raise NeuralStyleError("the extractor given was built for other weights, pooling, layers or precision than "
                                   "this run's: build it with features.vgg19.build_feature_extractor(config)")
        self.config, self.hardware, self.notify = config, hardware, notify
        self._extractor = extractor
        self._adain: Any = None
        self.objectives = ObjectiveCache(notify or (lambda text: None))

    @property
    def extractor(self) -> FeatureExtractor:
        """The network the objective reads its features from, built once, on the run's device and precision."""
        if self._extractor is None:
            with backends.device_scope(self.hardware.device):
                self._extractor = build_feature_extractor(self.config, self.notify, precision=self.hardware.precision)
        return self._extractor

    def feed_forward(self, config: StyleConfig, style_pixels: Sequence[np.ndarray], masks: Optional[images.Masks]
                     ) -> Callable[[np.ndarray], np.ndarray]:
        """content -> its AdaIN picture for `config`'s styles (feedforward/painting.py), painted on the run's device
        by the painter this session builds once, in its precision."""
        def paint(content: np.ndarray) -> np.ndarray:
            with backends.device_scope(self.hardware.device):
                if self._adain is None:
                    self._adain = build_adain(self.config.cache_dir, self.notify, self.hardware.precision)
                return feed_forward_picture(config, self._adain, content, style_pixels, masks)

        return paint


@dataclass
class RunOutcome:
    """How a run ended: the optimiser's outcome at the last scale it reached (iterations and evaluations counted over
    the run), that scale's size, and, for a picture painted in one pass, the painted picture itself."""

    outcome: Outcome
    width: int
    height: int
    painted: Optional[np.ndarray] = None  # H x W x 3 float RGB: the feed-forward picture, where no optimiser ran

    @property
    def has_picture(self) -> bool:
        """Whether the run made a picture: it was painted, or the optimiser finished an iteration (a run stopped or
        broken before that has nothing to show, and must not overwrite an earlier picture)."""
        return self.painted is not None or self.outcome.iterations > 0

    def pixels(self) -> np.ndarray:
        """The picture as H x W x 3 float RGB in 0-255, at the size the run ended at."""
        return self.painted if self.painted is not None else network_pixels(self.outcome.image, self.width,
                                                                             self.height)


@dataclass
class Listeners:
    """Who follows a run: `on_step` sees every iteration with run-wide numbers, `notify` the run's messages,
    `on_scale(scale, width, height, budget)` each scale as it starts, `on_start(pixels)` a feed-forward start (float
    RGB) before the optimiser runs; `should_stop()` is polled before every evaluation."""

    on_step: Callable[[Step], None] = lambda step: None
    notify: Callable[[str], None] = lambda text: None
    should_stop: Optional[Callable[[], bool]] = None
    on_scale: Optional[Callable[[Scale, int, int, int], None]] = None
    on_start: Optional[Callable[[np.ndarray], None]] = None


def run(config: StyleConfig, plan: RunPlan, session: Session, sources: SourceImages,
        listeners: Optional[Listeners] = None, *, rng: Optional[np.random.Generator] = None,
        start: Optional[np.ndarray] = None, beside_terms: Sequence[Any] = ()) -> RunOutcome:
    """The start picture, then the optimiser at each scale of `plan` in turn, followed by `listeners`. The picture
    starts from `start` (a network image at the first scale's size: a video frame's warped predecessor) or from
    `plan.start`; each later scale from the previous result upsampled. `beside_terms` are added to the objective at
    the last scale."""
    listeners = listeners or Listeners()
    rng = rng if rng is not None else np.random.default_rng(config.seed)
    first = plan.first_sizes
    width, height = first.content
    cold = cold_start(plan.start, start)
    if start is None or not plan.scales:
        content_pixels, style_pixels = sources.at(first)
        picture = start_picture(plan.start, content_pixels, rng,
                                session.feed_forward(config, style_pixels, sources.masks_at(first)))
        if not plan.scales:  # painted in one pass: the start is the picture (a start given is not needed)
            return RunOutcome(Outcome(preprocess(picture).ravel(), 0, 0, "done"), width, height, painted=picture)
        if listeners.on_start is not None and plan.start == FEED_FORWARD_START:
            listeners.on_start(picture)
        start = preprocess(picture)
    return _optimise(ThisRun(config, plan, session, sources, listeners), start, beside_terms, cold)


@dataclass(frozen=True)
class ThisRun:
    """What every scale of one run shares: its configuration (a video frame's own, which may differ from the one the
    session was opened with), its plan, the process's session, its images and its listeners."""

    config: StyleConfig
    plan: RunPlan
    session: Session
    sources: SourceImages
    listeners: Listeners


def _optimise(run: ThisRun, start: np.ndarray, beside_terms: Sequence[Any], cold: bool) -> RunOutcome:
    """The optimiser at each scale in turn, from `start` (a network image at the first scale's size); `cold`: that
    start is not an earlier result (optim/lbfgs.py watches it for a stall)."""
    config, plan, listeners = run.config, run.plan, run.listeners
    started = time.perf_counter()
    previous: Optional[np.ndarray] = None
    done_iterations = done_evaluations = left_over = 0
    result: Optional[RunOutcome] = None
    count = len(plan.scales)
    for scale_plan in plan.scales:
        scale = scale_plan.scale
        width, height = scale_plan.sizes.content
        budget = scale.iterations + left_over
        if listeners.on_scale is not None:
            listeners.on_scale(scale, width, height, budget)
        if scale_plan.memory.tile:
            listeners.notify(f"{scale.label + ': ' if count > 1 else ''}{width}x{height} evaluated in "
                   f"{scale_plan.memory.describe()}")
        last = scale.index == count
        x0 = start if previous is None else upsample(previous, height, width)
        outcome = _optimise_scale_in_memory(
            run, scale_plan, x0, budget,
            RunWideSteps(listeners.on_step, config.tolerance, done_iterations, done_evaluations,
                         time.perf_counter() - started), beside_terms if last else (), cold=previous is None and cold)
        done_iterations += outcome.iterations
        done_evaluations += outcome.evaluations
        left_over = budget - outcome.iterations
        previous = outcome.image.reshape(1, height, width, 3)
        result = RunOutcome(replace(outcome, iterations=done_iterations, evaluations=done_evaluations), width, height)
        if outcome.reason in ("stopped", "failed"):
            break
        if count > 1 and not last and outcome.reason != "done":
            listeners.notify(f"{scale.label} ended after {outcome.iterations} iterations: {outcome.reason}")
    assert result is not None
    return result


class RunWideSteps:
    """A scale's steps as the run counts them (iterations, evaluations and seconds go on across scales), handed
    on; the scale's own steps go to its convergence check. `last` is the scale's last step (None before the first)."""

    def __init__(self, on_step: Callable[[Step], None], tolerance: float, iterations: int, evaluations: int,
                 seconds: float) -> None:
        self.on_step = on_step
        self.tolerance = tolerance
        self.check = ConvergenceCheck(tolerance)
        self.offsets = (iterations, evaluations, seconds)
        self.last: Optional[Step] = None

    def __call__(self, step: Step) -> None:
        iterations, evaluations, seconds = self.offsets
        self.last = step
        self.on_step(replace(step, iteration=step.iteration + iterations, evaluations=step.evaluations + evaluations,
                             seconds=step.seconds + seconds))
        self.check(step)

    def going_on(self) -> "RunWideSteps":
        """The steps of a new attempt at the same scale, counted on from this one's last."""
        iterations, evaluations, seconds = self.offsets
        last = self.last
        return RunWideSteps(self.on_step, self.tolerance, iterations + (last.iteration if last else 0),
                            evaluations + (last.evaluations if last else 0), seconds + (last.seconds if last else 0.0))


# A scale that ran out of memory is retried in tiles of half the size, down to this side (a multiple of 16).
SMALLEST_TILE_AFTER_OUT_OF_MEMORY = 128


def smaller_tile(scale_plan: ScalePlan) -> Optional[int]:
    """Half the tile a scale ran out of memory in (half its longest side, where it ran whole), on a multiple of 16
    px; None where that is below SMALLEST_TILE_AFTER_OUT_OF_MEMORY."""
    current = scale_plan.memory.tile or max(scale_plan.sizes.content)
    half = current // 2 // TILE_ALIGNMENT * TILE_ALIGNMENT
    return half if half >= SMALLEST_TILE_AFTER_OUT_OF_MEMORY else None


def _optimise_scale_in_memory(run: ThisRun, scale_plan: ScalePlan, x0: np.ndarray, budget: int, run_wide: RunWideSteps,
                              beside_terms: Sequence[Any], cold: bool) -> Outcome:
    """One scale, surviving running out of memory (on a GPU or a CPU, as the backend says: backends.is_out_of_memory): the scale
    goes on in tiles of half the size from the last picture it reached, said in one line; where no smaller tile is
    left, it ends as failed, with that picture. The outcome counts every attempt's iterations."""
    done = evaluations = 0
    while True:
        try:
            outcome = _optimise_scale(run, scale_plan, x0, budget - done, run_wide, beside_terms, cold)
            return replace(outcome, iterations=outcome.iterations + done, evaluations=outcome.evaluations + evaluations)
        except Exception as error:
            if not backends.active().is_out_of_memory(error):
                raise
            last = run_wide.last
            if last is not None:
                x0, done, evaluations = np.asarray(last.image), done + last.iteration, evaluations + last.evaluations
                cold = False
            width, height = scale_plan.sizes.content
            where = f"in {scale_plan.memory.tile} px tiles" if scale_plan.memory.tile else "whole"
            tile = smaller_tile(scale_plan)
            if tile is None:
                return Outcome(np.asarray(x0, np.float64).ravel(), done, evaluations, "failed",
                               f"out of memory at {width}x{height} {where}, and no smaller tile is left: lower --size "
                               "or free some memory")
            run.listeners.notify(f"out of memory at {width}x{height} {where}: going on in {tile} px tiles from "
                             f"iteration {run_wide.offsets[0] + (last.iteration if last else 0)}")
            scale_plan = replace(scale_plan, memory=replace(scale_plan.memory, tile=tile))
            run_wide = run_wide.going_on()


def _optimise_scale(run: ThisRun, scale_plan: ScalePlan, x0: np.ndarray, budget: int, on_step: Callable[[Step], None],
                    beside_terms: Sequence[Any], cold: bool) -> Outcome:
    """One scale: its objective (whole or tiled, traced once per process), then the optimiser from x0."""
    config, plan, session, sources = run.config, run.plan, run.session, run.sources
    hardware = plan.hardware
    content_pixels, style_pixels = sources.at(scale_plan.sizes)
    masks: Optional[images.Masks] = sources.masks_at(scale_plan.sizes)
    width, height = scale_plan.sizes.content
    with backends.device_scope(hardware.device):
        objective = session.objectives.objective(config, session.extractor, content_pixels, style_pixels,
                                                 scale_plan.memory.tile, hardware.xla, beside_terms, masks)
    evaluator = Evaluator(objective, (1, height, width, 3), hardware.device, run.listeners.should_stop)
    # Every scale starts L-BFGS with its plain first step; where that step is too small to change
    # the loss (seen at 384 px in bfloat16), LbfgsRun restarts with a one-grey-level step. Scaling
    # every later scale's first step instead was measured worse at 512 px: loss 4.023 vs 3.952.
    return run_optimiser(config, plan.optimizer, evaluator, x0.astype(np.float64).ravel(), on_step, budget,
                         cold_start=cold, precision=hardware.precision)


__all__ = ["Listeners", "RunOutcome", "RunWideSteps", "Session", "run"]
