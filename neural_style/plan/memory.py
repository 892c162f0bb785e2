"""How much memory a run needs, where it is measured for each kind of device, and the refusal, before any work, of
a size that cannot fit."""

from __future__ import annotations

import math
import sys
from dataclasses import dataclass
from typing import Any, Optional, Sequence, Tuple

from neural_style.errors import NeuralStyleError
from neural_style.hardware import Hardware

# Measured here (docs/high-resolution.md): about 1 GB for TensorFlow and the weights, and about 3.5 KB per pixel for the
# activations kept for the backward pass, plus L-BFGS's float64 history. A margin covers the rest.
BASE_MEMORY_BYTES = 1.2e9
ACTIVATION_BYTES_PER_PIXEL = 4.5e3
# A tiled run (objective/tiled.py) keeps activations for one tile only; what stays the whole image's
# size besides L-BFGS: the image and its gradient in float32 and float64, the content targets, copies.
WHOLE_IMAGE_BYTES_PER_PIXEL = 200.0
# Tile sizes --tile-size auto tries, largest first: larger tiles recompute less halo.
AUTO_TILE_SIZES = (2048, 1536, 1024, 768, 512, 384, 256)


def lbfgs_bytes_per_pixel(lbfgs_history: int) -> float:
    """L-BFGS's float64 history pairs and working vectors, 3 values per pixel."""
    return 3 * 8 * (2 * lbfgs_history + 8)


def bytes_per_pixel(lbfgs_history: int) -> float:
    """Memory that grows with the pixel count of an untiled run: activations and L-BFGS."""
    return ACTIVATION_BYTES_PER_PIXEL + lbfgs_bytes_per_pixel(lbfgs_history)


def estimated_memory_bytes(pixels: int, lbfgs_history: int) -> float:
    """Rough peak memory of a CPU run on an image of `pixels` pixels."""
    return BASE_MEMORY_BYTES + bytes_per_pixel(lbfgs_history) * pixels


def tiled_memory_bytes(pixels: int, tile: int, halo: int, lbfgs_history: int) -> float:
    """Rough peak memory of a CPU run whose output has `pixels` pixels, evaluated in `tile` px tiles
    (style images, read tile by tile without a backward pass, add nothing that lasts)."""
    return (BASE_MEMORY_BYTES + ACTIVATION_BYTES_PER_PIXEL * (tile + 2 * halo) ** 2
            + (WHOLE_IMAGE_BYTES_PER_PIXEL + lbfgs_bytes_per_pixel(lbfgs_history)) * pixels)


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


def available_for(hardware: Hardware, host: Optional[float] = None) -> Optional[float]:
    """The memory a run on `hardware` is planned against, in bytes: on a CPU, the host's (`host`, else this machine's
    available memory); on a GPU, unknown (None: nothing is refused or tiled), because TensorFlow reports a card's
    memory only once it runs. The one rule per device kind, for stills, video frames and batch jobs alike."""
    if hardware.on_gpu:
        return None
    return host if host is not None else available_memory_bytes()


def peak_resident_bytes() -> Optional[float]:
    """This process's peak resident memory so far (None where the platform does not say)."""
    try:
        import resource
    except ImportError:  # Windows
        return None
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return float(peak) * (1 if sys.platform == "darwin" else 1024)  # bytes on macOS, KiB on Linux


@dataclass(frozen=True)
class MemoryPlan:
    """How one size of a run is evaluated: whole (tile 0) or in tiles, and what that needs."""

    tile: int
    needed: float  # estimated peak bytes
    untiled_needed: float
    available: Optional[float]

    def describe(self) -> str:
        """What the start line says about a tiled size."""
        text = f"{self.tile} px tiles, about {self.needed / 1e9:.1f} GB"
        if self.available is not None and self.untiled_needed > self.available:
            text += (f" (whole it needs about {self.untiled_needed / 1e9:.1f} GB, "
                     f"{self.available / 1e9:.1f} GB is available)")
        return text


def plan_memory(size: int, image_sizes: Sequence[Tuple[int, int]], lbfgs_history: int, tile_size: Any = "auto",
                halo: int = 64, available: Optional[float] = None) -> MemoryPlan:
    """Whether images of `image_sizes` ((width, height): the content, then the styles) at `--size size` are evaluated
    whole or in tiles, refusing before any work a size that cannot fit in `available` bytes (None: unknown, so
    nothing is refused).
    `tile_size` 0 never tiles, a number tiles in that size where the image is larger, and 'auto' tiles
    only where the whole image does not fit, in the largest of AUTO_TILE_SIZES that does."""
    pixels = max(width * height for width, height in image_sizes)
    output_pixels = image_sizes[0][0] * image_sizes[0][1]
    longest = max(max(width, height) for width, height in image_sizes)
    untiled = estimated_memory_bytes(pixels, lbfgs_history)
    if tile_size == "auto":
        if available is None or untiled <= available:
            return MemoryPlan(0, untiled, untiled, available)
        for tile in AUTO_TILE_SIZES:
            needed = tiled_memory_bytes(output_pixels, tile, halo, lbfgs_history)
            if tile < longest and needed <= available:
                return MemoryPlan(tile, needed, untiled, available)
        tile = AUTO_TILE_SIZES[-1]
    else:
        tile = 0 if tile_size >= longest else tile_size
    needed = untiled if tile == 0 else tiled_memory_bytes(output_pixels, tile, halo, lbfgs_history)
    if available is None or needed <= available:
        return MemoryPlan(tile, needed, untiled, available)
    raise NeuralStyleError(_does_not_fit(size, pixels if tile == 0 else output_pixels, tile, halo, lbfgs_history,
                                         needed, available, tile_size))


def _does_not_fit(size: int, pixels: int, tile: int, halo: int, lbfgs_history: int, needed: float,
                  available: float, tile_size: Any) -> str:
    # The estimate is linear in the pixel count, and pixels grow with the square of --size.
    if tile == 0:
        largest_pixels = (available - BASE_MEMORY_BYTES) / bytes_per_pixel(lbfgs_history)
    else:
        largest_pixels = ((available - BASE_MEMORY_BYTES - ACTIVATION_BYTES_PER_PIXEL * (tile + 2 * halo) ** 2)
                          / (WHOLE_IMAGE_BYTES_PER_PIXEL + lbfgs_bytes_per_pixel(lbfgs_history)))
    fits = int(size * math.sqrt(largest_pixels / pixels)) if largest_pixels > 0 else 0
    how = "whole" if tile == 0 else f"in {tile} px tiles"
    advice = f"use --size {fits} or less" if fits >= 16 else "free some memory"
    if tile_size == 0:
        advice += ", or --tile-size auto to evaluate it in tiles"
    elif tile_size != "auto":
        advice += ", or a smaller --tile-size"
    return (f"--size {size} needs about {needed / 1e9:.1f} GB of memory {how} but {available / 1e9:.1f} GB "
            f"is available: {advice}")


def check_memory(size: int, image_sizes: Sequence[Tuple[int, int]], lbfgs_history: int, available: float) -> None:
    """Refuse a --size whose largest image (content or style, (width, height)) cannot fit whole in
    `available` bytes, naming the largest that fits."""
    plan_memory(size, image_sizes, lbfgs_history, tile_size=0, available=available)
