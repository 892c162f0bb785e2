"""High resolution: per output size, seconds per evaluation and the peak resident memory of the whole image evaluated
at once (where it fits in this machine's memory) and in tiles (objective/tiled.py), each in a process of its own,
the two alternating, and the share of the tiled evaluation's pixels that are halo, read twice."""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from typing import Any, Callable, Dict, List

from keras import ops
from PIL import Image

from neural_style.benchmarks.measure import check_fits, min_median
from neural_style.config import DEFAULT_TILE_HALO, StyleConfig
from neural_style.errors import NeuralStyleError
from neural_style.features.network_input import preprocess
from neural_style.features.vgg19 import build_feature_extractor
from neural_style.objective.build import build_objective
from neural_style.objective.tiled import tile_grid
from neural_style.plan.memory import available_memory_bytes, peak_resident_bytes, plan_memory
from neural_style.plan.sizes import plan_sizes
from neural_style.run.sources import prepare_images


def tiled_worker(content: str, style: str, size: int, tile: int, precision: str, evaluations: int) -> None:
    """Run in a process of its own: build the objective at `size` (whole for `tile` 0), evaluate once
    untimed and `evaluations` times timed, and print a JSON line with the seconds and the peak memory."""
    config = StyleConfig(content=content, styles=[style], size=size, precision=precision, xla=False, tile_size=tile)
    content_pixels, style_pixels = prepare_images(config)
    extractor = build_feature_extractor(config)
    objective = build_objective(config, extractor, content_pixels, style_pixels, tile)
    image = ops.convert_to_tensor(preprocess(content_pixels))
    seconds = []
    for index in range(evaluations + 1):
        started = time.perf_counter()
        ops.convert_to_numpy(objective.loss_and_gradient(image)[2])
        if index:
            seconds.append(time.perf_counter() - started)
    print(json.dumps({"seconds": seconds, "peak_bytes": peak_resident_bytes(),
                      "width": content_pixels.shape[1], "height": content_pixels.shape[0]}), flush=True)


def _tiled_measurement(args: argparse.Namespace, size: int, tile: int) -> Dict[str, Any]:
    code = (f"from neural_style.benchmarks.tiled import tiled_worker; tiled_worker({args.content!r}, {args.style!r}, "
            f"{size}, {tile}, {args.precision!r}, 1)")
    process = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                             env=dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3"))
    if process.returncode != 0:
        raise RuntimeError(f"the measurement at {size} px (tile {tile}) failed: {process.stderr[-500:]}")
    return json.loads(process.stdout.strip().splitlines()[-1])


def halo_share(width: int, height: int, tile: int, halo: int) -> float:
    """The share of the pixels a tiled evaluation reads that are halo (read again by a neighbour)."""
    read = sum((rows.end - rows.start) * (columns.end - columns.start)
               for rows, columns in tile_grid(height, width, tile, halo))
    return read / (width * height) - 1.0


def run(args: argparse.Namespace, stop: Callable[[], bool]) -> int:
    """The table (see the module's docstring)."""
    sizes = args.sizes or [1024, 2048, 4096]
    rounds = max(1, args.rounds or 2)
    check_fits([(args.content, args.style)], sizes, tile_size=args.tile_size, precision=args.precision)
    available = available_memory_bytes()
    print(f"{os.cpu_count()} CPUs, {available / 1e9 if available else float('nan'):.1f} GB available; {args.precision}; "
          f"tiles of {args.tile_size} px with a {DEFAULT_TILE_HALO} px halo; each measurement a process of its own, "
          f"whole and tiled alternating, {rounds} rounds; seconds per evaluation as min/median")
    print(f"{'size':>10} {'whole s/eval':>14} {'whole peak':>10} {'tiled s/eval':>14} {'tiled peak':>10} "
          f"{'per pixel':>9} {'halo':>6}", flush=True)
    with Image.open(args.content) as content, Image.open(args.style) as style:
        content_size, style_size = content.size, style.size
    for size in sizes:
        plan = plan_sizes(content_size, [style_size], size)
        width, height = plan.content
        try:
            plan_memory(size, [plan.content, *plan.styles], 10, tile_size=0, available=available)
            variants = {"whole": 0, "tiled": args.tile_size}
        except NeuralStyleError:  # the whole image does not fit here: tiled only
            variants = {"tiled": args.tile_size}
        results: Dict[str, List[Dict[str, Any]]] = {name: [] for name in variants}
        for _ in range(rounds):
            for name, tile in variants.items():
                if stop():
                    return 0
                results[name].append(_tiled_measurement(args, size, tile))
        cells = {}
        for name in ("whole", "tiled"):
            runs = results.get(name)
            times = [t for run in runs for t in run["seconds"]] if runs else []
            cells[name] = ((min_median(times), f"{max(run['peak_bytes'] for run in runs) / 2**30:.1f} GiB")
                           if runs else ("does not fit", "-"))
        ratio = (min(t for run in results["tiled"] for t in run["seconds"])
                 / min(t for run in results["whole"] for t in run["seconds"]) if "whole" in results else float("nan"))
        print(f"{width:>5}x{height:<4} {cells['whole'][0]:>14} {cells['whole'][1]:>10} {cells['tiled'][0]:>14} "
              f"{cells['tiled'][1]:>10} {ratio:>8.2f}x {100 * halo_share(width, height, args.tile_size, DEFAULT_TILE_HALO):>5.0f}%",
              flush=True)
    return 0


__all__ = ["halo_share", "run", "tiled_worker"]
