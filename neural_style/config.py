"""What the user asked, validated and immutable: `StyleConfig` (what to paint and how) and `WatchOptions`
(what watches the run and what it writes besides the picture), given to a run side by side. What the run
resolved from them (device, precision, XLA, sizes, tiles) is the pipeline's `RunPlan`."""

from __future__ import annotations

import math
import os
from dataclasses import dataclass, fields, replace
from typing import Any, Dict, Optional, Sequence, Tuple, Union

from neural_style.errors import NeuralStyleError

# Names of the convolution layers of Keras's VGG19 (keras/src/applications/vgg19.py), in order.
# Each Keras conv layer includes its ReLU, so block4_conv2 is Caffe's relu4_2.
VGG19_CONV_LAYERS: Tuple[str, ...] = (
    "block1_conv1", "block1_conv2",
    "block2_conv1", "block2_conv2",
    "block3_conv1", "block3_conv2", "block3_conv3", "block3_conv4",
    "block4_conv1", "block4_conv2", "block4_conv3", "block4_conv4",
    "block5_conv1", "block5_conv2", "block5_conv3", "block5_conv4",
)  # fmt: skip

DEFAULT_CONTENT_LAYERS: Tuple[str, ...] = ("block4_conv2",)
DEFAULT_STYLE_LAYERS: Tuple[str, ...] = (
    "block1_conv1", "block2_conv1", "block3_conv1", "block4_conv1", "block5_conv1",
)  # fmt: skip

WEIGHT_SOURCES = ("gatys", "imagenet")
@dataclass(frozen=True)
class OptimizerSpec:
    """What the plan and the checks know of an optimiser (optim/optimizers.RUNNERS runs it): its name, the settings
    only it reads, where its state lives, and the bytes that state takes per pixel (3 values a pixel: `vectors` plus
    `per_pair` per history pair, of `value_bytes` each)."""

    name: str
    label: str  # as messages name it
    settings: Tuple[str, ...]  # StyleConfig fields only this kind of optimiser reads
    state_on_device: bool  # in the evaluation's device memory (a GPU's), else the host's
    value_bytes: int
    vectors: int
    per_pair: int = 0

    def state_bytes_per_pixel(self, history: int) -> float:
        return 3 * self.value_bytes * (self.vectors + self.per_pair * history)


# "lbfgs": scipy's L-BFGS-B on the host (float64, the reference: its history pairs and eight working vectors);
# "lbfgs-device": the bounded L-BFGS kept where the evaluation runs (optim/lbfgs_device.py: float32 pairs and their
# masked copies, the iterate, gradient, direction, trial point and gradient, and the recursion's vector); "adam": Keras's Adam (the variable and
# its two moments in float32, the average, the last good picture and the start in float64). "auto": lbfgs-device on a
# GPU and in bfloat16 on a CPU, lbfgs in float32 on a CPU (plan/run_plan.resolve_optimizer).
OPTIMIZER_SPECS: Dict[str, OptimizerSpec] = {
    "lbfgs": OptimizerSpec("lbfgs", "L-BFGS", ("lbfgs_history",), False, 8, 8, 2),
    "lbfgs-device": OptimizerSpec("lbfgs-device", "L-BFGS", ("lbfgs_history",), True, 4, 6, 4),
    "adam": OptimizerSpec("adam", "Adam", ("learning_rate", "adam_average", "adam_space"), True, 4, 9),
}
OPTIMIZERS = ("auto", *OPTIMIZER_SPECS)
# How a picture is made: by optimising the objective (Gatys et al.), or in one pass of AdaIN's trained decoder
# (feedforward/adain.py).
OPTIMIZE_METHOD, FEED_FORWARD_METHOD = "optimize", "adain"  # paint by optimising, or in one pass of AdaIN
METHODS = (OPTIMIZE_METHOD, FEED_FORWARD_METHOD)
POOLINGS = ("max", "avg")
# "mean": Gram / (C*H*W), mean squared difference (jcjohnson/neural-style).
# "chapter": unnormalised Gram, mean squared difference divided by C*H*W (the PyTorch reference).
STYLE_NORMALIZATIONS = ("mean", "chapter")
# The style term: Gram matrices (Gatys et al.), the 2-Wasserstein distance between Gaussians fitted to the
# features (objective/wasserstein_style.py), or the sliced Wasserstein distance between the features'
# distributions (objective/sliced_style.py). objective/build.STYLE_TERMS maps each to its term.
STYLE_LOSSES = ("gram", "wasserstein", "sliced")
# How a style weight is made to mean the same on every painting (objective/calibration.py): "target" measures each
# layer's loss against its painting's own scale, in the sample painting's units; "gradient" divides it by the size of
# its current difference (crowsonkb's scaled loss); "off" is the loss as it always was; "auto" is "target" where the
# references hold (the Gatys weights, the 'mean' normalisation), else "off" (docs/style-strength.md has the choice).
STYLE_CALIBRATIONS = ("auto", "off", "target", "gradient")
# Style losses that are not sums over positions (a sort over all of them): they need the whole image at once, so
# tiles and masks are refused with them.
WHOLE_IMAGE_STYLE_LOSSES = ("sliced",)


