"""What the measurements share: interleaved timing (A B A B ..., min and median), the float32 loss of a picture under
the default objective, the sample pairs, and sheets of labelled pictures."""

from __future__ import annotations

import os
import statistics
import time
from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple

import numpy as np
from keras import ops

from neural_style import images
from neural_style.config import StyleConfig
from neural_style.features.network_input import preprocess
from neural_style.features.vgg19 import build_feature_extractor
from neural_style.objective.build import build_objective
from neural_style.samples import sample
from neural_style.plan.run_plan import plan_run
from neural_style.run.request import resolve_request
from neural_style.run.sources import load_sources, prepare_images

# `python -c` code that runs `neural-style` with the arguments after it and then prints, last, its own peak resident
# memory in bytes as "peak_bytes N" (plan.memory.peak_resident_bytes: not the forking parent's).
RUN_REPORTING_PEAK = ("import runpy, sys\n"
                      "from neural_style.plan.memory import peak_resident_bytes\n"
                      "try:\n    runpy.run_module('neural_style', run_name='__main__')\n"
                      "finally:\n    print('peak_bytes', peak_resident_bytes(), file=sys.stderr)\n")


def reported_peak(lines: Sequence[str]) -> float:
    """The peak a RUN_REPORTING_PEAK process printed (NaN where it did not)."""
    return next((float(line.split()[1]) for line in lines if line.startswith("peak_bytes")), float("nan"))


def interleaved_seconds(variants: Dict[str, Callable[[], Any]], rounds: int) -> Dict[str, List[float]]:
    """Time each variant once per round, in turn (A B A B ...), after one untimed warm-up call each."""
    for call in variants.values():
        call()
    times: Dict[str, List[float]] = {name: [] for name in variants}
    for _ in range(rounds):
        for name, call in variants.items():
            start = time.perf_counter()
            call()
            times[name].append(time.perf_counter() - start)
    return times


def min_median(times: Sequence[float]) -> str:
    return f"{min(times):.3f}/{statistics.median(times):.3f}"


def or_na(value: float, spec: str, unit: str = "") -> str:
    """A figure as a table shows it; 'n/a' for one not measured."""
    return "n/a" if value != value else f"{value:{spec}}{unit}"


def noisy_network_image(content_pixels: np.ndarray, seed: Optional[int]) -> Any:
    """The network image the speed measurements evaluate: the content with uniform noise of +-50 grey levels (seeded by
    --seed, else 0), so no evaluation starts at a point the objective favours."""
    noise = np.random.default_rng(seed or 0).uniform(-50, 50, (1,) + content_pixels.shape).astype(np.float32)
    return ops.convert_to_tensor(preprocess(content_pixels) + noise)


def sample_pairs() -> List[Tuple[str, str]]:
    """The shipped samples' pairs (more come from a measurement's --pairs)."""
    return [(sample("chelsea.jpg"), sample("swirls.jpg")), (sample("coffee.jpg"), sample("swirls.jpg"))]


def pairs_from(given: Optional[Sequence[str]]) -> List[Tuple[str, str]]:
    """--pairs CONTENT:STYLE ..., or the sample pairs."""
    return [tuple(pair.split(":", 1)) for pair in given] if given else sample_pairs()  # type: ignore[misc]


def check_fits(pairs: Sequence[Tuple[str, str]], sizes: Sequence[int], **options: Any) -> None:
    """Every pair's run at every size planned as it will run (with `options`), before any measurement: an image that
    cannot be read or a size too large for memory is one line, and nothing is measured or written."""
    for content, style in pairs:
        for size in sizes:
            request = resolve_request(dict(options, size=size), content=content, styles=[style])
            sources = load_sources(request.config)
            plan_run(request.config, request.hardware, sources.content.size, sources.style_sizes)


def float32_loss_function(content: str, style: str, size: int) -> Tuple[Callable[[np.ndarray], float], np.ndarray]:
    """The default objective in float32 at the final size, as a function of a 1 x H x W x 3 network image; and the
    uint8 content at that size: the one score every variant of a measurement is judged by."""
    config = StyleConfig(content=content, styles=[style], size=size, precision="float32", xla=False)
    content_pixels, style_pixels = prepare_images(config)
    objective = build_objective(config, build_feature_extractor(config), content_pixels, style_pixels)
    return (lambda network_image: float(objective.loss_and_gradient(ops.convert_to_tensor(np.asarray(network_image, np.float32)))[0]),
            content_pixels)


def save_sheets(folder: str, prefix: str, rows: List[List[Tuple[str, np.ndarray]]]) -> None:
    """Each row of labelled pictures side by side, as FOLDER/PREFIX_1.png, _2.png, ..."""
    os.makedirs(folder, exist_ok=True)
    for index, row in enumerate(rows):
        images.save_image(os.path.join(folder, f"{prefix}_{index + 1}.png"), images.to_array(images.side_by_side(row)))


__all__ = ["check_fits", "float32_loss_function", "interleaved_seconds", "min_median", "noisy_network_image", "or_na", "pairs_from", "sample_pairs",
           "save_sheets"]
