"""The names and defaults a run can be given (layers, optimisers, style losses, starts, precisions, backends, tiles,
loss weights), the helpers that show and read them, and the number checks every setting's validation uses."""

from __future__ import annotations

import math
import os
from dataclasses import dataclass
from typing import Any, Dict, Tuple, Union

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
ImageSource = Union[str, os.PathLike, Any]


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


def check_number(name: str, value: Any, *, minimum: float, strict: bool, flag: str) -> None:
    ok = isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
    if ok:
        ok = value > minimum if strict else value >= minimum
    if not ok:
        relation = ">" if strict else ">="
        raise NeuralStyleError(
            f"{name} must be a finite number {relation} {minimum:g}, got {value!r}: pass {flag} with such a value"
        )


def check_int(name: str, value: Any, *, minimum: int, flag: str) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise NeuralStyleError(f"{name} must be an integer >= {minimum}, got {value!r}: pass {flag} with such a value")
