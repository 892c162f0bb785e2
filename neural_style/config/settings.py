"""What the user asked, immutable: `StyleConfig` (what to paint and how) and `WatchOptions` (what watches the run
and what it writes besides the picture, validated here), the presets and looks, and the one order of precedence
(`build_config`). What the run resolved from them (device, precision, compiler, sizes, tiles) is the plan's
`RunPlan`."""

from __future__ import annotations

from dataclasses import dataclass, fields, replace
from typing import Any, Dict, Optional, Sequence, Tuple, Union

from neural_style.errors import NeuralStyleError
from neural_style.config.defaults import (DEFAULT_CONTENT_LAYERS, DEFAULT_LOSS_WEIGHTS, DEFAULT_STYLE_LAYERS,
                                          DEFAULT_TILE_HALO, FEED_FORWARD_START, ImageSource, LossWeights, STYLE_LOSS_WEIGHTS,
                                          WEIGHT_SOURCES, check_int, check_number, memory_size)

@dataclass(frozen=True)
class StyleConfig:
    """What one style transfer run paints and how, as asked (precision 'auto' stays 'auto': the run's
    `RunPlan` holds what it resolved to); the CLI builds it from flags, a notebook directly.

    Loss weights left as None take the defaults of the chosen weight source
    (see `DEFAULT_LOSS_WEIGHTS` and `resolved_loss_weights`).
    """

    content: ImageSource = None
    styles: Sequence[ImageSource] = ()
    output: Optional[str] = None
    output_bits: Optional[int] = None  # 8 or 16 bits per channel; None: 16 for a .tif output, else 8

    # Images in
    size: int = 512
    style_scale: float = 1.0
    style_blend_weights: Optional[Sequence[float]] = None
    color_match: bool = False  # the style images in the content's colours before any target (images.match_colors)
    style_augment: bool = False  # style targets averaged over the style images' 8 orientations
    # Regional style (objective/regional_style.py): one mask per style image over the content (style i paints where
    # mask i is white), and/or one per style image over itself (where its statistics are taken from).
    masks: Sequence[ImageSource] = ()
    style_masks: Sequence[ImageSource] = ()

    # Features
    weights: str = "gatys"
    pooling: str = "max"
    content_layers: Sequence[str] = DEFAULT_CONTENT_LAYERS
    style_layers: Sequence[str] = DEFAULT_STYLE_LAYERS
    style_layer_weights: Optional[Sequence[float]] = None

    # Losses
    content_weight: Optional[float] = None
    style_weight: Optional[float] = None
    style_loss: str = "gram"
    tv_weight: Optional[float] = None
    # How much style, on a scale that means the same on every painting (with style_calibration on): 1 is the default
    # look, 0 the photo, 3 strong, 10 the painting's texture everywhere. It multiplies the style weight.
    style_strength: float = 1.0
    style_calibration: str = "auto"

    # Optimiser
    optimizer: str = "auto"
    iterations: int = 500
    learning_rate: float = 10.0
    adam_average: float = 0.0  # Adam's picture: the moving average of its iterates with this decay (0: the last)
    lbfgs_history: int = 10
    init: str = FEED_FORWARD_START  # measured better at equal budget on 4 of 5 pairs (docs/performance.md, "The AdaIN start")
    method: str = "optimize"
    adain_alpha: float = 1.0  # AdaIN's style strength: 0 the content's own features, 1 the style's statistics
    seed: Optional[int] = None
    # None: XLA where it was measured to pay (GPU), the plain graph on a CPU (see hardware.resolve_xla).
    xla: Optional[bool] = None

    # Speed (see plan/scales.py and hardware.py for how the defaults were chosen)
    precision: str = "auto"
    scales: Union[int, str] = "auto"  # coarse-to-fine: the number of sizes, or "auto"
    tolerance: float = 1e-3  # a scale ends when the loss fell by less than this fraction over a window

    # High resolution (see objective/tiled.py): the interior size of the tiles the image is evaluated in,
    # 0 for the whole image at once, or "auto": tiles only where the whole image would not fit in memory.
    tile_size: Union[int, str] = "auto"
    tile_halo: int = DEFAULT_TILE_HALO  # px of context read around each tile

    # What the `reference` preset changes to match the PyTorch reference (see PRESETS).
    sizing: str = "longest-side"
    style_normalization: str = "mean"
    adam_space: str = "pixels"

    original_colors: bool = False
    # The framework Keras computes on: "auto" (backends.choose_backend), "tensorflow", "torch" or "jax". One per process.
    backend: str = "auto"
    device: Optional[str] = None

    # Plan as if only this much memory were free (on the device the network runs on): bytes, or text such as "6GB"
    # or "512MiB". None: what the device reports (plan/memory.py).
    memory_budget: Optional[Union[str, float]] = None

    # Where converted weights are cached; None means $NEURAL_STYLE_CACHE or the user cache folder.
    cache_dir: Optional[str] = None

    def __post_init__(self) -> None:
        # Sequences held as tuples, so a configuration cannot change under a run.
        # One style may be a path, a Pillow image or an array; only a list or tuple means several.
        styles = tuple(self.styles) if isinstance(self.styles, (list, tuple)) else (self.styles,)
        object.__setattr__(self, "styles", styles)
        for name in ("content_layers", "style_layers", "style_layer_weights", "style_blend_weights", "masks",
                     "style_masks"):
            value = getattr(self, name)
            if isinstance(value, (list, tuple)):
                object.__setattr__(self, name, tuple(value))

    @property
    def weight_source(self) -> str:
        """'gatys', 'imagenet' or 'file' (a path to a Keras weights file)."""
        return self.weights if self.weights in WEIGHT_SOURCES else "file"

    def resolved_loss_weights(self) -> LossWeights:
        """The loss weights in force: the user's, else the defaults of the weight source (and the style loss)."""
        # A user's Keras VGG19 file is almost always the Caffe ImageNet network.
        source = "gatys" if self.weight_source == "gatys" else "imagenet"
        defaults = DEFAULT_LOSS_WEIGHTS[source]
        default_style = STYLE_LOSS_WEIGHTS[self.style_loss][source] if self.style_loss in STYLE_LOSS_WEIGHTS \
            else defaults.style
        return LossWeights(
            content=defaults.content if self.content_weight is None else self.content_weight,
            style=(default_style if self.style_weight is None else self.style_weight) * self.style_strength,
            tv=defaults.tv if self.tv_weight is None else self.tv_weight,
        )

    def resolved_style_calibration(self) -> str:
        """The calibration in force: 'auto' is 'target' where its references were measured (the Gatys weights, the
        'mean' style normalisation), else 'off'."""
        if self.style_calibration != "auto":
            return self.style_calibration
        return "target" if self.weight_source == "gatys" and self.style_normalization == "mean" else "off"

    def resolved_style_layer_weights(self) -> Tuple[float, ...]:
        if self.style_layer_weights is None:
            return (1.0,) * len(self.style_layers)
        return tuple(float(w) for w in self.style_layer_weights)

    def resolved_blend_weights(self) -> Tuple[float, ...]:
        """Blend weights of the style images, normalised to sum to one."""
        raw = self.style_blend_weights or (1.0,) * len(self.styles)
        total = float(sum(raw))
        return tuple(float(w) / total for w in raw)

    def with_options(self, **changes: Any) -> "StyleConfig":
        """A copy with some fields changed."""
        return replace(self, **changes)

    def memory_budget_bytes(self) -> Optional[float]:
        """--memory-budget in bytes (None: no budget)."""
        return None if self.memory_budget is None else memory_size(self.memory_budget)


