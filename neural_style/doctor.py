"""`neural-style doctor`: one screen a user can paste into an issue. What this machine runs (Python, TensorFlow,
Keras and the CUDA and cuDNN TensorFlow was built with), the devices TensorFlow sees and the NVIDIA GPUs the system
has, and when a GPU is present but unused, TensorFlow's own reason; per device, the precision and XLA that `auto`
picks and why, the memory a run is planned against and the largest --size that runs whole and in tiles; the weights
cache and its state; the extras installed."""

from __future__ import annotations

import importlib.metadata
import importlib.util
import os
import platform
import subprocess
import sys
from typing import Dict, List, Optional, Sequence, Tuple

from neural_style import __version__
from neural_style.config import StyleConfig
from neural_style.features.weights import GATYS_FILE_SHA256, cache_dir, cache_is_intact
from neural_style.gpus import SystemGpu, system_gpus
from neural_style.hardware import MEMORY_GROWTH_VARIABLE, Hardware, resolve_precision, resolve_xla
from neural_style.plan.memory import available_for, largest_size, memory_model

# The extras, and the package (import name, distribution name) each one brings.
EXTRAS: Dict[str, Tuple[Tuple[str, str], ...]] = {
    "video": (("imageio_ffmpeg", "imageio-ffmpeg"), ("cv2", "opencv-python-headless")),
    "studio": (("gradio", "gradio"),),
    "cluster": (("ray", "ray"),),
    "reference": (("torch", "torch"),),
    "gpu": (("pynvml", "nvidia-ml-py"),),
}
# TensorFlow's own words about GPUs it could not use, at its most verbose (TF_CPP_MIN_LOG_LEVEL=0).
GPU_REASON_MARKERS = ("cuda", "gpu", "dlopen", "dynamic library", "cudnn", "compute capability", "ptx", "driver")
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


def tensorflow_build() -> str:
    """TensorFlow's version and the CUDA and cuDNN it was built with (a CPU build says so)."""
    import keras
    import tensorflow as tf

    info = tf.sysconfig.get_build_info()
    cuda, cudnn = info.get("cuda_version"), info.get("cudnn_version")
    built = f"built with CUDA {cuda}, cuDNN {cudnn}" if info.get("is_cuda_build") else "a CPU-only build"
    return f"TensorFlow {tf.__version__} ({built}), Keras {keras.__version__}"


def tensorflow_gpu_reason(python: str = sys.executable) -> List[str]:
    """What TensorFlow says about GPUs as it starts, at its most verbose, in a process of its own: the lines about
    CUDA, drivers, libraries and compute capabilities (why a GPU it was given goes unused)."""
    code = "import tensorflow as tf; print('gpus', len(tf.config.list_physical_devices('GPU')))"
    try:
        done = subprocess.run([python, "-c", code], capture_output=True, text=True, timeout=300,
                              env=dict(os.environ, TF_CPP_MIN_LOG_LEVEL="0"))
    except (OSError, subprocess.TimeoutExpired) as error:
        return [f"TensorFlow could not be started to ask ({error})"]
    lines = []
    for line in done.stderr.splitlines():
        text = line.split("] ", 1)[-1].strip()
        if any(marker in text.lower() for marker in GPU_REASON_MARKERS) and text not in lines:
            lines.append(text)
    return lines[:8]


def platform_gpu_note() -> Optional[str]:
    """What this system allows: TensorFlow has no NVIDIA GPU build for native Windows after 2.10, nor for macOS."""
    if sys.platform == "win32":
        return ("native Windows: TensorFlow after 2.10 computes on the CPU only; use WSL2 with "
                "pip install 'neural-style-keras[gpu]' for an NVIDIA GPU")
    if sys.platform == "darwin":
        return "macOS: TensorFlow has no NVIDIA GPU build here; runs compute on the CPU"
    return None


def device_lines(devices: Sequence[str], config: StyleConfig) -> List[str]:
    """Per device: the precision and XLA `auto` picks and why, the memory planned against, the largest --size."""
    lines = []
    for device in devices:
        precision, why = resolve_precision("auto", device)
        xla = resolve_xla(None, device, seeded=False)
        hardware = Hardware(device, precision, why, xla)
        limits = available_for(hardware, budget=config.memory_budget_bytes())
        line = f"{device}: {precision} ({why}), {'XLA' if xla else 'graph'}; {limits.describe()}"
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
    import tensorflow as tf

    config = config or StyleConfig()
    devices = [device.name.replace("/device:", "/") for device in tf.config.list_logical_devices()]
    gpus: List[SystemGpu] = system_gpus()
    lines = [f"neural-style-keras {__version__}; Python {platform.python_version()} on {platform.system()} "
             f"{platform.machine()}",
             tensorflow_build() + f", NumPy {_version('numpy')}, SciPy {_version('scipy')}",
             "devices TensorFlow sees: " + ", ".join(devices),
             "NVIDIA GPUs on this machine: " + ("; ".join(gpu.describe() for gpu in gpus) if gpus
                                                else "none found (no NVML, no nvidia-smi answer)")]
    tensorflow_gpus = [device for device in devices if "/GPU:" in device]
    if gpus and not tensorflow_gpus:
        lines.append("TensorFlow uses none of them. What it says as it starts:")
        lines += [f"  {reason}" for reason in (tensorflow_gpu_reason() or ["(nothing: a CPU-only TensorFlow? "
                                                                           "pip install 'neural-style-keras[gpu]')"])]
    note = platform_gpu_note()
    if note:
        lines.append(note)
    if tensorflow_gpus:
        growth = os.environ.get(MEMORY_GROWTH_VARIABLE, "1").strip() != "0"
        lines.append(f"GPU memory growth: {'on' if growth else 'off'} ({MEMORY_GROWTH_VARIABLE}=0 turns it off)")
    lines += device_lines(devices, config)
    lines += weights_cache_lines(config.cache_dir)
    lines.append("extras: " + "; ".join(extras_installed()))
    return lines


__all__ = ["EXTRAS", "device_lines", "extras_installed", "report", "tensorflow_gpu_reason", "weights_cache_lines"]
