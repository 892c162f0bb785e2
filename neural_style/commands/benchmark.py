"""`neural-style benchmark`: speed and memory, measured the same way every time. One measurement per run, chosen by
its flag; each is a module of `neural_style.benchmarks` (its docstring says what it measures):

    neural-style benchmark [--sizes 256 512] [--precisions float32 bfloat16] [--rounds 5]       speed (the default)
    neural-style benchmark --profile [--sizes 512] [--precisions float32 bfloat16] [--rounds 5]
    neural-style benchmark --time-to-quality CONTENT STYLE [--size 512] [-o FOLDER]
    neural-style benchmark --tiled [--sizes 1024 2048 4096] [--tile-size 1024] [--rounds 2]
    neural-style benchmark --video CLIP STYLE [--frames 24] [--temporal-weights 0.05]
    neural-style benchmark --batch [--rounds 2]
    neural-style benchmark --style-losses [--pairs CONTENT:STYLE ...] [--size 256] [--iterations 100] [-o FOLDER]
    neural-style benchmark --starts [--pairs CONTENT:STYLE ...] [--size 256] [--iterations 100] [-o FOLDER]
    neural-style benchmark --studio [--size 512] [--iterations 100] [--rounds 3]
    neural-style benchmark --refusals
    neural-style benchmark --optimizers [--sizes 512 2048] [--pairs CONTENT:STYLE ... --size 384 --iterations 300]
"""

from __future__ import annotations

import argparse
import importlib
from typing import Optional, Sequence

from neural_style.commands.common import OneLineParser, StopOnSignal, refuse_json_events, run_command
from neural_style.commands.flags import add_common_flags
from neural_style.commands.stylize import command_line
from neural_style.samples import sample

PROG = "neural-style benchmark"
# Each measurement's flag (its argparse destination) and its module in neural_style.benchmarks; none given: speed.
MEASUREMENTS = {"profile": "profile", "time_to_quality": "time_to_quality", "tiled": "tiled", "video": "video", "batch": "batch",
                "style_losses": "style_losses", "starts": "starts", "studio": "studio", "refusals": "refusals",
                "optimizers": "optimizers", "strength": "strength"}