DEFAULT_WEB_PORT = 8000  # the live page's port when --web is given without one


@dataclass(frozen=True)
class WatchOptions:
    """What watches a run and what it writes besides the picture, given to it beside its `StyleConfig`."""

    snapshot_every: int = 100  # a snapshot every this many iterations, 0 for none
    log: bool = True  # the CSV loss log beside the output
    print_every: int = 10  # a progress line every this many iterations when not on a terminal
    quiet: bool = False
    timelapse: Optional[str] = None  # a .gif, .mp4 or .webp of the run (watch/timelapse.py)
    timelapse_every: int = 2  # a frame every this many iterations: under 2% of a run in every format (docs)
    timelapse_fps: float = 25.0
    web: Optional[int] = None  # the live page's port (watch/live_page.py); 0: any free port
    web_host: str = "127.0.0.1"  # where it listens; another address makes it reachable from other machines
    json: bool = False  # events as JSON lines on standard output (watch/events.py), messages on standard error
    profile: bool = False  # after the run, where an evaluation's time went at the final size (run/profile.py)

    def with_options(self, **changes: Any) -> "WatchOptions":
        return replace(self, **changes)


# How a run is watched when its caller writes and says everything itself (a batch job, a sheet's cell, a benchmark).
SILENT_WATCH = WatchOptions(quiet=True, snapshot_every=0, log=False)