def whole_image_refusal(style_loss: str, cannot: str, fix: str) -> NeuralStyleError:
    """The one wording of a refusal of a style loss of WHOLE_IMAGE_STYLE_LOSSES: what it `cannot` do, and the `fix`."""
    return NeuralStyleError(f"--style-loss {style_loss} needs the whole image at once (it sorts every position), so "
                            f"it cannot {cannot}: {fix}, or use --style-loss gram or wasserstein")
# "longest-side": --size is the longest side, the style is scaled by --style-scale (Lanczos).
# "reference": torchvision's Resize(size): the shorter side is --size, the longer one scaled and
# truncated, bilinear; the style image is resized to the content image's size.
SIZINGS = ("longest-side", "reference")
# The variable Adam updates: the network's pixels, or the ImageNet-normalised RGB image of torchvision.
ADAM_SPACES = ("pixels", "imagenet")
# Arithmetic of the convolutions ("auto": what the hardware runs natively; see hardware.py). float16 is for NVIDIA
# GPUs before Ampere (compute capability 7.x), with the image gradient's loss scaled (objective/loss_scale.py).
PRECISIONS = ("auto", "float32", "bfloat16", "float16")
# The frameworks Keras computes on (backends/__init__.py chooses for "auto").
BACKENDS = ("auto", "tensorflow", "torch", "jax")
# Units a --memory-budget may be given in, by their (upper-case) suffix.
MEMORY_UNITS = {"": 1, "B": 1, "K": 1e3, "KB": 1e3, "M": 1e6, "MB": 1e6, "G": 1e9, "GB": 1e9, "T": 1e12, "TB": 1e12,
                "KIB": 2**10, "MIB": 2**20, "GIB": 2**30, "TIB": 2**40}

# Tile borders and halos (objective/tiled.py) fall on multiples of 16 px (2**4, for the poolings before
# block5), so VGG19's poolings see the whole image's windows.
TILE_ALIGNMENT = 16
# Measured (docs/high-resolution.md): the loss and gradient error against the whole image's as the halo
# grows, at 512 px in 128 and 256 px tiles: 48 px 2e-2 and 7e-3 (3e-2 along tile borders), 64 px 7e-4 and
# 2e-4 (no worse along borders), 80 px exact (the receptive field of conv5_1 is 156 px).
DEFAULT_TILE_HALO = 64

# --init names that are not files (run/starts.py makes each start image). Anything else is the path of an image.
# Where an optimisation may start besides an image file: the content, noise, or the AdaIN picture (the feed-forward
# picture, which --method adain gives as the result).
CONTENT_START, RANDOM_START, FEED_FORWARD_START = "content", "random", "adain"
NAMED_STARTS = (CONTENT_START, RANDOM_START, FEED_FORWARD_START)


def is_file_start(init: str) -> bool:
    """Whether `--init` names an image file (a resumed run: its picture already has the final size's detail)."""
    return init not in NAMED_STARTS


# A path, a Pillow image or an H x W x 3 uint8 array.
ImageSource = Union[str, "os.PathLike[str]", Any]


@dataclass(frozen=True)
class LossWeights:
    """Weights of the three terms of the objective."""

    content: float
    style: float
    tv: float


