"""The NVIDIA GPUs this machine has, whatever TensorFlow makes of them: their names and memory, read through NVML
(`nvidia-ml-py`, the `gpu` extra) or else `nvidia-smi`, else unknown. TensorFlow reports a card's memory only once it
runs on it, and not at all when it cannot use the card; this is how a run plans a GPU's memory before any work, how
the start line notices a card TensorFlow left unused, and what `neural-style doctor` lists."""

from __future__ import annotations

import os
import shutil
import subprocess
from dataclasses import dataclass
from typing import List, Optional

NVIDIA_SMI = "nvidia-smi"
# How long nvidia-smi may take before it counts as absent (a hung driver must not hang every run).
NVIDIA_SMI_SECONDS = 10.0


@dataclass(frozen=True)
class SystemGpu:
    """One NVIDIA GPU as the driver sees it (its index counts every card, whatever CUDA_VISIBLE_DEVICES says)."""

    index: int
    name: str
    total_bytes: Optional[float]
    free_bytes: Optional[float]
    source: str  # "NVML" or "nvidia-smi"

    def describe(self) -> str:
        memory = (f", {self.free_bytes / 1e9:.1f} of {self.total_bytes / 1e9:.1f} GB free"
                  if self.free_bytes is not None and self.total_bytes is not None else "")
        return f"GPU {self.index}: {self.name}{memory} ({self.source})"


def _from_nvml() -> Optional[List[SystemGpu]]:
    """Every GPU through NVML, or None where NVML is not installed or has no driver to talk to."""
    try:
        import pynvml  # the gpu extra's nvidia-ml-py
    except ImportError:
        return None
    try:
        pynvml.nvmlInit()
    except Exception:  # NVMLError_LibraryNotFound, _DriverNotLoaded, ...: no driver here
        return None
    try:
        gpus = []
        for index in range(pynvml.nvmlDeviceGetCount()):
            handle = pynvml.nvmlDeviceGetHandleByIndex(index)
            name = pynvml.nvmlDeviceGetName(handle)
            memory = pynvml.nvmlDeviceGetMemoryInfo(handle)
            gpus.append(SystemGpu(index, name.decode() if isinstance(name, bytes) else str(name),
                                  float(memory.total), float(memory.free), "NVML"))
        return gpus
    except Exception:
        return None
    finally:
        try:
            pynvml.nvmlShutdown()
        except Exception:
            pass


def _from_nvidia_smi() -> Optional[List[SystemGpu]]:
    """Every GPU through `nvidia-smi`, or None where it is not on the PATH or does not answer."""
    command = shutil.which(NVIDIA_SMI)
    if command is None:
        return None
    try:
        done = subprocess.run([command, "--query-gpu=index,name,memory.total,memory.free",
                               "--format=csv,noheader,nounits"], capture_output=True, text=True,
                              timeout=NVIDIA_SMI_SECONDS)
    except (OSError, subprocess.TimeoutExpired):
        return None
    if done.returncode != 0:
        return None
    gpus = []
    for line in done.stdout.strip().splitlines():
        parts = [part.strip() for part in line.split(",")]
        if len(parts) < 4:
            continue
        try:
            index = int(parts[0])
        except ValueError:
            continue

        def mebibytes(text: str) -> Optional[float]:
            try:
                return float(text) * 2**20
            except ValueError:  # "[N/A]" on some cards
                return None

        gpus.append(SystemGpu(index, parts[1], mebibytes(parts[2]), mebibytes(parts[3]), "nvidia-smi"))
    return gpus


def system_gpus() -> List[SystemGpu]:
    """The NVIDIA GPUs of this machine: NVML's answer, else nvidia-smi's, else none known."""
    for ask in (_from_nvml, _from_nvidia_smi):
        gpus = ask()
        if gpus is not None:
            return gpus
    return []


def visible_index(tensorflow_index: int) -> Optional[int]:
    """The driver's index of TensorFlow's /GPU:N: the Nth of CUDA_VISIBLE_DEVICES where it lists indices, else N
    (None where the variable names cards by UUID, which this does not map)."""
    visible = os.environ.get("CUDA_VISIBLE_DEVICES")
    if visible is None or not visible.strip():
        return tensorflow_index if visible is None else None
    entries = [entry.strip() for entry in visible.split(",") if entry.strip()]
    if tensorflow_index >= len(entries):
        return None
    try:
        return int(entries[tensorflow_index])
    except ValueError:
        return None


def gpu_for_device(device: str) -> Optional[SystemGpu]:
    """The system's view of TensorFlow's device `device` ('/GPU:0'), where it can be found."""
    try:
        tensorflow_index = int(device.rsplit(":", 1)[1])
    except (IndexError, ValueError):
        return None
    index = visible_index(tensorflow_index)
    return next((gpu for gpu in system_gpus() if gpu.index == index), None) if index is not None else None


__all__ = ["SystemGpu", "gpu_for_device", "system_gpus", "visible_index"]
