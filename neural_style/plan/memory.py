"""How much memory a run needs, on each kind of device, what memory there is, and the refusal, before any work, of
a size that cannot fit.

One rule per device kind (`memory_model`), for stills, video frames and batch jobs alike:

- a CPU run keeps everything in the host's memory: TensorFlow and the weights, the activations of the evaluation
  (of one tile when tiled) and scipy's float64 L-BFGS history;
- a GPU run keeps the activations and their gradients on the card, in the run's precision, and the whole picture's
  float32 vectors; scipy's L-BFGS history stays in the host's memory and is planned against it.

What there is (`available_for`): the host's available memory (/proc/meminfo) plus what the process holds; a GPU's
free memory through NVML or nvidia-smi (backends/system_gpus.py), or unknown; `--memory-budget` caps either, so a run that shares
the machine or the card plans as if only that much were free.
"""

from __future__ import annotations

import math
import os
import platform
import sys
from dataclasses import dataclass, replace
from typing import Any, Optional, Sequence, Tuple, Union

from neural_style import backends
from neural_style.config import OPTIMIZER_SPECS
from neural_style.errors import NeuralStyleError
from neural_style.backends.system_gpus import gpu_for_device
from neural_style.backends.hardware import Hardware

# Fitted to the peak resident memory of whole-picture runs on an Intel Xeon with AMX (2 cores, TensorFlow 2.21, both
# L-BFGS optimisers, 256-2048 px; docs/performance.md, "Memory: planned against peak"): about 1.05 GB for Python,
# TensorFlow and the weights, and per pixel the activations kept for the backward pass, which depend on the precision,
# besides the optimiser's state (config.OPTIMIZER_SPECS). The same runs peaked lower on a second machine of the same
# kind (0.98 GB at 256 px against 1.14, 6.9 GB at 2048 px in bfloat16 against 8.3): the plan sits between, 1-17%
# above the higher peaks and up to 22% above the lower ones, never below either.
# Those are oneDNN's kernels (TensorFlow's default on x86-64). TensorFlow's own kernels (TF_ENABLE_ONEDNN_OPTS=0, and
# CPUs oneDNN does not serve) keep more than twice as much: a 512 px float32 run peaked at 2.11 GB against 1.50, so
# they are planned at PLAIN_KERNEL_ACTIVATION_BYTES_PER_PIXEL (2-4% above the peaks measured at 256 and 512 px).
BASE_MEMORY_BYTES = 1.05e9
PLAIN_KERNEL_BASE_BYTES = 1.1e9  # fitted with TensorFlow's own kernels, on the first machine
CPU_ACTIVATION_BYTES_PER_PIXEL = {"float32": 2.2e3, "bfloat16": 2.0e3, "float16": 2.2e3}
PLAIN_KERNEL_ACTIVATION_BYTES_PER_PIXEL = 5.4e3
ACTIVATION_BYTES_PER_PIXEL = PLAIN_KERNEL_ACTIVATION_BYTES_PER_PIXEL  # the most a CPU run keeps
# PyTorch and JAX on the CPU keep more than TensorFlow with oneDNN (fitted the same way, at 512 and 1024 px, scipy's
# L-BFGS, both precisions: PyTorch's eager autograd keeps each layer's input and output, and Keras converts between
# channel orders around each convolution; XLA's CPU backend computes bfloat16 through float32 copies). The plan is
# 6-15% above each peak measured (docs/performance.md, "The three backends on the CPU").
CPU_BACKEND_BASE_BYTES = {"torch": 1.1e9, "jax": 1.35e9}
CPU_BACKEND_ACTIVATION_BYTES_PER_PIXEL = {("torch", "float32"): 4.2e3, ("torch", "bfloat16"): 2.85e3,
                                          ("jax", "float32"): 3.5e3, ("jax", "bfloat16"): 4.0e3}
