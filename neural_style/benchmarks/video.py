"""Video: independent frames against the temporal mode, flicker and seconds per frame."""

from __future__ import annotations

import argparse
import os
import tempfile
from typing import Callable

from neural_style import images
from neural_style.benchmarks.measure import min_median
from neural_style.video.optical_flow import flicker
from neural_style.plan.run_plan import plan_run
from neural_style.run.request import resolve_request
from neural_style.video.stylize import (FRAME_PATTERN, VideoOptions, probe_input, read_input, resize_frames,
                                       stylize_video)


def run(args: argparse.Namespace, stop: Callable[[], bool]) -> int:
    """Independent frames (each from its own input frame, --iterations each, no temporal loss) against
    the temporal mode (each later frame from the previous one, half the iterations) at each temporal
    weight: flicker (optical_flow.flicker) and seconds per frame after the first."""
    clip, style = args.video
    size = args.size if args.size != 512 else 256
    frame_size, _, _ = probe_input(clip, VideoOptions(max_frames=args.frames))
    request = resolve_request({"size": size}, content=clip, styles=[style])
    plan_run(request.config, request.hardware, frame_size, [images.load_image(style, "style").size])
    inputs = resize_frames(read_input(clip, VideoOptions(max_frames=args.frames))[0], size)
    modes = {"independent": VideoOptions(temporal_weight=0.0, frame_start="content", max_frames=args.frames)}
    for weight in args.temporal_weights:
        modes[f"temporal {weight:g}"] = VideoOptions(temporal_weight=weight, max_frames=args.frames,
                                                     frame_iterations=args.iterations // 2)
    print(f"{len(inputs)} frames at {inputs[0].shape[1]}x{inputs[0].shape[0]}; a frame from scratch runs "
          f"{args.iterations} iterations, a frame from the previous one {args.iterations // 2}")
    print(f"{'mode':>16} {'flicker':>8} {'first s':>8} {'later s/frame':>14}", flush=True)
    with tempfile.TemporaryDirectory() as scratch:
        for name, options in modes.items():
            if stop():
                return 0
            folder = os.path.join(args.output or scratch, name.replace(" ", "_").replace(".", "p"))
            result = stylize_video(clip, style, folder, video=options, size=size, iterations=args.iterations,
                                   quiet=True, should_stop=stop)
            outputs = [images.to_array(images.load_image(os.path.join(folder, FRAME_PATTERN.format(i + 1))))
                       for i in range(result.frames)]
            later = result.seconds_per_frame[1:]
            print(f"{name:>16} {flicker(outputs, inputs[:len(outputs)]):>8.2f} {result.seconds_per_frame[0]:>8.1f} "
                  f"{min_median(later) if later else 'n/a':>14}", flush=True)
    return 0


__all__ = ["run"]
