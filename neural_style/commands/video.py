"""`neural-style video INPUT STYLE... -o OUTPUT`: flags -> StyleConfig + VideoOptions -> `stylize_video`.

The image flags are the main command's (flags.add_style_flags), the common flags every command's
(flags.add_common_flags); the video flags are added here.
"""

from __future__ import annotations

import argparse
import sys
from typing import Optional, Sequence

from neural_style.commands.common import OneLineParser, StopOnSignal, run_command
from neural_style.commands.flags import add_common_flags, add_style_flags, config_from_args

PROG = "neural-style video"
VIDEO_FIELDS = ("temporal_weight", "frame_iterations", "max_frames", "start", "every_nth", "resume", "flow")


def build_parser() -> argparse.ArgumentParser:
    from neural_style.video.stylize import VideoOptions

    defaults = VideoOptions()
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
                       help=f"weight of the temporal loss, 0 for none (default: {defaults.temporal_weight:g})")
    group.add_argument("--frame-iterations", type=int, metavar="N",
                       help="iterations of each frame that starts from the previous one; a frame from scratch "
                       f"(the first, or every one with --init content) runs --iterations (default: {defaults.frame_iterations})")
    group.add_argument("--max-frames", type=int, metavar="N", help="stylise at most N frames (default: all)")
    group.add_argument("--start", type=float, metavar="SECONDS", help="start this far into the input (default: 0)")
    group.add_argument("--every-nth", type=int, metavar="N",
                       help="take every Nth frame; the output's frame rate is divided by N (default: 1)")
    group.add_argument("--resume", action="store_true", help="keep the frames already finished in the work folder")
    group.add_argument("--flow", choices=("dis", "farneback"), help=f"OpenCV optical flow (default: {defaults.flow})")
    add_style_flags(parser)
    add_common_flags(parser)
    return parser


def main(argv: Optional[Sequence[str]] = None) -> int:
    """`neural-style video`; returns the exit status: 0 done, 2 bad input, 130/143 interrupted."""
    from neural_style.video.stylize import VideoOptions

    args = build_parser().parse_args(argv)
    given = vars(args)
    video = {name: given.pop(name) for name in VIDEO_FIELDS if name in given}
    init = given.pop("init", None)
    if init is not None:
        video["init"] = "content" if init == "content" else init  # anything else: a one-line error below
    input_path, output = given.pop("input"), given.pop("output")
    given["content"] = None
    options = VideoOptions(**video)

    def body(stop: StopOnSignal) -> int:
        from neural_style.video.stylize import stylize_video

        config, watch = config_from_args(argparse.Namespace(**given))
        result = stylize_video(input_path, config.styles, output, config=config, video=options, watch=watch,
                               should_stop=stop)
        if result.stopped and watch.quiet:  # otherwise stylize_video has said it
            print(f"{PROG}: interrupted; {result.frames} of {result.total_frames} frames are in {result.frames_folder} "
                  "(go on with --resume)", file=sys.stderr)
        return 0

    return run_command(PROG, body, stopping="stopping after the current evaluation; the finished frames are kept "
                       "for --resume")