# A tiled run (objective/tiled.py) keeps activations for one tile only; what stays the whole image's
# size besides L-BFGS: the image and its gradient in float32 and float64, the content targets, copies.
WHOLE_IMAGE_BYTES_PER_PIXEL = 200.0
# On an NVIDIA GPU (not measured with this tool yet: a PyTorch twin of the objective on an H200 measured): a whole-picture
# evaluation peaked at 3.1 KB per output pixel in float32 and 2.1 KB in bfloat16 at large sizes, with 0.1-0.5 GiB of
# weights and targets besides. TensorFlow's allocator rounds up more than PyTorch's: the model adds a sixth, and the
# CUDA context's few hundred MB. float16 keeps what bfloat16 keeps (two bytes an activation).
GPU_BASE_BYTES = 0.8e9
GPU_ACTIVATION_BYTES_PER_PIXEL = {"float32": 3.6e3, "bfloat16": 2.5e3, "float16": 2.5e3}
# The whole picture's vectors on the card when tiled: the image and its gradient (float32), the content targets.
GPU_WHOLE_IMAGE_BYTES_PER_PIXEL = 100.0
# What a GPU run keeps in the host's memory besides the picture's: Python, TensorFlow, the weights as loaded.
GPU_HOST_BASE_BYTES = 1.5e9
# Tile sizes --tile-size auto tries, largest first: larger tiles recompute less halo.
AUTO_TILE_SIZES = (2048, 1536, 1024, 768, 512, 384, 256)


def lbfgs_bytes_per_pixel(lbfgs_history: int, optimizer: str = "lbfgs") -> float:
    """The optimiser's state per pixel, as the optimiser states it (config.OPTIMIZER_SPECS)."""
    return OPTIMIZER_SPECS[optimizer].state_bytes_per_pixel(lbfgs_history)


@dataclass(frozen=True)
class MemoryModel:
    """What a run keeps on one kind of device, in bytes: a base, the activations of an evaluation per pixel it reads,
    what stays the whole picture's size per pixel, and, where the optimiser's history lives in another memory (a GPU
    run's host), what that memory holds."""

    kind: str  # "CPU" or "GPU"
    base: float
    activations: float
    whole_image: float
    history_on_device: bool  # the optimiser's state in the device's memory (a CPU: one memory) or the host's
    host_base: float = 0.0
    optimizer: str = "lbfgs"

    def state(self, lbfgs_history: int) -> float:
        """The optimiser's state per pixel."""
        return lbfgs_bytes_per_pixel(lbfgs_history, self.optimizer)

    def whole(self, pixels: int, lbfgs_history: int) -> float:
        """The device's peak with the whole picture evaluated at once."""
        history = self.state(lbfgs_history) * pixels if self.history_on_device else 0.0
        # A CPU's activation figure was measured with the whole picture's vectors in it; a GPU's was not.
        vectors = self.whole_image * pixels if self.kind == "GPU" else 0.0
        return self.base + self.activations * pixels + history + vectors

    def tiled(self, pixels: int, tile: int, halo: int, lbfgs_history: int) -> float:
        """The device's peak with a picture of `pixels` evaluated in `tile` px tiles."""
        history = self.state(lbfgs_history) * pixels if self.history_on_device else 0.0
        return self.base + self.activations * (tile + 2 * halo) ** 2 + self.whole_image * pixels + history

    def host(self, pixels: int, lbfgs_history: int) -> float:
        """A GPU run's host memory: its base, and scipy's float64 L-BFGS history and vectors (nothing extra on a CPU,
        whose one memory `whole` and `tiled` plan)."""
        return 0.0 if self.history_on_device else self.host_base + self.state(lbfgs_history) * pixels


CPU_MODEL = MemoryModel("CPU", PLAIN_KERNEL_BASE_BYTES, ACTIVATION_BYTES_PER_PIXEL, WHOLE_IMAGE_BYTES_PER_PIXEL,
                        True)