STYLE_FIELDS = frozenset(f.name for f in fields(StyleConfig))
WATCH_FIELDS = frozenset(f.name for f in fields(WatchOptions))


def split_options(options: Dict[str, Any]) -> Tuple[Dict[str, Any], Dict[str, Any]]:
    """Keyword options as (StyleConfig fields and 'preset', WatchOptions fields); an unknown name is a one-line
    error naming the closest fields."""
    unknown = set(options) - STYLE_FIELDS - WATCH_FIELDS - {"preset"}
    if unknown:
        raise NeuralStyleError(f"unknown option(s) {', '.join(sorted(unknown))}: options are StyleConfig or "
                               "WatchOptions fields")
    return ({k: v for k, v in options.items() if k not in WATCH_FIELDS},
            {k: v for k, v in options.items() if k in WATCH_FIELDS})


def build_watch(base: Optional[WatchOptions] = None, **options: Any) -> WatchOptions:
    """`base` (or the defaults) with `options`, validated."""
    watch = (base or WatchOptions()).with_options(**options)
    validate_watch(watch)
    return watch


def validate_watch(watch: WatchOptions) -> None:
    """Raise NeuralStyleError naming the first watch option that cannot work, and how to fix it."""
    check_int("--snapshot-every", watch.snapshot_every, minimum=0, flag="--snapshot-every (0 turns snapshots off)")
    check_int("--print-every", watch.print_every, minimum=1, flag="--print-every")
    check_int("--timelapse-every", watch.timelapse_every, minimum=1, flag="--timelapse-every")
    if watch.web is not None:
        check_int("--web", watch.web, minimum=0, flag="--web PORT")
        if watch.web > 65535:
            raise NeuralStyleError(f"--web port {watch.web} is not a port (0-65535): pass --web with a port such as 8000")
    check_number("--timelapse-fps", watch.timelapse_fps, minimum=0, strict=True, flag="--timelapse-fps")


# The book chapter's exercises 5.01-5.04 (the PyTorch reference's seed chapter), as one option set: the same
# objective and input sizing as `neural_style.reference`, so both minimise one and the same function.
PRESETS = {
    "reference": dict(
        size=224,
        sizing="reference",
        content_layers=DEFAULT_CONTENT_LAYERS,
        style_layers=DEFAULT_STYLE_LAYERS,
        style_layer_weights=(1.0, 0.8, 0.6, 0.4, 0.2),
        content_weight=1.0,
        style_weight=1e5,
        tv_weight=0.0,
        style_normalization="chapter",
        learning_rate=0.001,
        adam_space="imagenet",
        adam_average=0.0,  # the reference's picture is its last iterate
        # The reference's own arithmetic and schedule: one size, float32, every step it is given.
        precision="float32",
        scales=1,
        tolerance=0.0,
        init="content",  # the reference starts from the photo
        style_calibration="off",  # the reference's own loss, uncalibrated
    ),
    # Named looks, as style strengths (on the calibrated scale: the same amount of style on every painting).
    "subtle": dict(style_strength=0.3),
    "balanced": dict(style_strength=1.0),
    "strong": dict(style_strength=3.0),
}
LOOKS = ("subtle", "balanced", "strong")  # the presets that are looks (the studio's, a sheet's sweep)


def build_config(base: Optional[StyleConfig] = None, preset: Optional[str] = None, **options: Any) -> StyleConfig:
    """The one order of precedence, for the API and the command line alike: `base` (or the defaults),
    then the preset's values, then `options`."""
    config = base or StyleConfig()
    if preset is not None:
        if preset not in PRESETS:
            raise NeuralStyleError(f"unknown preset {preset!r}: use one of {', '.join(PRESETS)}")
        config = config.with_options(**PRESETS[preset])
    return config.with_options(**options)
