"""What a run runs on, resolved once before anything is planned: the device, the arithmetic (bfloat16
convolutions where the hardware runs them natively) and the plain TensorFlow graph or XLA; op determinism
for a seeded run; and TensorFlow started quietly.

Measured on this project's 2-core CPU with AVX512-BF16 (interleaved, min of 6-8 rounds, seconds per
loss-and-gradient evaluation, chelsea + swirls): 256 px float32 0.327 graph / 0.389 XLA, bfloat16 0.190
graph / 0.387 XLA; 512 px float32 1.292 / 1.571, bfloat16 0.731 / 1.571. On a CPU the graph wins in
both precisions (XLA's CPU backend does not use oneDNN's bfloat16 kernels, and it compiles for seconds
at every new image size), so a CPU uses the graph; a GPU keeps XLA, unmeasured here (no TensorFlow on
the GPU machine this project can use).
"""

from __future__ import annotations

import contextlib
import os
import sys
import tempfile
from dataclasses import dataclass
from typing import Iterator, Optional, Tuple

from neural_style.config import StyleConfig
from neural_style.errors import NeuralStyleError

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


@contextlib.contextmanager
def native_stderr_captured() -> Iterator[None]:
    """Hold back what C++ libraries write to file descriptor 2 (TensorFlow's start-up lines about
    CUDA and absl, which TF_CPP_MIN_LOG_LEVEL does not silence); replay it if the block fails."""
    sys.stderr.flush()
    saved = os.dup(2)
    with tempfile.TemporaryFile() as capture:
        os.dup2(capture.fileno(), 2)
        try:
            yield
        except BaseException:
            os.dup2(saved, 2)
            capture.seek(0)
            sys.stderr.write(capture.read().decode(errors="replace"))
            raise
        finally:
            os.dup2(saved, 2)
            os.close(saved)


def start_tensorflow() -> None:
    """Import TensorFlow and let it find its devices, quietly."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    with native_stderr_captured():
        import keras  # noqa: F401
        import tensorflow as tf

        tf.config.list_logical_devices()


def resolve_device(requested: Optional[str]) -> str:
    """A TensorFlow device name: the one asked for (checked), else the first GPU, else the CPU."""
    import tensorflow as tf

    devices = [d.name.replace("/device:", "/") for d in tf.config.list_logical_devices()]
    if requested is None:
        gpus = [d for d in devices if "/GPU:" in d]
        return gpus[0] if gpus else "/CPU:0"
    name = requested.strip()
    name = name[len("/device:"):] if name.lower().startswith("/device:") else name.lstrip("/")
    kind, _, index = name.partition(":")
    normalised = f"/{kind.upper()}:{index or '0'}"
    if normalised not in devices:
        raise NeuralStyleError(f"unknown device {requested!r}: TensorFlow sees {', '.join(devices)}")
    return normalised


@dataclass(frozen=True)
class Hardware:
    """What a run resolved about where and how it computes."""

    device: str
    precision: str  # "float32" or "bfloat16"
    precision_why: str
    xla: bool

    @property
    def on_gpu(self) -> bool:
        """A GPU's memory is TensorFlow's to report: nothing is refused or tiled by host memory."""
        return "GPU" in self.device.upper()

    def arithmetic(self) -> str:
        """'bfloat16 (auto: CPU with AVX512_BF16), graph': the precision, why, and graph or XLA."""
        return f"{self.precision} ({self.precision_why}), {'XLA' if self.xla else 'graph'}"

    def describe(self) -> str:
        return f"device {self.device}; {self.arithmetic()}"


def resolve_hardware(config: "StyleConfig", flags: Optional[frozenset] = None) -> Hardware:
    """The device (`--device`, else the first GPU, else the CPU), then the precision and XLA for it."""
    device = resolve_device(config.device)
    precision, why = resolve_precision(config.precision, device, flags)
    return Hardware(device, precision, why, resolve_xla(config.xla, device, config.seed is not None))


@contextlib.contextmanager
def op_determinism(enabled: bool) -> Iterator[None]:
    """TensorFlow's op determinism for one run, restored afterwards (it is process-wide, and a
    notebook's later runs should not inherit it)."""
    import tensorflow as tf
    from tensorflow.python.framework import config as tf_config  # is_/disable_ are not in tf.config

    was_enabled = tf_config.is_op_determinism_enabled()
    if enabled and not was_enabled:
        tf.config.experimental.enable_op_determinism()
    try:
        yield
    finally:
        if enabled and not was_enabled:
            tf_config.disable_op_determinism()


def is_op_determinism_enabled() -> bool:
    """Whether TensorFlow's op determinism is on now (for checks and tests)."""
    from tensorflow.python.framework import config as tf_config

    return bool(tf_config.is_op_determinism_enabled())


@contextlib.contextmanager
def seeded(seed: Optional[int]) -> Iterator[None]:
    """With a seed: Keras's, NumPy's and Python's random generators seeded, and op determinism on, so the same
    inputs, options and seed give byte-identical output on the same machine."""
    if seed is not None:
        import keras

        keras.utils.set_random_seed(seed)
    with op_determinism(seed is not None):
        yield