def memory_model(hardware: Hardware, optimizer: str = "lbfgs") -> MemoryModel:
    """The memory model of `hardware`'s device kind, in its precision, with `optimizer`'s state where it lives: on a
    GPU, scipy's L-BFGS history in the host's memory, the device L-BFGS's (and Adam's) on the card."""
    if not hardware.on_gpu:
        base = CPU_BACKEND_BASE_BYTES.get(hardware.backend,
                                          BASE_MEMORY_BYTES if onednn_kernels() else PLAIN_KERNEL_BASE_BYTES)
        return replace(CPU_MODEL, optimizer=optimizer, base=base,
                       activations=cpu_activation_bytes(hardware.precision, hardware.backend))
    return MemoryModel("GPU", GPU_BASE_BYTES, GPU_ACTIVATION_BYTES_PER_PIXEL.get(hardware.precision, 3.6e3),
                       GPU_WHOLE_IMAGE_BYTES_PER_PIXEL, OPTIMIZER_SPECS[optimizer].state_on_device,
                       GPU_HOST_BASE_BYTES, optimizer)


def cpu_activation_bytes(precision: str = "float32", backend: str = "tensorflow") -> float:
    """A CPU run's activations per pixel in `precision`, with the kernels the backend uses here."""
    if (backend, precision) in CPU_BACKEND_ACTIVATION_BYTES_PER_PIXEL:
        return CPU_BACKEND_ACTIVATION_BYTES_PER_PIXEL[(backend, precision)]
    if not onednn_kernels():
        return PLAIN_KERNEL_ACTIVATION_BYTES_PER_PIXEL
    return CPU_ACTIVATION_BYTES_PER_PIXEL.get(precision, ACTIVATION_BYTES_PER_PIXEL)


def onednn_kernels() -> bool:
    """Whether TensorFlow computes on this CPU with oneDNN's kernels: its default on x86-64, unless
    TF_ENABLE_ONEDNN_OPTS turns them off."""
    if platform.machine().lower() not in ("x86_64", "amd64", "x64"):
        return False
    return os.environ.get("TF_ENABLE_ONEDNN_OPTS", "1").strip().lower() not in ("0", "false")


def _proc_field(path: str, field: str) -> Optional[float]:
    """A kB field of a /proc file (Linux), in bytes; None elsewhere."""
    try:
        with open(path) as stream:
            for line in stream:
                if line.startswith(field + ":"):
                    return float(line.split()[1]) * 1024
    except OSError:
        pass
    return None


def available_memory_bytes() -> Optional[float]:
    """The memory this process can reach (Linux; else None): what the system has available plus what the process
    holds already. A plan is the process's whole peak (TensorFlow and the weights included), and a process that ran
    a large picture keeps its allocator's memory for the next: a batch, a sheet, the studio or a benchmark planned
    against MemAvailable alone refused the second of two runs that each fit."""
    available = _proc_field("/proc/meminfo", "MemAvailable")
    if available is None:
        return None
    return available + (_proc_field("/proc/self/status", "VmRSS") or 0.0)


@dataclass(frozen=True)
class MemoryLimits:
    """What a run is planned against, in bytes: the memory of the device the network runs on (None: unknown, so
    nothing is refused or tiled by it) and the host's (for a GPU run's L-BFGS history; on a CPU the same memory),
    and where the figure comes from, as the start line says it."""

    device: Optional[float]
    host: Optional[float]
    source: str

    def describe(self) -> str:
        return self.source

    def capped(self, budget: Optional[float], on_gpu: bool = False) -> "MemoryLimits":
        """These limits with the device's memory capped at `budget` bytes (--memory-budget; None: as they are)."""
        if budget is None:
            return self
        where = "GPU memory budget" if on_gpu else "memory budget"
        return MemoryLimits(min(budget, self.device) if self.device else budget, self.host,
                            f"{where} {budget / 1e9:.1f} GB")


