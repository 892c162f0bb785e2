"""Batches: one batch (2 contents x 4 styles at 128 px, 50 iterations) each way it can run: in one process, in 2 local
worker processes, on Ray started locally, and on a two-node Ray cluster on this machine; each a process of its own,
alternating; wall time (process start to the summary), jobs per hour, and Ray's overhead per job against the local
pool of 2 workers."""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from typing import Callable, Dict, List, Tuple

from neural_style.batch.run import stylize_batch
from neural_style.benchmarks.measure import min_median
from neural_style.samples import sample


BATCH_WAYS = {"1 process": {}, "2 workers": {"workers": 2}, "Ray local": {"ray": "local"},
              "Ray 2 nodes": {"ray": "two-node"}}


def batch_images() -> Tuple[List[str], List[str]]:
    """2 contents and 4 styles: the samples (the photos stand in as paintings too)."""
    contents = [sample("chelsea.jpg"), sample("coffee.jpg")]
    return contents, [sample("swirls.jpg"), *contents, sample("swirls.jpg")]


def batch_way(way: str, outdir: str) -> None:
    """One batch run as `way` (in a process of its own); prints the batch's seconds as JSON."""
    contents, styles = batch_images()
    options = dict(BATCH_WAYS[way])
    cluster = None
    if options.get("ray") == "two-node":
        from ray.cluster_utils import Cluster

        cluster = Cluster(initialize_head=True, head_node_args={"num_cpus": 1, "include_dashboard": False})
        cluster.add_node(num_cpus=1)
        cluster.wait_for_nodes()
        options["ray"] = cluster.address
    started = time.perf_counter()
    result = stylize_batch(contents, styles, outdir, size=128, iterations=50, quiet=True, overwrite=True, **options)
    seconds = time.perf_counter() - started
    if cluster is not None:
        cluster.shutdown()
    print(json.dumps({"seconds": seconds, "done": result.count("done"),
                      "job_seconds": [float(row["seconds"]) for row in result.rows if row["seconds"]]}))


def run(args: argparse.Namespace, stop: Callable[[], bool]) -> int:
    """The table (see the module's docstring)."""
    rounds = max(1, args.rounds or 2)
    contents, styles = batch_images()
    print(f"{len(contents)} contents x {len(styles)} styles at 128 px, 50 iterations; {os.cpu_count()} CPUs; each way "
          f"a process of its own, alternating, {rounds} rounds; wall time from process start, min/median")
    print(f"{'way':>12} {'wall s':>14} {'jobs/hour':>10} {'s/job in task':>14} {'vs 2 workers/job':>17}", flush=True)
    walls: Dict[str, List[float]] = {way: [] for way in BATCH_WAYS}
    tasks: Dict[str, List[float]] = {way: [] for way in BATCH_WAYS}
    with tempfile.TemporaryDirectory() as scratch:
        for _ in range(rounds):
            for way in BATCH_WAYS:
                if stop():
                    return 0
                code = f"from neural_style.benchmarks.batch import batch_way; batch_way({way!r}, {os.path.join(scratch, way)!r})"
                started = time.perf_counter()
                process = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                                         env=dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3"))
                wall = time.perf_counter() - started
                if process.returncode != 0:
                    print(f"{way}: failed: {process.stderr.strip().splitlines()[-1:]}", flush=True)
                    continue
                report = json.loads(process.stdout.strip().splitlines()[-1])
                walls[way].append(wall)
                tasks[way].extend(report["job_seconds"])
    jobs = len(contents) * len(styles)
    # Ray's overhead is measured against the local pool of the same parallelism (2 jobs at a time).
    pool = min(walls["2 workers"]) if walls["2 workers"] else float("nan")
    for way in BATCH_WAYS:
        if not walls[way]:
            continue
        overhead = f"{(min(walls[way]) - pool) / jobs:+.2f}s" if way.startswith("Ray") else "-"
        print(f"{way:>12} {min_median(walls[way]):>14} {jobs / min(walls[way]) * 3600:>10.0f} "
              f"{statistics.median(tasks[way]):>14.2f} {overhead:>17}", flush=True)
    return 0


__all__ = ["BATCH_WAYS", "batch_images", "batch_way", "run"]
