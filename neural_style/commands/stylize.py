"""`neural-style CONTENT STYLE... -o OUTPUT`: flags -> StyleConfig + WatchOptions -> `stylize`.

The flags of how a picture is painted and the common flags are defined once, in flags.py.
"""

from __future__ import annotations

import argparse
import shlex
import sys
from typing import Any, Optional, Sequence

from neural_style.api import stylize
from neural_style.commands.common import OneLineParser, StopOnSignal, run_command
from neural_style.commands.flags import _default, add_common_flags, add_style_flags, config_from_args
from neural_style.config import DEFAULT_WEB_PORT, StyleConfig, shown

PROG = "neural-style"


def build_parser() -> argparse.ArgumentParser:
    """The main command's flags. Flags not given are absent from the parsed namespace
    (argparse.SUPPRESS), so a preset's values are not overwritten by defaults."""
    parser = OneLineParser(
        prog=PROG, argument_default=argparse.SUPPRESS,
        description="Neural style transfer (Gatys, Ecker & Bethge) on Keras/TensorFlow: paints the content "
        "image in the style of the style image(s) by L-BFGS on VGG19 features.",
        epilog="Snapshots are written as OUTPUT-STEM_at_iteration_N.EXT and the loss log as OUTPUT-STEM_log.csv. "
        "To resume an interrupted run, pass its last snapshot or output to --init. Other commands: "
        "'neural-style compare CONTENT STYLE -o FOLDER' runs the PyTorch reference beside this tool "
        "(needs pip install -e .[reference]); 'neural-style benchmark' measures speed and memory; "
        "'neural-style video INPUT STYLE -o OUTPUT' paints a video; 'neural-style batch -o OUTDIR --contents ... "
        "--styles ...' paints many pictures, here or on a Ray cluster. Each has its own --help.",
    )
    parser.add_argument("content", help="content image (photo): JPEG, PNG, WebP, TIFF or BMP")
    parser.add_argument("styles", nargs="+", metavar="style", help="style image(s) (paintings); several are blended")
    parser.add_argument("-o", "--output", default="out.png",
                        help="output image; snapshots and the log go beside it; a .tif is written at 16 bits per "
                        "channel (default: out.png)")
    parser.add_argument("--output-bits", type=int, choices=(8, 16),
                        help="bits per channel of the output: 16 keeps the picture unrounded for printing and editing "
                        "(a .png or .tif; needs the video extra's OpenCV) (default: 16 for .tif, else 8)")
    add_style_flags(parser)
    _add_output_flags(parser.add_argument_group("snapshots and progress"))
    add_common_flags(parser)
    return parser


def _add_output_flags(group: Any) -> None:
    group.add_argument("--timelapse", metavar="PATH",
                       help="also write the run as an animation, streamed as it goes: .gif, .mp4 or .webp (needs the video "
                       "extra) (default: none)")
    group.add_argument("--timelapse-every", type=int, metavar="N",
                       help=f"a timelapse frame every N iterations {_default('timelapse_every')}")
    group.add_argument("--timelapse-fps", type=float, metavar="FPS",
                       help=f"the timelapse's frames per second {_default('timelapse_fps')}")
    group.add_argument("--snapshot-every", type=int, metavar="N",
                       help=f"save a snapshot every N iterations, 0 for none {_default('snapshot_every')}")
    group.add_argument("--no-log", dest="log", action="store_false", help="do not write the CSV loss log")
    group.add_argument("--profile", action="store_true",
                       help="after the run, print where an evaluation's time went at the final size: each layer's "
                       "convolutions, ReLU, pooling, style statistics, casts and copies, against this machine's "
                       "convolution peak (neural-style benchmark --profile measures the same)")
    group.add_argument("--web", nargs="?", const=DEFAULT_WEB_PORT, type=int, metavar="PORT",
                       help=f"show the run live on a local web page, http://127.0.0.1:PORT/ (PORT {DEFAULT_WEB_PORT} "
                       "when not given; 0: any free port), with a Stop button (default: off)")
    group.add_argument("--web-host", metavar="HOST",
                       help=f"address the live view listens on; anything but 127.0.0.1 lets other machines see it "
                       f"{_default('web_host')}")


def command_line(config: StyleConfig) -> str:
    """The command that paints `config` (its images given as paths): the main command with every field that differs
    from the defaults as its flag, so `build_parser().parse_args` of it gives `config` back."""
    defaults = StyleConfig()
    words = [PROG, str(config.content), *map(str, config.styles)]
    if config.output:
        words += ["-o", config.output]
    for action in build_parser()._actions:
        name = action.dest
        if not action.option_strings or name in ("output", "help") or not hasattr(defaults, name):
            continue
        value = getattr(config, name)
        if value == getattr(defaults, name) or (value is None and name != "xla"):
            continue
        if action.nargs == 0:  # a switch: --color-match, or the --xla / --no-xla pair
            if action.const == value:
                words.append(action.option_strings[0])
        elif action.nargs == "+":
            words += [action.option_strings[0], *map(str, value)]
        else:
            words += [action.option_strings[0], shown(value) if not isinstance(value, float) else repr(value)]
    return shlex.join(words)


def main(argv: Optional[Sequence[str]] = None) -> int:
    """The main command; returns the exit status: 0 done, 1 the loss went bad (last good image kept),
    2 bad input, 130/143 interrupted."""
    args = build_parser().parse_args(argv)

    def body(stop: StopOnSignal) -> int:
        config, watch = config_from_args(args)
        result = stylize(config=config, watch=watch, should_stop=stop)
        if stop.received is not None:
            if result.output:
                print(f"{PROG}: interrupted after {result.iterations} iterations; the picture is in {result.output} "
                      f"(continue with --init {result.output})", file=sys.stderr)
            else:
                print(f"{PROG}: interrupted before the first iteration; nothing was written", file=sys.stderr)
        return 1 if result.error else 0

    return run_command(PROG, body)