def available_for(hardware: Hardware, host: Optional[float] = None, budget: Optional[float] = None) -> MemoryLimits:
    """The memory a run on `hardware` is planned against: on a CPU, the host's (`host`, else this machine's available
    memory); on a GPU, the card's free memory (NVML, else nvidia-smi, else unknown) and the host's for L-BFGS.
    `budget` (--memory-budget) caps the device's. The one rule per device kind, for stills, video frames and batch
    jobs alike."""
    host = host if host is not None else available_memory_bytes()
    if not hardware.on_gpu:
        limits = MemoryLimits(host, None, f"{host / 1e9:.1f} GB of memory available" if host else "memory unknown")
    elif hardware.device.upper().startswith("/MPS"):  # Apple silicon: the GPU computes in the machine's memory
        limits = MemoryLimits(host, host, f"{host / 1e9:.1f} GB of unified memory available" if host
                              else "memory unknown")
    else:
        gpu = gpu_for_device(hardware.device) if hardware.device.upper().startswith("/GPU") else None
        free, source = (gpu.free_bytes, gpu.source) if gpu is not None else (None, None)
        if free is None:  # no NVML or nvidia-smi (an AMD card, a TPU): what the backend's allocator says
            free, source = backends.module(hardware.backend).free_memory(hardware.device), hardware.backend
        limits = (MemoryLimits(free, host, f"{free / 1e9:.1f} GB free on the {hardware.device.strip('/').split(':')[0]} "
                               f"({source})") if free is not None
                  else MemoryLimits(None, host, "GPU memory unknown (no NVML or nvidia-smi answer): nothing is tiled "
                                    "or refused by it"))
    return limits.capped(budget, hardware.on_gpu)


def peak_resident_bytes() -> Optional[float]:
    """This process's peak resident memory so far (None where the platform does not say). On Linux, VmHWM of
    /proc/self/status: getrusage's ru_maxrss carries a forking parent's peak across exec, so a small run started
    from a large process would report the parent's."""
    peak = _proc_field("/proc/self/status", "VmHWM")
    if peak is not None:
        return peak
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
    needed: float  # estimated peak bytes on the device
    untiled_needed: float
    available: Optional[float]
    kind: str = "CPU"

    def describe(self) -> str:
        """What the start line says about a tiled size."""
        where = " on the GPU" if self.kind == "GPU" else ""
        text = f"{self.tile} px tiles, about {self.needed / 1e9:.1f} GB{where}"
        if self.available is not None and self.untiled_needed > self.available:
            text += (f" (whole it needs about {self.untiled_needed / 1e9:.1f} GB, "
                     f"{self.available / 1e9:.1f} GB is available)")
        return text


Limits = Union[MemoryLimits, float, None]


def _limits(available: Limits) -> MemoryLimits:
    if isinstance(available, MemoryLimits):
        return available
    return MemoryLimits(available, None, "given")


def plan_memory(size: int, image_sizes: Sequence[Tuple[int, int]], lbfgs_history: int, tile_size: Any = "auto",
                halo: int = 64, available: Limits = None, model: MemoryModel = CPU_MODEL) -> MemoryPlan:
    """Whether images of `image_sizes` ((width, height): the content, then the styles) at `--size size` are evaluated
    whole or in tiles on a device of `model`, refusing before any work a size that cannot fit in `available`
    (MemoryLimits, or bytes of one memory; None: unknown, so nothing is refused).
    `tile_size` 0 never tiles, a number tiles in that size where the image is larger, and 'auto' tiles
    only where the whole image does not fit, in the largest of AUTO_TILE_SIZES that does."""
    limits = _limits(available)
    device = limits.device
    pixels = max(width * height for width, height in image_sizes)
    output_pixels = image_sizes[0][0] * image_sizes[0][1]
    longest = max(max(width, height) for width, height in image_sizes)
    _check_host(size, output_pixels, lbfgs_history, limits, model)
    untiled = model.whole(pixels, lbfgs_history)
    if tile_size == "auto":
        if device is None or untiled <= device:
            return MemoryPlan(0, untiled, untiled, device, model.kind)
        for tile in AUTO_TILE_SIZES:
            needed = model.tiled(output_pixels, tile, halo, lbfgs_history)
            if tile < longest and needed <= device:
                return MemoryPlan(tile, needed, untiled, device, model.kind)
        tile = AUTO_TILE_SIZES[-1]
    else:
        tile = 0 if tile_size >= longest else tile_size
    needed = untiled if tile == 0 else model.tiled(output_pixels, tile, halo, lbfgs_history)
    if device is None or needed <= device:
        return MemoryPlan(tile, needed, untiled, device, model.kind)
    raise NeuralStyleError(_does_not_fit(size, pixels if tile == 0 else output_pixels, tile, halo, lbfgs_history,
                                         needed, device, tile_size, model))


