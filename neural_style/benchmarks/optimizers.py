"""The two L-BFGS optimisers (`benchmark --optimizers`): scipy's L-BFGS-B on the host (`lbfgs`) and the bounded L-BFGS
kept on the device (`lbfgs-device`), at each size and precision, each run a fixed number of iterations from the photo
at one scale, interleaved (A B A B ...); per iteration, the seconds split into the evaluations' and the optimiser's
own (everything else: scipy's routine and its float64 copies, or the device's vector arithmetic), min/median over
the rounds, and the evaluations per iteration. `--pairs` and `--iterations` run the quality comparison instead: each
pair from the photo and from the AdaIN start, the final loss of each optimiser's picture evaluated the same way
(float32, the default objective, the final size), with a sheet of the pictures side by side."""

from __future__ import annotations

import argparse
import os
import time
from typing import Any, Callable, Dict, List, Tuple

import numpy as np

from neural_style.api import stylize
from neural_style.benchmarks.measure import check_fits, float32_loss_function, min_median, pairs_from, save_sheets
from neural_style.features.network_input import preprocess
from neural_style.optim.evaluator import Evaluator

OPTIMIZERS_COMPARED = ("lbfgs", "lbfgs-device")
SPLIT_SIZES = (512, 2048)
SPLIT_ITERATIONS = {512: 20, 2048: 5}


class TimedEvaluations:
    """Adds up the seconds spent inside evaluations while installed (Evaluator.evaluate_tensor wrapped)."""

    def __init__(self) -> None:
        self.seconds = 0.0
        self._real = Evaluator.evaluate_tensor

    def __enter__(self) -> "TimedEvaluations":
        real, timed = self._real, self

        def evaluate(evaluator: Evaluator, image: Any) -> Any:
            started = time.perf_counter()
            try:
                return real(evaluator, image)
            finally:
                timed.seconds += time.perf_counter() - started

        Evaluator.evaluate_tensor = evaluate  # type: ignore[assignment]
        return self

    def __exit__(self, *exc: object) -> None:
        Evaluator.evaluate_tensor = self._real  # type: ignore[assignment]


def split_run(content: str, style: str, size: int, precision: str, optimizer: str, iterations: int
              ) -> Tuple[float, float, float]:
    """(evaluation seconds per iteration, optimiser seconds per iteration, evaluations per iteration) of one run, its
    first iteration (tracing) left out."""
    marks: List[Tuple[int, int, float, float]] = []
    with TimedEvaluations() as timed:
        def mark(step: Any) -> None:
            marks.append((step.iteration, step.evaluations, time.perf_counter(), timed.seconds))

        stylize(content, style, size=size, iterations=iterations + 1, precision=precision, optimizer=optimizer,
                init="content", scales=1, tolerance=0.0, tile_size=0, quiet=True, snapshot_every=0, on_step=mark)
    (first, first_evaluations, start, evaluating), (last, evaluations, end, evaluated) = marks[0], marks[-1]
    count = max(1, last - first)
    evaluation = (evaluated - evaluating) / count
    return evaluation, (end - start) / count - evaluation, (evaluations - first_evaluations) / count


def run_split(args: argparse.Namespace, stop: Callable[[], bool]) -> int:
    """The split table (see the module's docstring)."""
    # Largest first: a process that has run the small sizes holds memory the largest's plan then lacks.
    sizes = sorted(args.sizes or SPLIT_SIZES, reverse=True)
    rounds = max(1, args.rounds or 2)
    check_fits([(args.content, args.style)], sizes, tile_size=0)
    print(f"per iteration, seconds in evaluations and in the optimiser itself, min/median of {rounds} interleaved "
          "rounds; one scale from the photo, the first iteration left out", flush=True)
    print("| size | precision | optimizer | evaluation s/it | optimiser s/it | optimiser share | evaluations/it |\n"
          "| --- | --- | --- | --- | --- | --- | --- |", flush=True)
    for size in sizes:
        iterations = args.iterations if args.iterations != 100 else SPLIT_ITERATIONS.get(size, 10)
        for precision in args.precisions:
            splits: Dict[str, List[Tuple[float, float, float]]] = {name: [] for name in OPTIMIZERS_COMPARED}
            for _ in range(rounds):
                for optimizer in OPTIMIZERS_COMPARED:
                    if stop():
                        return 0
                    splits[optimizer].append(split_run(args.content, args.style, size, precision, optimizer,
                                                       iterations))
            for optimizer, runs in splits.items():
                evaluation = [run[0] for run in runs]
                own = [run[1] for run in runs]
                share = 100 * min(own) / (min(own) + min(evaluation))
                print(f"| {size} | {precision} | {optimizer} | {min_median(evaluation)} | {min_median(own)} | "
                      f"{share:.0f}% | {np.median([run[2] for run in runs]):.2f} |", flush=True)
    return 0


def run_quality(args: argparse.Namespace, stop: Callable[[], bool]) -> int:
    """Each pair, both starts, both precisions: each optimiser's final float32 loss and evaluations per iteration."""
    pairs = pairs_from(args.pairs)
    size, iterations = args.size, args.iterations
    check_fits(pairs, [size])
    seed = 1 if args.seed is None else args.seed
    print(f"{len(pairs)} pairs at {size} px, {iterations} iterations (coarse-to-fine, the default scales), seed {seed}; "
          "the final picture's loss under the default objective in float32 at the final size", flush=True)
    print("| pair | start | precision | lbfgs loss | lbfgs-device loss | device vs scipy | evaluations/it "
          "(scipy, device) |\n| --- | --- | --- | --- | --- | --- | --- |", flush=True)
    sheet_rows = []
    for content, style in pairs:
        loss_of, content_pixels = float32_loss_function(content, style, size)
        name = f"{os.path.basename(content)} / {os.path.basename(style)}"
        for start in ("content", "adain"):
            for precision in args.precisions:
                results = {}
                for optimizer in OPTIMIZERS_COMPARED:
                    if stop():
                        return 0
                    result = stylize(content, style, size=size, iterations=iterations, init=start, seed=seed,
                                     precision=precision, optimizer=optimizer, quiet=True, snapshot_every=0)
                    results[optimizer] = (loss_of(preprocess(result.image)), result.evaluations / max(1, result.iterations),
                                          result.image)
                scipy, device = results["lbfgs"], results["lbfgs-device"]
                print(f"| {name} | {start} | {precision} | {scipy[0]:.4f} | {device[0]:.4f} | "
                      f"{100 * (device[0] / scipy[0] - 1):+.1f}% | {scipy[1]:.2f}, {device[1]:.2f} |", flush=True)
                if precision == args.precisions[0]:
                    sheet_rows.append([("content", content_pixels),
                                       (f"lbfgs, {start}, {scipy[0]:.3f}", scipy[2]),
                                       (f"lbfgs-device, {start}, {device[0]:.3f}", device[2])])
    if args.output:
        save_sheets(args.output, "optimizers", sheet_rows)
    return 0


def run(args: argparse.Namespace, stop: Callable[[], bool]) -> int:
    """--pairs: the quality comparison; else the split of an iteration's seconds."""
    return run_quality(args, stop) if args.pairs else run_split(args, stop)


__all__ = ["OPTIMIZERS_COMPARED", "TimedEvaluations", "run", "run_quality", "run_split", "split_run"]
