"""`neural-style video INPUT STYLE... -o OUTPUT`: flags -> StyleConfig + VideoOptions -> `stylize_video`.

The image flags are the main command's (flags.add_style_flags), the common flags every command's
(flags.add_common_flags); the video flags are added here, one per `VideoOptions` field, with its defaults.
"""

from __future__ import annotations

import argparse
import sys
from typing import Optional, Sequence

from neural_style.commands.common import OneLineParser, StopOnSignal, run_command
from neural_style.commands.flags import add_common_flags, add_style_flags, config_from_args
from neural_style.video.stylize import FLOWS, FRAME_STARTS, VIDEO_FIELDS, VideoOptions, stylize_video

PROG = "neural-style video"
DEFAULTS = VideoOptions()


def build_parser() -> argparse.ArgumentParser:
    parser = OneLineParser(
        prog=PROG, argument_default=argparse.SUPPRESS,
        description="Video style transfer with temporal consistency (Ruder et al. 2016): each frame after the first "
        "starts from the previous stylised frame warped by the optical flow, and a temporal loss keeps it there "
        "where the flow can be trusted. Finished frames are kept in OUTPUT-STEM_frames/ so --resume goes on "
        "after an interruption.")
    parser.add_argument("input", help="input video (MP4, GIF, WebM, ...) or a folder of images")
    parser.add_argument("styles", nargs="+", metavar="style", help="style image(s)")
    parser.add_argument("-o", "--output", required=True,
                        help="output: .mp4, .gif, .webp, or a folder name for PNG frames only")
    group = parser.add_argument_group("video")
    group.add_argument("--temporal-weight", type=float, metavar="W",
                       help=f"weight of the temporal loss, 0 for none (default: {DEFAULTS.temporal_weight:g})")
    group.add_argument("--frame-start", choices=FRAME_STARTS,
                       help="where each frame after the first starts: 'previous', the previous stylised frame warped "
                       "by the optical flow; 'content', as the first frame does (--init), so with --temporal-weight 0 "
                       f"the frames are independent (default: {DEFAULTS.frame_start})")
    group.add_argument("--frame-iterations", type=int, metavar="N",
                       help="iterations of each frame that starts from the previous one; a frame from scratch "
                       f"(the first, or every one with --frame-start content) runs --iterations "
                       f"(default: {DEFAULTS.frame_iterations})")
    group.add_argument("--max-frames", type=int, metavar="N", help="stylise at most N frames (default: all)")
    group.add_argument("--start", type=float, metavar="SECONDS",
                       help=f"start this far into the input (default: {DEFAULTS.start:g})")
    group.add_argument("--every-nth", type=int, metavar="N",
                       help=f"take every Nth frame; the output's frame rate is divided by N (default: {DEFAULTS.every_nth})")
    group.add_argument("--resume", action="store_true", help="keep the frames already finished in the work folder")
    group.add_argument("--flow", choices=FLOWS, help=f"OpenCV optical flow (default: {DEFAULTS.flow})")
    add_style_flags(parser)
    add_common_flags(parser)
    return parser


def main(argv: Optional[Sequence[str]] = None) -> int:
    """`neural-style video`; returns the exit status: 0 done, 2 bad input, 130/143 interrupted."""
    args = build_parser().parse_args(argv)
    given = vars(args)
    options = VideoOptions(**{name: given.pop(name) for name in VIDEO_FIELDS if name in given})
    input_path, output = given.pop("input"), given.pop("output")
    given["content"] = None

    def body(stop: StopOnSignal) -> int:
        config, watch = config_from_args(argparse.Namespace(**given))
        result = stylize_video(input_path, config.styles, output, config=config, video=options, watch=watch,
                               should_stop=stop)
        if result.stopped and watch.quiet:  # otherwise stylize_video has said it
            print(f"{PROG}: interrupted; {result.frames} of {result.total_frames} frames are in {result.frames_folder} "
                  "(go on with --resume)", file=sys.stderr)
        return 0

    return run_command(PROG, body, stopping="stopping after the current evaluation; the finished frames are kept "
                       "for --resume")