def _check_host(size: int, pixels: int, lbfgs_history: int, limits: MemoryLimits, model: MemoryModel) -> None:
    """A GPU run's L-BFGS history and vectors in the host's memory: refused where they cannot fit."""
    needed = model.host(pixels, lbfgs_history)
    if not needed or limits.host is None or needed <= limits.host:
        return
    largest = (limits.host - model.host_base) / model.state(lbfgs_history)
    fits = int(size * math.sqrt(largest / pixels)) if largest > 0 else 0
    raise NeuralStyleError(f"--size {size} needs about {needed / 1e9:.1f} GB of host memory for L-BFGS's history "
                           f"beside the GPU's, but {limits.host / 1e9:.1f} GB is available: "
                           + (f"use --size {fits} or less" if fits >= 16 else "free some memory"))


def _does_not_fit(size: int, pixels: int, tile: int, halo: int, lbfgs_history: int, needed: float,
                  available: float, tile_size: Any, model: MemoryModel) -> str:
    # The estimate is linear in the pixel count, and pixels grow with the square of --size.
    per_pixel = (model.whole(1, lbfgs_history) - model.base if tile == 0
                 else model.tiled(1, tile, halo, lbfgs_history) - model.tiled(0, tile, halo, lbfgs_history))
    fixed = model.base if tile == 0 else model.tiled(0, tile, halo, lbfgs_history)
    largest_pixels = (available - fixed) / per_pixel
    fits = int(size * math.sqrt(largest_pixels / pixels)) if largest_pixels > 0 else 0
    how = "whole" if tile == 0 else f"in {tile} px tiles"
    advice = f"use --size {fits} or less" if fits >= 16 else "free some memory"
    if tile_size == 0:
        advice += ", or --tile-size auto to evaluate it in tiles"
    elif tile_size != "auto":
        advice += ", or a smaller --tile-size"
    where, verb = ("GPU memory", "is free") if model.kind == "GPU" else ("memory", "is available")
    return (f"--size {size} needs about {needed / 1e9:.1f} GB of {where} {how} but {available / 1e9:.1f} GB "
            f"{verb}: {advice}")


def largest_size(image_sizes: Sequence[Tuple[int, int]], size: int, lbfgs_history: int, tile: int, halo: int,
                 available: float, model: MemoryModel) -> int:
    """The largest --size (for images shaped as `image_sizes` are at `size`) that fits in `available` bytes on a
    device of `model`, whole (`tile` 0) or in `tile` px tiles: what `neural-style doctor` reports."""
    pixels = max(width * height for width, height in image_sizes) if tile == 0 else image_sizes[0][0] * image_sizes[0][1]
    fixed = model.base if tile == 0 else model.tiled(0, tile, halo, lbfgs_history)
    per_pixel = (model.whole(1, lbfgs_history) - model.base if tile == 0
                 else model.tiled(1, tile, halo, lbfgs_history) - fixed)
    largest_pixels = (available - fixed) / per_pixel
    return int(size * math.sqrt(largest_pixels / pixels)) if largest_pixels > 0 else 0


__all__ = ["AUTO_TILE_SIZES", "CPU_MODEL", "MemoryLimits", "MemoryModel", "MemoryPlan", "available_for",
           "available_memory_bytes", "largest_size", "memory_model",
           "peak_resident_bytes", "plan_memory"]