# Defaults belong to the weight source, because the networks' activations differ in scale:
# Gatys' normalised VGG19 has mean activation one per filter, the ImageNet Caffe weights that
# Keras ships do not. The `gatys` numbers were tuned on this tool's sample images (README);
# the `imagenet` ones are jcjohnson/neural-style's defaults (content 5, style 100) with its
# TV weight rescaled to this tool's mean-based TV term at 512 x 384.
DEFAULT_LOSS_WEIGHTS = {
    "gatys": LossWeights(content=1.0, style=1e5, tv=1e-3),
    "imagenet": LossWeights(content=5.0, style=100.0, tv=3e-2),
}
# The style weight of a style loss other than Gram's, per weight source: its values are on another scale.
# `gatys`: chosen by looking at results at weights 1, 3 and 10 (wasserstein) and 1, 3, 5 and 10 (sliced: 5 gives
# Gram's content loss on chelsea + swirls; docs/style-losses.md). `imagenet`: not checked
# by eye (its weights need the internet); scaled from the Gram weights' ratio between the two networks (1e3, a
# fourth power of the activations' scale), W2^2 being a second power: 1e3 ** (2 / 4) ~ 32 times smaller.
STYLE_LOSS_WEIGHTS = {
    "wasserstein": {"gatys": 1.0, "imagenet": 0.03},
    "sliced": {"gatys": 5.0, "imagenet": 0.15},
}


def shown(value: Any) -> str:
    """A default as it would be typed after its flag: lists comma-separated, numbers as %g."""
    if isinstance(value, (list, tuple)):
        return ",".join(shown(item) for item in value)
    if isinstance(value, float):
        return number_as_typed(value)
    return str(value)


def memory_size(value: Union[str, float]) -> float:
    """Bytes of a memory size as a user gives it: a number of bytes, or text such as '6GB', '6 G', '512MiB'."""
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        if math.isfinite(value) and value > 0:
            return float(value)
        raise NeuralStyleError(f"--memory-budget must be above 0, got {value!r}: pass a size such as 6GB")
    text = str(value).strip().upper().replace(" ", "")
    digits = text.rstrip("KMGTIB")
    unit = text[len(digits):]
    try:
        number = float(digits)
    except ValueError:
        number = math.nan
    if unit not in MEMORY_UNITS or not math.isfinite(number) or number <= 0:
        raise NeuralStyleError(f"--memory-budget {value!r} is not a memory size: pass one such as 6GB, 512MB or "
                               "1.5GiB")
    return number * MEMORY_UNITS[unit]


def number_as_typed(value: float) -> str:
    """1e5 rather than 100000 and 3e4 rather than 30000 (where that is the exact value), 0.001 and 12345 as is."""
    short = f"{value:.0e}".replace("e+0", "e").replace("e+", "e")
    return short if abs(value) >= 1e4 and float(short) == value else f"{value:g}"


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
    init: str = "adain"  # measured better at equal budget on 4 of 5 pairs (docs/performance.md, "The AdaIN start")
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
    _check_int("--snapshot-every", watch.snapshot_every, minimum=0, flag="--snapshot-every (0 turns snapshots off)")
    _check_int("--print-every", watch.print_every, minimum=1, flag="--print-every")
    _check_int("--timelapse-every", watch.timelapse_every, minimum=1, flag="--timelapse-every")
    if watch.web is not None:
        _check_int("--web", watch.web, minimum=0, flag="--web PORT")
        if watch.web > 65535:
            raise NeuralStyleError(f"--web port {watch.web} is not a port (0-65535): pass --web with a port such as 8000")
    _check_number("--timelapse-fps", watch.timelapse_fps, minimum=0, strict=True, flag="--timelapse-fps")


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


def _check_number(name: str, value: Any, *, minimum: float, strict: bool, flag: str) -> None:
    ok = isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
    if ok:
        ok = value > minimum if strict else value >= minimum
    if not ok:
        relation = ">" if strict else ">="
        raise NeuralStyleError(
            f"{name} must be a finite number {relation} {minimum:g}, got {value!r}: pass {flag} with such a value"
        )


def _check_int(name: str, value: Any, *, minimum: int, flag: str) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise NeuralStyleError(f"{name} must be an integer >= {minimum}, got {value!r}: pass {flag} with such a value")


def _check_layer_names(kind: str, layers: Sequence[str], flag: str) -> None:
    if not layers:
        raise NeuralStyleError(f"no {kind} layers given: pass {flag} with one or more of {', '.join(VGG19_CONV_LAYERS)}")
    for layer in layers:
        if layer not in VGG19_CONV_LAYERS:
            raise NeuralStyleError(
                f"unknown {kind} layer {layer!r}: valid VGG19 layers are {', '.join(VGG19_CONV_LAYERS)}"
            )


def validate(config: StyleConfig) -> None:
    """Raise NeuralStyleError naming the first option that cannot work, and how to fix it."""
    _check_images_given(config)
    _check_numbers(config)
    _check_choices(config)
    _check_layers(config)
    _check_blend_weights(config)
    _check_masks(config)
    _check_files(config)