def build_parser() -> argparse.ArgumentParser:
    parser = OneLineParser(prog=PROG, description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    which = parser.add_argument_group("the measurement (one; none: speed)").add_mutually_exclusive_group()
    which.add_argument("--profile", action="store_true",
                       help="where an evaluation's time goes: each layer's convolution, ReLU, pooling, style "
                       "statistics, terms, casts and copies at --sizes (default here: 512) in each --precisions, "
                       "against the evaluation and this machine's convolution peak")
    which.add_argument("--time-to-quality", nargs=2, metavar=("CONTENT", "STYLE"),
                       help="the single-size float32 baseline against the default run and the photo start")
    which.add_argument("--tiled", action="store_true",
                       help="whole-image against tiled evaluation at --sizes (default here: 1024 2048 4096)")
    which.add_argument("--video", nargs=2, metavar=("CLIP", "STYLE"),
                       help="flicker and seconds per frame of independent frames against the temporal mode")
    which.add_argument("--batch", action="store_true",
                       help="the batch command's ways of running (one process, 2 workers, Ray, two-node Ray)")
    which.add_argument("--style-losses", action="store_true",
                       help="each style loss on each pair (--pairs, else the samples): the "
                       "results scored by every style loss, and each loss's seconds per evaluation")
    which.add_argument("--starts", action="store_true",
                       help="the content start against the AdaIN start at equal budget on each pair, scored in "
                       "float32 at the final size, and AdaIN's seconds per picture")
    which.add_argument("--optimizers", action="store_true",
                       help="scipy's L-BFGS-B against the L-BFGS kept on the device: per iteration, the seconds in "
                       "evaluations and in the optimiser (--sizes, default 512 2048; --precisions); with --pairs, the "
                       "final float32 loss of each at --size and --iterations, from the photo and the AdaIN start")
    which.add_argument("--strength", action="store_true",
                       help="one style strength across paintings: each pair (--pairs, else the samples and a dark "
                       "copy of the sample painting) with each --style-calibration, scored by measures the loss "
                       "does not optimise (--size, --iterations); --reference prints the sample painting's scales")
    which.add_argument("--refusals", action="store_true",
                       help="every command's bad input, each in a process of its own: its one line, the seconds and "
                       "the peak memory of saying it")
    which.add_argument("--studio", action="store_true",
                       help="the studio's overhead: a plain run against the studio's Paint (its stream consumed as "
                       "the page does) with the same settings and network, interleaved, seconds per evaluation")
    options = parser.add_argument_group("options")
    options.add_argument("--sizes", type=int, nargs="+",
                         help="speed, --profile and --tiled: longest sides (default: 256 512; 512 with --profile; 1024 "
                         "2048 4096 with --tiled)")
    options.add_argument("--precisions", nargs="+", choices=("float32", "bfloat16"), default=["float32", "bfloat16"],
                         help="speed: the precisions (default: float32 bfloat16)")
    options.add_argument("--rounds", type=int,
                         help="interleaved timing rounds per variant (default: 5; 2 with --tiled and --batch; 3 with "
                         "--studio)")
    options.add_argument("--no-start", dest="start", action="store_false",
                         help="speed: skip the start-to-first-iteration and memory runs (a process each)")
    options.add_argument("--deterministic", action="store_true",
                         help="speed: turn on TensorFlow's op determinism (what --seed does), to measure its cost")
    options.add_argument("--content", default=sample("chelsea.jpg"), help="content image (default: the sample photo)")
    options.add_argument("--style", default=sample("swirls.jpg"), help="style image (default: the sample painting)")
    options.add_argument("--size", type=int, default=512,
                         help="the output size of --time-to-quality, --style-losses, --starts, --studio (default: 512; "
                         "256 for --video)")
    options.add_argument("-o", "--output", help="a folder for the pictures, sheets and summary")
    options.add_argument("--tile-size", type=int, default=1024,
                         help="--tiled's tile size (default: 1024, what --tile-size auto picks for 4096 px on a "
                         "machine with 24 GB)")
    options.add_argument("--precision", choices=("float32", "bfloat16"), default="bfloat16",
                         help="--tiled's precision (default: bfloat16)")
    options.add_argument("--frames", type=int, default=24, help="--video: frames to stylise (default: 24)")
    options.add_argument("--iterations", type=int, default=100,
                         help="iterations of a run (--video: of a frame from scratch) (default: 100)")
    options.add_argument("--reference", action="store_true",
                         help="--strength: print the sample painting's per-layer scales (objective/calibration.py)")
    options.add_argument("--pairs", nargs="+", metavar="CONTENT:STYLE",
                         help="--style-losses, --starts: the image pairs")
    options.add_argument("--temporal-weights", type=float, nargs="+", default=[0.05],
                         help="--video: temporal weights to measure (default: 0.05)")
    add_common_flags(parser)  # --quiet: the results alone; --seed: the measured images' noise
    return parser


def main(argv: Optional[Sequence[str]] = None) -> int:
    """`neural-style benchmark`; returns the exit status."""
    parser = build_parser()
    args = parser.parse_args(argv)
    refuse_json_events(parser, args)
    chosen = next((module for flag, module in MEASUREMENTS.items() if getattr(args, flag)), "speed")

    def body(stop: StopOnSignal) -> int:
        # The measurement's module is imported once TensorFlow has started quietly: it is TensorFlow's.
        measurement = importlib.import_module(f"neural_style.benchmarks.{chosen}")
        if chosen == "studio":
            return measurement.run(args, stop, command_line)
        return measurement.run(args, stop)

    return run_command(PROG, body, backend_first=getattr(args, "backend", None) or "auto")


if __name__ == "__main__":
    raise SystemExit(main())
