"""Which arithmetic a run uses: bfloat16 convolutions where the hardware runs them natively, and the
plain TensorFlow graph or XLA, per platform.

Measured on this project's 2-core CPU with AVX512-BF16 (interleaved, min of 6-8 rounds, seconds per
loss-and-gradient evaluation, chelsea + swirls): 256 px float32 0.327 graph / 0.389 XLA, bfloat16 0.190
graph / 0.387 XLA; 512 px float32 1.292 / 1.571, bfloat16 0.731 / 1.571. On a CPU the graph wins in
both precisions (XLA's CPU backend does not use oneDNN's bfloat16 kernels, and it compiles for seconds
at every new image size), so a CPU uses the graph; a GPU keeps XLA, unmeasured here (no TensorFlow on
the GPU machine this project can use).
"""

from __future__ import annotations

from typing import Optional, Tuple

# CPU flags (Linux /proc/cpuinfo) of instructions that do bfloat16 arithmetic natively.
NATIVE_BFLOAT16_CPU_FLAGS = ("avx512_bf16", "amx_bf16")
# NVIDIA GPUs from Ampere (compute capability 8.0) on have bfloat16 tensor cores.
NATIVE_BFLOAT16_GPU_CAPABILITY = (8, 0)


def cpu_flags(cpuinfo_path: str = "/proc/cpuinfo") -> frozenset:
    """The CPU's feature flags, empty where they cannot be read (not Linux)."""
    try:
        with open(cpuinfo_path) as stream:
            for line in stream:
                if line.startswith("flags"):
                    return frozenset(line.split(":", 1)[1].split())
    except OSError:
        pass
    return frozenset()


def gpu_compute_capability(device: str) -> Optional[Tuple[int, int]]:
    """(major, minor) of a TensorFlow GPU device, None if unknown."""
    import tensorflow as tf

    index = int(device.rsplit(":", 1)[1] or 0)
    gpus = tf.config.list_physical_devices("GPU")
    if index >= len(gpus):
        return None
    capability = tf.config.experimental.get_device_details(gpus[index]).get("compute_capability")
    return tuple(capability) if capability else None


def native_bfloat16(device: str, flags: Optional[frozenset] = None) -> Tuple[bool, str]:
    """Whether `device` runs bfloat16 natively, and the evidence, in words."""
    if "GPU" in device.upper():
        capability = gpu_compute_capability(device)
        if capability is None:
            return False, "GPU of unknown compute capability"
        native = capability >= NATIVE_BFLOAT16_GPU_CAPABILITY
        return native, f"GPU compute capability {capability[0]}.{capability[1]}"
    flags = cpu_flags() if flags is None else flags
    found = [flag for flag in NATIVE_BFLOAT16_CPU_FLAGS if flag in flags]
    return (True, f"CPU with {found[0].upper()}") if found else (False, "CPU without AVX512-BF16 or AMX")


def resolve_precision(requested: str, device: str, flags: Optional[frozenset] = None) -> Tuple[str, str]:
    """('float32' or 'bfloat16', why): `requested`, or for 'auto' bfloat16 where it is native."""
    if requested != "auto":
        return requested, "asked for"
    native, evidence = native_bfloat16(device, flags)
    return ("bfloat16" if native else "float32"), f"auto: {evidence}"


def resolve_xla(requested: Optional[bool], device: str, seeded: bool) -> bool:
    """XLA as asked, else on a GPU only; never for a seeded run, because TensorFlow has no
    deterministic XLA max-pool gradient."""
    if seeded:
        return False
    return ("GPU" in device.upper()) if requested is None else requested