def _check_images_given(config: StyleConfig) -> None:
    if config.content is None:
        raise NeuralStyleError("no content image given: pass the path of a photo as the first argument")
    if not config.styles:
        raise NeuralStyleError("no style image given: pass the path of a painting as the second argument")


def _check_numbers(config: StyleConfig) -> None:
    _check_int("--size", config.size, minimum=1, flag="--size")
    _check_number("--style-scale", config.style_scale, minimum=0, strict=True, flag="--style-scale")
    _check_int("--iterations", config.iterations, minimum=1, flag="--iterations")
    if config.output_bits not in (None, 8, 16):
        raise NeuralStyleError(f"--output-bits must be 8 or 16, got {config.output_bits!r}: pass --output-bits 16 for "
                               "16 bits per channel")
    _check_int("--lbfgs-history", config.lbfgs_history, minimum=1, flag="--lbfgs-history")
    _check_number("--learning-rate", config.learning_rate, minimum=0, strict=True, flag="--learning-rate")
    _check_number("--adam-average", config.adam_average, minimum=0, strict=False, flag="--adam-average")
    if config.adam_average >= 1:
        raise NeuralStyleError(f"--adam-average must be below 1, got {config.adam_average!r}: pass a decay such as 0.9")
    _check_number("--tolerance", config.tolerance, minimum=0, strict=False, flag="--tolerance (0 turns it off)")
    if config.scales != "auto":
        _check_int("--scales", config.scales, minimum=1, flag="--scales (or auto)")
    _check_tiles(config)
    _check_number("--adain-alpha", config.adain_alpha, minimum=0, strict=False, flag="--adain-alpha")
    if config.adain_alpha > 1:
        raise NeuralStyleError(f"--adain-alpha must be at most 1, got {config.adain_alpha!r}: pass a strength in 0-1")
    for name in ("content_weight", "style_weight", "tv_weight"):
        value = getattr(config, name)
        if value is not None:
            flag = "--" + name.replace("_", "-")
            _check_number(flag, value, minimum=0, strict=False, flag=flag)
    if config.seed is not None:
        _check_int("--seed", config.seed, minimum=0, flag="--seed")
        if config.xla:
            raise NeuralStyleError("--xla cannot give a seeded run's byte-identical picture (TensorFlow has no "
                                   "deterministic XLA max-pool gradient): drop --xla or --seed")
    config.memory_budget_bytes()  # a budget that is not a size is refused here
    _check_number("--style-strength", config.style_strength, minimum=0, strict=False, flag="--style-strength")
    if config.style_calibration not in ("auto", "off"):
        if config.style_normalization != "mean":
            raise NeuralStyleError(f"--style-calibration {config.style_calibration} measures the 'mean' style "
                                   "normalisation's losses: drop --preset reference, or pass --style-calibration off")
        if config.weight_source != "gatys":
            raise NeuralStyleError(f"--style-calibration {config.style_calibration} is measured on the Gatys weights' "
                                   "features: pass --weights gatys, or --style-calibration off")
        if config.style_calibration == "gradient" and config.style_loss == "sliced":
            raise NeuralStyleError("--style-calibration gradient has no reference for --style-loss sliced: pass "
                                   "--style-calibration target (or off), or --style-loss gram or wasserstein")



def check_settings_read(config: StyleConfig, given: Sequence[str]) -> None:
    """Refuse, naming the fix, settings `given` by the user (not by a preset) that this run would silently ignore:
    one optimiser's settings (OptimizerSpec.settings) with another. (XLA with a seed is refused by `validate`.)"""
    if config.method != "optimize" or config.optimizer not in OPTIMIZERS:  # an unknown name is validate's to refuse
        return
    running = OPTIMIZER_SPECS["lbfgs" if config.optimizer == "auto" else config.optimizer]  # auto: an L-BFGS
    for name in given:
        owner = next((spec for spec in OPTIMIZER_SPECS.values() if name in spec.settings), running)
        if name not in running.settings and owner is not running:
            flag = "--" + name.replace("_", "-")
            raise NeuralStyleError(f"{flag} is {owner.label}'s setting and this run optimises with {running.label}: "
                                   f"pass --optimizer {owner.name}, or drop {flag}")


