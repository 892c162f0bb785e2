"""The studio's overhead: a plain run against the studio's Paint (its stream consumed as the page does) with the same
settings and network, interleaved, seconds per evaluation."""

from __future__ import annotations

import argparse
import json
import tempfile
from typing import Callable, Dict, List

from neural_style.api import stylize
from neural_style.benchmarks.measure import check_fits, min_median
from neural_style.config import SILENT_WATCH, StyleConfig
from neural_style.studio.app import Studio, StudioForm
from neural_style.studio.gallery import Gallery


def run(args: argparse.Namespace, stop: Callable[[], bool], command_line: Callable[[StyleConfig], str]) -> int:
    """Seconds per evaluation of a plain run and of the studio's Paint, interleaved, min/median; `command_line` is
    what the studio records for each picture (commands/stylize.command_line, given by the command)."""
    rounds = max(1, args.rounds or 3)
    check_fits([(args.content, args.style)], [args.size])
    with tempfile.TemporaryDirectory() as gallery:
        studio = Studio(Gallery(gallery), command_line)
        form = StudioForm(content_upload=args.content, style_uploads=[args.style], size=args.size,
                          iterations=args.iterations, seed=1 if args.seed is None else args.seed)
        config = form.config()
        quiet = SILENT_WATCH
        extractor = studio.extractors.for_config(config)
        stylize(config=config.with_options(iterations=2), watch=quiet, extractor=extractor)  # traced once for both
        print(f"{config.size} px, {config.iterations} iterations, {rounds} rounds interleaved; seconds per evaluation, "
              "min/median", flush=True)
        seconds: Dict[str, List[float]] = {"plain run": [], "studio Paint": []}
        for _ in range(rounds):
            if stop():
                return 0
            result = stylize(config=config, watch=quiet, extractor=extractor, should_stop=stop)
            seconds["plain run"].append(result.seconds / max(1, result.evaluations))
            frames = 0
            for *_, entry in studio.paint(form):
                frames += 1
            with open(entry.settings) as stream:
                run = json.load(stream)["run"]
            seconds["studio Paint"].append(run["seconds"] / max(1, run["evaluations"]))
            print(f"  plain {seconds['plain run'][-1]:.4f}, studio {seconds['studio Paint'][-1]:.4f} ({frames} frames)",
                  flush=True)
    for way, values in seconds.items():
        print(f"{way:>13} {min_median(values)}", flush=True)
    return 0


__all__ = ["run"]
