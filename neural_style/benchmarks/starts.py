"""Starts: the default optimisation from the content and from the AdaIN picture (`--init adain`) on each pair at equal
budget (--iterations), both final pictures scored by the default objective in float32 at the final size, and the
AdaIN picture alone timed at --size (min/median of --rounds)."""

from __future__ import annotations

import argparse
import os
import time
from typing import Callable

import numpy as np
from neural_style import backends

from neural_style.api import stylize
from neural_style.benchmarks.measure import (check_fits, float32_loss_function, interleaved_seconds, min_median,
                                             pairs_from, save_sheets)
from neural_style.config import StyleConfig
from neural_style.features.network_input import preprocess
from neural_style.feedforward.painting import build_adain, feed_forward_picture
from neural_style.backends.hardware import resolve_device
from neural_style.run.sources import prepare_images


def run(args: argparse.Namespace, stop: Callable[[], bool]) -> int:
    """The default run from the content and from the AdaIN picture, alternating, on each pair; see the docstring."""
    pairs = pairs_from(args.pairs)
    size = args.size
    check_fits(pairs, [size], device=args.device)
    seed = 1 if args.seed is None else args.seed
    print(f"{len(pairs)} pairs at {size} px, {args.iterations} iterations, seed {seed}; float32 loss of the default "
          "objective at the final size", flush=True)
    print(f"{'content / style':<36} {'start':<8} {'loss':>9} {'evaluations':>12} {'seconds':>8}", flush=True)
    painter = build_adain()
    sheet_rows, wins = [], 0
    for content, style in pairs:
        if stop():
            return 0
        loss_of, content_pixels = float32_loss_function(content, style, size)
        name = f"{os.path.basename(content)} / {os.path.basename(style)}"
        finals = {}
        for start in ("content", "adain"):
            started = time.perf_counter()
            result = stylize(content, style, size=size, iterations=args.iterations, init=start, seed=seed,
                             snapshot_every=0, quiet=True, should_stop=stop, device=args.device,
                             memory_budget=args.memory_budget)
            seconds = time.perf_counter() - started
            finals[start] = (loss_of(preprocess(result.image)), result.image)
            print(f"{name:<36} {start:<8} {finals[start][0]:>9.4f} {result.evaluations:>12} {seconds:>8.1f}",
                  flush=True)
        wins += finals["adain"][0] < finals["content"][0]
        config = StyleConfig(content=content, styles=[style], size=size)
        pixels, style_pixels = prepare_images(config)
        alone = np.clip(np.rint(feed_forward_picture(config, painter, pixels, style_pixels, None)), 0, 255)
        sheet_rows.append([("content", content_pixels), ("style", style_pixels[0]),
                           ("AdaIN alone", alone.astype(np.uint8)),
                           (f"from content {finals['content'][0]:.3f}", finals["content"][1]),
                           (f"from AdaIN {finals['adain'][0]:.3f}", finals["adain"][1])])
    print(f"the AdaIN start ended lower on {wins} of {len(pairs)} pairs", flush=True)
    with backends.device_scope(resolve_device(args.device)):
        seconds = interleaved_seconds({"adain": lambda: feed_forward_picture(config, painter, pixels, style_pixels,
                                                                              None)}, args.rounds or 5)["adain"]
    print(f"AdaIN alone at {pixels.shape[1]}x{pixels.shape[0]}: {min_median(seconds)} s per picture (min/median)",
          flush=True)
    if args.output:
        save_sheets(args.output, "starts", sheet_rows)
    return 0


__all__ = ["run"]