def _check_tiles(config: StyleConfig) -> None:
    if config.tile_size != "auto":
        _check_int("--tile-size", config.tile_size, minimum=0, flag="--tile-size (0 turns tiling off, or auto)")
        if config.tile_size % TILE_ALIGNMENT:
            raise NeuralStyleError(f"--tile-size must be a multiple of {TILE_ALIGNMENT} px, got {config.tile_size}: "
                                   f"use --tile-size {max(TILE_ALIGNMENT, config.tile_size // TILE_ALIGNMENT * TILE_ALIGNMENT)}")
    if config.tile_size not in ("auto", 0) and config.style_loss in WHOLE_IMAGE_STYLE_LOSSES:
        raise whole_image_refusal(config.style_loss, "be evaluated in tiles", "drop --tile-size")
    _check_int("--tile-halo", config.tile_halo, minimum=0, flag="--tile-halo")
    if config.tile_halo % TILE_ALIGNMENT:
        raise NeuralStyleError(f"--tile-halo must be a multiple of {TILE_ALIGNMENT} px, got {config.tile_halo}: "
                               f"use --tile-halo {config.tile_halo // TILE_ALIGNMENT * TILE_ALIGNMENT}")


def _check_choices(config: StyleConfig) -> None:
    for name, allowed in (("method", METHODS), ("optimizer", OPTIMIZERS), ("pooling", POOLINGS), ("sizing", SIZINGS),
                          ("precision", PRECISIONS), ("style_calibration", STYLE_CALIBRATIONS),
                          ("style_normalization", STYLE_NORMALIZATIONS), ("adam_space", ADAM_SPACES),
                          ("style_loss", STYLE_LOSSES), ("backend", BACKENDS)):
        if getattr(config, name) not in allowed:
            raise NeuralStyleError(f"unknown {name} {getattr(config, name)!r}: use one of {', '.join(allowed)}")


def _check_layers(config: StyleConfig) -> None:
    _check_layer_names("content", config.content_layers, "--content-layers")
    _check_layer_names("style", config.style_layers, "--style-layers")
    _check_weight_list(config.style_layer_weights, len(config.style_layers), "--style-layer-weights",
                       "style layers", "layer", "each style layer weight")


def _check_blend_weights(config: StyleConfig) -> None:
    _check_weight_list(config.style_blend_weights, len(config.styles), "--style-blend-weights",
                       "style images were given", "style image", "each style blend weight")


def _check_masks(config: StyleConfig) -> None:
    for flag, masks in (("--masks", config.masks), ("--style-masks", config.style_masks)):
        if masks and len(masks) != len(config.styles):
            raise NeuralStyleError(f"{flag} has {len(masks)} mask{'s' * (len(masks) != 1)} but {len(config.styles)} "
                                   "style images were given: give one mask per style image, in the same order")
    if (config.masks or config.style_masks) and config.style_loss in WHOLE_IMAGE_STYLE_LOSSES:
        raise whole_image_refusal(config.style_loss, "paint regions by masks", "drop the masks")
    if (config.masks or config.style_masks) and config.style_normalization != "mean":
        raise NeuralStyleError("masks need the 'mean' style normalisation (regions of different sizes are compared "
                               "by their means): drop --preset reference")


def _check_weight_list(weights: Optional[Sequence[float]], count: int, flag: str, counted: str, per: str,
                       each: str) -> None:
    if weights is None:
        return
    if len(weights) != count:
        are = "" if counted.endswith("given") else "there are "
        raise NeuralStyleError(f"{flag} has {len(weights)} values but {are}{count} {counted}: give one weight per {per}")
    for weight in weights:
        _check_number(each, weight, minimum=0, strict=False, flag=flag)
    if sum(weights) <= 0:
        raise NeuralStyleError(f"{flag} are all zero: give at least one positive weight")


def _check_files(config: StyleConfig) -> None:
    if config.weight_source == "file" and not os.path.isfile(config.weights):
        raise NeuralStyleError(
            f"--weights {config.weights!r} is neither 'gatys', 'imagenet' nor an existing file: "
            "pass one of those or the path of a Keras VGG19 .h5/.weights.h5 file"
        )
    if is_file_start(config.init) and not os.path.isfile(str(config.init)):
        raise NeuralStyleError(
            f"--init {config.init!r} is neither {', '.join(repr(s) for s in NAMED_STARTS)} nor an existing image file: "
            "pass one of those"
        )


__all__ = [
    "StyleConfig",
    "WatchOptions",
    "build_watch",
    "split_options",
    "validate_watch",
    "LossWeights",
    "DEFAULT_LOSS_WEIGHTS",
    "DEFAULT_CONTENT_LAYERS",
    "DEFAULT_STYLE_LAYERS",
    "VGG19_CONV_LAYERS",
    "validate",
    "build_config",
    "PRESETS",
]
