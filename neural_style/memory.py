"""How much memory a run needs, and the refusal, before any work, of a size that cannot fit."""

from __future__ import annotations

import math
from typing import Optional, Sequence, Tuple

from .errors import NeuralStyleError

# Measured here (README): about 1 GB for TensorFlow and the weights, and about 3.5 KB per pixel for the
# activations kept for the backward pass, plus L-BFGS's float64 history. A margin covers the rest.
BASE_MEMORY_BYTES = 1.2e9
ACTIVATION_BYTES_PER_PIXEL = 4.5e3


def bytes_per_pixel(lbfgs_history: int) -> float:
    """Memory that grows with the pixel count: activations, and L-BFGS's float64 history pairs and
    working vectors (3 values per pixel)."""
    return ACTIVATION_BYTES_PER_PIXEL + 3 * 8 * (2 * lbfgs_history + 8)


def estimated_memory_bytes(pixels: int, lbfgs_history: int) -> float:
    """Rough peak memory of a CPU run on an image of `pixels` pixels."""
    return BASE_MEMORY_BYTES + bytes_per_pixel(lbfgs_history) * pixels


def available_memory_bytes() -> Optional[float]:
    """MemAvailable from /proc/meminfo (Linux), else None."""
    try:
        with open("/proc/meminfo") as stream:
            for line in stream:
                if line.startswith("MemAvailable:"):
                    return float(line.split()[1]) * 1024
    except OSError:
        pass
    return None


def check_memory(size: int, image_sizes: Sequence[Tuple[int, int]], lbfgs_history: int,
                 available: Optional[float] = None) -> None:
    """Refuse a --size whose largest image (content or style, (width, height)) cannot fit in
    `available` bytes (default: this machine's available memory), naming the largest that fits."""
    available = available_memory_bytes() if available is None else available
    if available is None:
        return
    pixels = max(width * height for width, height in image_sizes)
    needed = estimated_memory_bytes(pixels, lbfgs_history)
    if needed <= available:
        return
    # The estimate is linear in the pixel count, and pixels grow with the square of --size.
    largest_pixels = (available - BASE_MEMORY_BYTES) / bytes_per_pixel(lbfgs_history)
    fits = int(size * math.sqrt(largest_pixels / pixels)) if largest_pixels > 0 else 0
    raise NeuralStyleError(
        f"--size {size} needs about {needed / 1e9:.1f} GB of memory but {available / 1e9:.1f} GB is available: "
        + (f"use --size {fits} or less" if fits >= 16 else "free some memory")
    )
