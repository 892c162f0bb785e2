"""What a run runs on, resolved once before anything is planned: the device, the arithmetic (bfloat16 or float16
convolutions where the hardware runs them natively) and the plain TensorFlow graph or XLA; op determinism
for a seeded run; TensorFlow started quietly, its GPUs set to share their memory; and a GPU left unused said.

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
from typing import Iterator, List, Optional, Tuple

from neural_style.config import StyleConfig
from neural_style.errors import NeuralStyleError
from neural_style.gpus import system_gpus

# CPU flags (Linux /proc/cpuinfo) of instructions that do bfloat16 arithmetic natively.
NATIVE_BFLOAT16_CPU_FLAGS = ("avx512_bf16", "amx_bf16")
# The same, as NumPy's run-time dispatcher names them (it reads CPUID itself, on every system): AVX512_SPR is
# Sapphire Rapids' set, which has AMX and AVX512-BF16.
NATIVE_BFLOAT16_NUMPY_FEATURES = ("AVX512BF16", "AVX512_SPR")
# NVIDIA GPUs from Ampere (compute capability 8.0) on have bfloat16 tensor cores; Volta and Turing (7.x: a V100, a T4,
# Colab's usual card) have float16 ones. Pascal (6.x) runs float16 slowly on most cards: float32 there.
NATIVE_BFLOAT16_GPU_CAPABILITY = (8, 0)
NATIVE_FLOAT16_GPU_CAPABILITY = (7, 0)
# Memory growth on a GPU (TensorFlow takes nearly the whole card at start otherwise): on unless this is "0".
MEMORY_GROWTH_VARIABLE = "NEURAL_STYLE_GPU_MEMORY_GROWTH"
# "0" treats this CPU as one without native bfloat16, whatever it reports: `--precision auto` then keeps float32 (for a
# CPU whose bfloat16 is no faster, and to run the tests with another CPU's arithmetic).
CPU_BFLOAT16_VARIABLE = "NEURAL_STYLE_CPU_BFLOAT16"


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


def numpy_cpu_features() -> frozenset:
    """The CPU features NumPy found at run time (from CPUID, on Linux, macOS and Windows alike)."""
    try:
        from numpy._core._multiarray_umath import __cpu_features__ as features
    except ImportError:  # NumPy before 2.0
        try:
            from numpy.core._multiarray_umath import __cpu_features__ as features
        except ImportError:
            return frozenset()
    return frozenset(name for name, present in features.items() if present)


def apple_feature(name: str) -> bool:
    """Whether macOS says this Apple silicon has an ARM feature (sysctl hw.optional.arm.NAME)."""
    if sys.platform != "darwin":
        return False
    import subprocess

    try:
        done = subprocess.run(["sysctl", "-n", f"hw.optional.arm.{name}"], capture_output=True, text=True, timeout=5)
    except (OSError, subprocess.TimeoutExpired):
        return False
    return done.stdout.strip() == "1"


def native_bfloat16_cpu(flags: Optional[frozenset] = None, features: Optional[frozenset] = None,
                        apple_bf16: Optional[bool] = None) -> Tuple[Optional[str], str]:
    """The CPU's native bfloat16 instructions, found portably: (the one auto may use, or None; the evidence).
    Linux's /proc/cpuinfo flags, else NumPy's CPUID features (macOS and Windows on x86), else macOS's word on Apple
    silicon. TensorFlow runs bfloat16 convolutions natively through oneDNN on x86 only: Apple silicon's FEAT_BF16 is
    reported, and auto keeps float32 there (not measured to pay). The machine's own CPU is read only where neither
    `flags` nor `features` is given, and counts as without bfloat16 where NEURAL_STYLE_CPU_BFLOAT16 is 0."""
    if flags is None and features is None and os.environ.get(CPU_BFLOAT16_VARIABLE) == "0":
        return None, f"CPU taken as without native bfloat16 ({CPU_BFLOAT16_VARIABLE}=0)"
    flags = cpu_flags() if flags is None else flags
    found = [flag for flag in NATIVE_BFLOAT16_CPU_FLAGS if flag in flags]
    if found:
        return found[0].upper(), f"CPU with {found[0].upper()}"
    if flags:  # Linux says what the CPU has
        return None, "CPU without AVX512-BF16 or AMX"
    features = numpy_cpu_features() if features is None else features
    found = [feature for feature in NATIVE_BFLOAT16_NUMPY_FEATURES if feature in features]
    if found:
        return found[0], f"CPU with {found[0]}"
    if apple_feature("FEAT_BF16") if apple_bf16 is None else apple_bf16:
        return None, "Apple silicon with FEAT_BF16, which TensorFlow's CPU kernels do not run natively"
    return None, "CPU without AVX512-BF16 or AMX"


def gpu_compute_capability(device: str) -> Optional[Tuple[int, int]]:
    """(major, minor) of a TensorFlow GPU device, None if unknown."""
    import tensorflow as tf

    index = int(device.rsplit(":", 1)[1] or 0)
    gpus = tf.config.list_physical_devices("GPU")
    if index >= len(gpus):
        return None
    capability = tf.config.experimental.get_device_details(gpus[index]).get("compute_capability")
    return tuple(capability) if capability else None


def native_precision(device: str, flags: Optional[frozenset] = None,
                     capability: Optional[Tuple[int, int]] = None) -> Tuple[str, str]:
    """The fastest precision `device` runs natively, and the evidence, in words: bfloat16 on a CPU with native
    bfloat16 and on an NVIDIA GPU from Ampere; float16 on Volta and Turing; float32 elsewhere."""
    if "GPU" in device.upper():
        capability = gpu_compute_capability(device) if capability is None else capability
        if capability is None:
            return "float32", "GPU of unknown compute capability"
        evidence = f"GPU compute capability {capability[0]}.{capability[1]}"
        if capability >= NATIVE_BFLOAT16_GPU_CAPABILITY:
            return "bfloat16", evidence
        if capability >= NATIVE_FLOAT16_GPU_CAPABILITY:
            return "float16", evidence
        return "float32", evidence
    instructions, evidence = native_bfloat16_cpu(flags)
    return ("bfloat16" if instructions else "float32"), evidence


def native_bfloat16(device: str, flags: Optional[frozenset] = None) -> Tuple[bool, str]:
    """Whether `device` runs bfloat16 natively, and the evidence, in words."""
    precision, evidence = native_precision(device, flags)
    return precision == "bfloat16", evidence


def resolve_precision(requested: str, device: str, flags: Optional[frozenset] = None) -> Tuple[str, str]:
    """(precision, why): `requested`, or for 'auto' what the device runs natively (native_precision)."""
    if requested != "auto":
        return requested, "asked for"
    precision, evidence = native_precision(device, flags)
    return precision, f"auto: {evidence}"


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


def share_gpus() -> List[str]:
    """Let TensorFlow take a GPU's memory as it needs it (memory growth), not nearly all of it at start, so a
    notebook, a second run or another program can share the card; $NEURAL_STYLE_GPU_MEMORY_GROWTH=0 keeps
    TensorFlow's own way. Must run before TensorFlow uses a GPU: where it already has, the card keeps what it was
    given. Returns the GPUs set to grow."""
    import tensorflow as tf

    if os.environ.get(MEMORY_GROWTH_VARIABLE, "1").strip() == "0":
        return []
    grown = []
    for gpu in tf.config.list_physical_devices("GPU"):
        try:
            tf.config.experimental.set_memory_growth(gpu, True)
            grown.append(gpu.name)
        except (RuntimeError, ValueError):  # already initialised: it keeps what it has
            pass
    return grown


def start_tensorflow() -> None:
    """Import TensorFlow and let it find its devices, quietly, GPUs set to share (share_gpus); nothing where it is
    imported already (by this tool, or by a notebook before it)."""
    if "tensorflow" in sys.modules:
        return
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    with native_stderr_captured():
        import keras  # noqa: F401
        import tensorflow as tf

        share_gpus()
        tf.config.list_logical_devices()


def gpu_count() -> int:
    """How many GPUs TensorFlow sees (started quietly)."""
    start_tensorflow()
    import tensorflow as tf

    return len(tf.config.list_physical_devices("GPU"))


def resolve_device(requested: Optional[str]) -> str:
    """A TensorFlow device name: the one asked for (checked), else the first GPU, else the CPU."""
    start_tensorflow()  # quietly, at the first need (a no-op once started)
    import tensorflow as tf

    share_gpus()  # where TensorFlow was imported before (a notebook's), before its GPUs start; else a no-op
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
    precision: str  # "float32", "bfloat16" or "float16"
    precision_why: str
    xla: bool
    warning: Optional[str] = None  # said in the start line: an NVIDIA GPU present that TensorFlow does not use

    @property
    def on_gpu(self) -> bool:
        """A GPU's memory is TensorFlow's to report: nothing is refused or tiled by host memory."""
        return "GPU" in self.device.upper()

    def arithmetic(self) -> str:
        """'bfloat16 (auto: CPU with AVX512_BF16), graph': the precision, why, and graph or XLA."""
        return f"{self.precision} ({self.precision_why}), {'XLA' if self.xla else 'graph'}"

    def describe(self) -> str:
        return f"device {self.device}; {self.arithmetic()}"


def unused_gpu_warning(device: str, requested: Optional[str]) -> Optional[str]:
    """One line when this machine has an NVIDIA GPU (its driver says so) but TensorFlow computes on the CPU without
    being asked to; None otherwise."""
    if "GPU" in device.upper() or (requested is not None and "CPU" in requested.upper()):
        return None
    gpus = system_gpus()
    if not gpus:
        return None
    return (f"warning: this machine has {gpus[0].name}{f' and {len(gpus) - 1} more' if len(gpus) > 1 else ''} but "
            "TensorFlow computes on the CPU: run `neural-style doctor` to see why")


def resolve_hardware(config: "StyleConfig", flags: Optional[frozenset] = None) -> Hardware:
    """The device (`--device`, else the first GPU, else the CPU), then the precision and XLA for it."""
    device = resolve_device(config.device)
    precision, why = resolve_precision(config.precision, device, flags)
    return Hardware(device, precision, why, resolve_xla(config.xla, device, config.seed is not None),
                    unused_gpu_warning(device, config.device))


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
