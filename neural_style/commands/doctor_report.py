"""`neural-style doctor`: one screen a user can paste into an issue. What this machine runs (Python, the backend and
why it was chosen, its framework's version and the CUDA or ROCm it was built with, the backends installed), the
devices the backend sees and the NVIDIA GPUs the system has, and when a GPU is present but unused, TensorFlow's own
reason; per device, the precision and compiler that `auto` picks and why, the memory a run is planned against and the
largest --size that runs whole and in tiles; the weights cache and its state; the extras installed."""

from __future__ import annotations

import importlib.metadata
import importlib.util
import os
import platform
import sys
from typing import Dict, List, Optional, Sequence, Tuple

from neural_style import __version__, backends
from neural_style.backends.tensorflow_backend import MEMORY_GROWTH_VARIABLE
from neural_style.config import StyleConfig
from neural_style.features.weights import GATYS_FILE_SHA256, cache_dir, cache_is_intact
from neural_style.backends.system_gpus import SystemGpu, system_gpus
from neural_style.backends.hardware import Hardware, resolve_precision, resolve_xla
from neural_style.plan.memory import available_for, largest_size, memory_model

# The extras, and the package (import name, distribution name) each one brings.
EXTRAS: Dict[str, Tuple[Tuple[str, str], ...]] = {
    "video": (("imageio_ffmpeg", "imageio-ffmpeg"), ("cv2", "opencv-python-headless")),
    "studio": (("gradio", "gradio"),),
    "cluster": (("ray", "ray"),),
    "reference": (("torch", "torch"),),
    "torch": (("torch", "torch"),),
    "jax": (("jax", "jax"),),
    "gpu": (("pynvml", "nvidia-ml-py"),),
}
# The shape the largest sizes are reported for: a 4:3 photo and a painting of its size.
REPORTED_SHAPE = (4, 3)
REPORTED_TILE = 1024


def _version(distribution: str) -> Optional[str]:
    try:
        return importlib.metadata.version(distribution)
    except importlib.metadata.PackageNotFoundError:
        return None


def extras_installed() -> List[str]:
    """One line per extra: installed (with its packages' versions) or not, and how to install it."""
    lines = []
    for extra, packages in EXTRAS.items():
        found = [(name, distribution, _version(distribution)) for name, distribution in packages
                 if importlib.util.find_spec(name) is not None]
        if len(found) == len(packages):
            lines.append(f"{extra}: " + ", ".join(f"{d} {v or '?'}" for _, d, v in found))
        else:
            lines.append(f"{extra}: not installed (pip install 'neural-style-keras[{extra}]')")
    return lines


def platform_gpu_note(backend: str) -> Optional[str]:
    """What this system allows TensorFlow: no NVIDIA GPU build for native Windows after 2.10, no maintained Metal
    plugin on macOS; PyTorch serves both."""
    if backend != "tensorflow":
        return None
    if sys.platform == "win32":
        return ("native Windows: TensorFlow after 2.10 computes on the CPU only; for an NVIDIA GPU, "
                "pip install 'neural-style-keras[torch]' (with PyTorch's CUDA build) and --backend torch")
    if sys.platform == "darwin":
        return ("macOS: TensorFlow computes on the CPU here; for the Apple GPU, pip install 'neural-style-keras[torch]' "
                "and --backend torch")
    return None


def backends_installed() -> str:
    """Each backend's framework: its version, or not installed and the extra that installs it."""
    parts = []
    for name in backends.BACKENDS:
        version = _version(name)
        extra = backends.EXTRAS[name]
        parts.append(f"{name} {version}" if version else
                     f"{name} not installed" + (f" (pip install 'neural-style-keras[{extra}]')" if extra else ""))
    return "backends: " + ", ".join(parts)


