"""The coarse-to-fine schedule: optimise a small picture first, then each larger one from the previous result
upsampled, with every term's targets recomputed at every size (pipeline.py runs it).

A small scale costs a fraction of the final one per iteration (a quarter at half the side), and it
settles the large structures that the final scale would otherwise spend most of its iterations on.
Iteration numbers, evaluations and seconds count on across scales; the budget (--iterations) is split
over the scales, and what a scale leaves unused (it converged) passes to the next.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import List

from neural_style.config import StyleConfig, is_file_start

# The first scale's longest side is at most this (VGG19 still sees every structure of a photo at 256 px),
# and each scale is sqrt(2) times the previous one (twice the pixels). Measured at 512 px (docs/performance.md):
# with factor 2 (256 -> 512) the upsampled picture starts the last scale at 10x its coarse loss, with
# factor sqrt(2) at 3.5x, and after the same 500 iterations the final loss was 1.5% lower.
FIRST_SCALE_AT_MOST = 256
SCALE_FACTOR = math.sqrt(2.0)
# The share of the budget each scale may use, coarsest first, before rollover; measured (docs/performance.md).
FINAL_SCALE_SHARE = 0.5


@dataclass(frozen=True)
class Scale:
    """One size of a coarse-to-fine run."""

    index: int  # 1-based
    count: int
    size: int  # --size at this scale (the longest side; the shorter one for the reference sizing)
    iterations: int  # this scale's share of the budget, before what earlier scales leave over

    @property
    def label(self) -> str:
        return f"scale {self.index}/{self.count}"


def scale_count(config: "StyleConfig") -> int:
    """--scales, or for 'auto' as many as it takes to start at FIRST_SCALE_AT_MOST px or less,
    growing by SCALE_FACTOR up to --size. A run resumed from an image file (--init FILE) stays at one scale: its
    picture already has the final size's detail."""
    if config.scales != "auto":
        return int(config.scales)
    if is_file_start(config.init) or config.sizing == "reference":
        return 1
    return 1 + max(0, math.ceil(math.log(config.size / FIRST_SCALE_AT_MOST, SCALE_FACTOR) - 1e-9))


def scale_sizes(size: int, count: int) -> List[int]:
    """`count` sizes growing by SCALE_FACTOR and ending at `size`: 512 over 3 is [256, 362, 512]."""
    if count == 1:
        return [size]
    return [max(16, round(size / SCALE_FACTOR ** (count - 1 - index))) for index in range(count)]


def split_iterations(total: int, count: int) -> List[int]:
    """The budget over `count` scales: FINAL_SCALE_SHARE to the last, the rest evenly to the others."""
    if count == 1:
        return [total]
    final = max(1, round(total * FINAL_SCALE_SHARE))
    rest = total - final
    coarse = [rest // (count - 1) + (1 if index < rest % (count - 1) else 0) for index in range(count - 1)]
    return coarse + [final]


def plan_scales(config: "StyleConfig") -> List[Scale]:
    """The scales of a run, coarsest first."""
    count = min(scale_count(config), config.iterations)
    sizes = scale_sizes(config.size, count)
    return [Scale(index + 1, count, size, iterations)
            for index, (size, iterations) in enumerate(zip(sizes, split_iterations(config.iterations, count)))]


__all__ = ["FINAL_SCALE_SHARE", "FIRST_SCALE_AT_MOST", "SCALE_FACTOR", "Scale", "plan_scales", "scale_count", "scale_sizes",
           "split_iterations"]
