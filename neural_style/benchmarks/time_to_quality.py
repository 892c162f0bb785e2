"""Time to quality: the single-size float32 baseline (300 L-BFGS iterations, every one of them, from the photo), the
default (from the AdaIN picture), and the default from the photo (`--init content`) on the same images in one process;
each one's wall time (model loading included), the loss of each final picture evaluated in float32 at the final size,
its style and content distances by measures the loss does not optimise (strength.Scorer: the style at the VGG19 layers
the loss does not read, the content moved at conv4_2), and when the default and the photo start reached the baseline's
final loss, and the baseline's style distance with no more content moved than the baseline's."""

from __future__ import annotations

import argparse
import json
import os
import time
from typing import Any, Callable, Dict, List, Optional, Tuple

import numpy as np

from neural_style import images
from neural_style.api import stylize
from neural_style.benchmarks.measure import check_fits, float32_loss_function
from neural_style.benchmarks.strength import Scorer
from neural_style.features.network_input import deprocess, preprocess
from neural_style.files import write_json

BASELINE = dict(precision="float32", scales=1, tolerance=0.0, xla=False, iterations=300, init="content")


def time_to_quality(content: str, style: str, size: int, stop: Callable[[], bool],
                    say: Callable[[str], None] = print, iterations: int = 300) -> Dict[str, Any]:
    """Baseline and default runs, one after the other in this process; see the module's docstring.
    During the default runs, the float32 loss and the other measures are evaluated every 5 iterations at the final
    size (that time is left out of their clocks) to find when they reached the baseline's."""
    loss_of, content_pixels = float32_loss_function(content, style, size)
    scorer = Scorer(content, style, size)
    height, width = content_pixels.shape[:2]
    runs: Dict[str, Any] = {}
    for name, options in (("baseline", dict(BASELINE, iterations=iterations)), ("default", {"iterations": iterations}),
                          ("content start", {"iterations": iterations, "init": "content"})):
        say(f"{name}: {json.dumps(options) if options else 'the defaults'} ...")
        trace: List[Tuple[float, float]] = []
        overhead = [0.0]
        started = time.perf_counter()

        def track(step: Any, trace: list = trace, overhead: list = overhead, started: float = started) -> None:
            if (step.width, step.height) == (width, height) and step.iteration % 5 == 0:
                begun = time.perf_counter()
                network_image = np.asarray(step.image).reshape(1, height, width, 3)
                picture = deprocess(network_image)
                trace.append((begun - started - overhead[0], loss_of(network_image), scorer.distance(picture),
                              scorer.content_moved(picture)))
                overhead[0] += time.perf_counter() - begun

        result = stylize(content, style, size=size, snapshot_every=0, quiet=True, should_stop=stop,
                         on_step=track if name != "baseline" else None, **options)
        seconds = time.perf_counter() - started - overhead[0]
        picture = np.asarray(result.image)[..., :3]
        runs[name] = {"result": result, "seconds": seconds, "trace": trace,
                      "float32_loss": loss_of(preprocess(picture)), "style_distance": scorer.distance(picture),
                      "content_moved": scorer.content_moved(picture)}
        say(f"  {seconds:.1f} s, {result.iterations} iterations, {result.evaluations} evaluations, "
            f"float32 loss {runs[name]['float32_loss']:.4f}, style distance {runs[name]['style_distance']:.4g}, "
            f"content moved {runs[name]['content_moved']:.4f} ({result.stop_reason})")
        if stop():
            break
    return runs


def summarise_time_to_quality(runs: Dict[str, Any], content: str, style: str, size: int) -> Dict[str, Any]:
    baseline, default = runs["baseline"], runs["default"]
    target = baseline["float32_loss"]

    def reached(run: Dict[str, Any]) -> Optional[float]:
        seconds = next((seconds for seconds, loss, _, _ in run["trace"] if loss <= target), None)
        return run["seconds"] if seconds is None and run["float32_loss"] <= target else seconds

    def reached_distances(run: Dict[str, Any]) -> Optional[float]:
        # The baseline's style distance, with no more of the photo's content moved than the baseline moved it.
        style, moved = baseline["style_distance"], baseline["content_moved"]
        seconds = next((seconds for seconds, _, distance, content_moved in run["trace"]
                        if distance <= style and content_moved <= moved), None)
        final = run["style_distance"] <= style and run["content_moved"] <= moved
        return run["seconds"] if seconds is None and final else seconds

    def described(run: Dict[str, Any]) -> Dict[str, Any]:
        result = run["result"]
        return {"seconds": run["seconds"], "float32_loss": run["float32_loss"], "iterations": result.iterations,
                "evaluations": result.evaluations, "stop_reason": result.stop_reason,
                "precision": result.precision, "scales": result.config.scales,
                "tolerance": result.config.tolerance, "style_distance": run["style_distance"],
                "content_moved": run["content_moved"]}

    summary = {
        "content": content, "style": style, "size": size,
        "baseline": described(baseline), "default": described(default),
        "wall_time_ratio": baseline["seconds"] / default["seconds"],
        "default_loss_vs_baseline": default["float32_loss"] / target - 1.0,
        "default_reached_baseline_loss_after_seconds": reached(default),
        "default_reached_baseline_distances_after_seconds": reached_distances(default),
    }
    for key in ("default_reached_baseline_loss_after_seconds", "default_reached_baseline_distances_after_seconds"):
        if summary[key]:
            summary[key.replace("_after_seconds", "_sooner")] = baseline["seconds"] / summary[key]
    if "content start" in runs:
        photo = runs["content start"]
        summary.update({"content_start": described(photo),
                        "content_start_loss_vs_baseline": photo["float32_loss"] / target - 1.0,
                        "content_start_reached_baseline_loss_after_seconds": reached(photo),
                        "content_start_reached_baseline_distances_after_seconds": reached_distances(photo)})
    return summary


def run(args: argparse.Namespace, stop: Callable[[], bool]) -> int:
    """The three runs on --time-to-quality CONTENT STYLE at --size; their pictures and summary in -o FOLDER."""
    content, style = args.time_to_quality
    check_fits([(content, style)], [args.size], device=args.device)
    if args.output:
        os.makedirs(args.output, exist_ok=True)
    runs = time_to_quality(content, style, args.size, stop, say=(lambda text: None) if args.quiet else print,
                           iterations=BASELINE["iterations"])
    if stop() or "content start" not in runs:
        return 0
    summary = summarise_time_to_quality(runs, content, style, args.size)
    print(json.dumps(summary, indent=2))
    if args.output:
        baseline, default = runs["baseline"], runs["default"]
        sheet = images.side_by_side([
            (f"baseline: float32, 1 scale, {BASELINE['iterations']} it., {baseline['seconds']:.0f} s, loss {baseline['float32_loss']:.2f}",
             baseline["result"].image),
            (f"default: {default['seconds']:.0f} s, loss {default['float32_loss']:.2f}", default["result"].image),
            (f"--init content: {runs['content start']['seconds']:.0f} s, "
             f"loss {runs['content start']['float32_loss']:.2f}", runs["content start"]["result"].image),
        ])
        images.save_image(os.path.join(args.output, "time_to_quality.png"), np.asarray(sheet))
        images.save_image(os.path.join(args.output, "baseline.png"), baseline["result"].image)
        images.save_image(os.path.join(args.output, "default.png"), default["result"].image)
        write_json(os.path.join(args.output, "summary.json"), summary)
    return 0


__all__ = ["BASELINE", "run", "summarise_time_to_quality", "time_to_quality"]