def device_lines(devices: Sequence[str], config: StyleConfig, backend: str = "tensorflow") -> List[str]:
    """Per device: the precision and compiler `auto` picks and why, the memory planned against, the largest --size."""
    lines = []
    for device in devices:
        precision, why = resolve_precision("auto", device, backend=backend)
        xla = resolve_xla(None, device, seeded=False, backend=backend)
        hardware = Hardware(device, precision, why, xla, backend=backend)
        limits = available_for(hardware, budget=config.memory_budget_bytes())
        line = f"{device}: {precision} ({why}), {hardware.compiler}; {limits.describe()}"
        if limits.device:
            model = memory_model(hardware)
            size = 1000
            shape = [(size, size * REPORTED_SHAPE[1] // REPORTED_SHAPE[0])] * 2
            whole = largest_size(shape, size, config.lbfgs_history, 0, config.tile_halo, limits.device, model)
            tiled = largest_size(shape, size, config.lbfgs_history, REPORTED_TILE, config.tile_halo, limits.device,
                                 model)
            line += f"; largest --size {whole} whole, {tiled} in {REPORTED_TILE} px tiles (a 4:3 photo)"
        lines.append(line)
    return lines


def weights_cache_lines(override: Optional[str] = None) -> List[str]:
    """The weights cache's folder and what is in it."""
    folder = cache_dir(override)
    lines = [f"weights cache: {folder}" + ("" if os.path.isdir(folder) else " (not created yet: the first run does)")]
    if os.path.isdir(folder):
        gatys = os.path.join(folder, f"vgg19_gatys_normalised_{GATYS_FILE_SHA256[:16]}.weights.h5")
        state = ("converted, sha256 checked" if cache_is_intact(gatys) else
                 "damaged: it is rebuilt on the next run" if os.path.exists(gatys) else "not converted yet (once, "
                 "on the first run)")
        lines.append(f"  Gatys' VGG19: {state}")
        adain = [name for name in os.listdir(folder) if name.startswith("adain_") and name.endswith(".weights.h5")]
        lines.append("  AdaIN: " + ("converted" if adain and cache_is_intact(os.path.join(folder, adain[0]))
                                    else "not converted yet (on the first --method or --init adain)"))
    return lines


def report(config: Optional[StyleConfig] = None) -> List[str]:
    """The doctor's screen, line by line."""
    config = config or StyleConfig()
    choice = backends.activate(config.backend)
    backend = backends.active()
    devices = backend.devices()
    gpus: List[SystemGpu] = system_gpus()
    lines = [f"neural-style-keras {__version__}; Python {platform.python_version()} on {platform.system()} "
             f"{platform.machine()}",
             f"backend: {choice.describe()}",
             backend.version() + f", NumPy {_version('numpy')}, SciPy {_version('scipy')}",
             backends_installed(),
             f"devices {choice.name} sees: " + ", ".join(devices),
             "NVIDIA GPUs on this machine: " + ("; ".join(gpu.describe() for gpu in gpus) if gpus
                                                else "none found (no NVML, no nvidia-smi answer)")]
    backend_gpus = [device for device in devices if "/GPU:" in device]
    if gpus and not backend_gpus:
        lines.append(f"{backends.DISPLAY_NAMES[choice.name]} uses none of them."
                     + (" What it says as it starts:" if choice.name == "tensorflow" else ""))
        if choice.name == "tensorflow":
            lines += [f"  {reason}" for reason in (backends.module("tensorflow").why_no_gpu() or [
                "(nothing: a CPU-only TensorFlow? pip install 'neural-style-keras[gpu]')"])]
        else:
            lines.append(f"  (a CPU-only {choice.name} build? install its CUDA build: see docs/gpu.md)")
    note = platform_gpu_note(choice.name)
    if note:
        lines.append(note)
    if backend_gpus and choice.name == "tensorflow":
        growth = os.environ.get(MEMORY_GROWTH_VARIABLE, "1").strip() != "0"
        lines.append(f"GPU memory growth: {'on' if growth else 'off'} ({MEMORY_GROWTH_VARIABLE}=0 turns it off)")
    lines += device_lines(devices, config, choice.name)
    lines += weights_cache_lines(config.cache_dir)
    lines.append("extras: " + "; ".join(extras_installed()))
    return lines


__all__ = ["EXTRAS", "backends_installed", "device_lines", "extras_installed", "report", "weights_cache_lines"]
