"""What a run runs on, resolved once before anything is planned: the backend (backends/), the device, the arithmetic
(bfloat16 or float16 convolutions where the hardware runs them natively) and the plain graph or the compiler (XLA,
torch.compile, jax.jit); determinism for a seeded run; and a GPU left unused said. On TensorFlow:

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
from dataclasses import dataclass
from typing import Iterator, Optional, Tuple

from neural_style import backends
from neural_style.config import StyleConfig
from neural_style.errors import NeuralStyleError
from neural_style.backends.system_gpus import system_gpus

# CPU flags (Linux /proc/cpuinfo) of instructions that do bfloat16 arithmetic natively.
NATIVE_BFLOAT16_CPU_FLAGS = ("avx512_bf16", "amx_bf16")
# The same, as NumPy's run-time dispatcher names them (it reads CPUID itself, on every system): AVX512_SPR is
# Sapphire Rapids' set, which has AMX and AVX512-BF16.
NATIVE_BFLOAT16_NUMPY_FEATURES = ("AVX512BF16", "AVX512_SPR")
# NVIDIA GPUs from Ampere (compute capability 8.0) on have bfloat16 tensor cores; Volta and Turing (7.x: a V100, a T4,
# Colab's usual card) have float16 ones. Pascal (6.x) runs float16 slowly on most cards: float32 there.
NATIVE_BFLOAT16_GPU_CAPABILITY = (8, 0)
NATIVE_FLOAT16_GPU_CAPABILITY = (7, 0)
# "0" treats this CPU as one without native bfloat16, whatever it reports: `--precision auto` then keeps float32 (for a
# CPU whose bfloat16 is no faster, and to run the tests with another CPU's arithmetic).
CPU_BFLOAT16_VARIABLE = "NEURAL_STYLE_CPU_BFLOAT16"


def is_gpu(device: str) -> bool:
    """Whether a device name ('/GPU:0', '/job:.../device:GPU:1') is a CUDA or ROCm GPU."""
    return "GPU" in device.upper()


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
    """(major, minor) of an NVIDIA GPU device as the backend sees it, None if unknown."""
    return backends.active().compute_capability(device)


def native_precision(device: str, flags: Optional[frozenset] = None,
                     capability: Optional[Tuple[int, int]] = None, backend: str = "tensorflow") -> Tuple[str, str]:
    """The fastest precision `device` runs natively, and the evidence, in words: bfloat16 on a CPU with native
    bfloat16 and on an NVIDIA GPU from Ampere; float16 on Volta and Turing; float32 elsewhere (an Apple GPU, an AMD
    card, a TPU: not measured here)."""
    if device.upper().startswith(("/MPS", "/TPU")):
        return "float32", f"{device.strip('/').split(':')[0]}: reduced precision not measured there"
    if is_gpu(device):
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
    if instructions and backend == "jax":  # measured: 1.52 s an evaluation at 512 px against float32's 1.71
        return "float32", f"{evidence}, which JAX's CPU backend runs no faster in bfloat16"
    return ("bfloat16" if instructions else "float32"), evidence


def resolve_precision(requested: str, device: str, flags: Optional[frozenset] = None,
                      backend: str = "tensorflow") -> Tuple[str, str]:
    """(precision, why): `requested`, or for 'auto' what the device runs natively on the backend (native_precision)."""
    if requested != "auto":
        return requested, "asked for"
    precision, evidence = native_precision(device, flags, backend=backend)
    return precision, f"auto: {evidence}"


def resolve_xla(requested: Optional[bool], device: str, seeded: bool, backend: str = "tensorflow") -> bool:
    """The compiler (XLA on TensorFlow, torch.compile on PyTorch) as asked, else TensorFlow's XLA on a GPU only (JAX
    compiles with XLA whatever this says; torch.compile is not measured to pay, so asked for only); never for a
    seeded run, because TensorFlow has no deterministic XLA max-pool gradient."""
    if seeded:
        return False
    if requested is None:
        return backend == "tensorflow" and is_gpu(device)
    return requested


def compiler_reason(requested: Optional[bool], device: str, seeded: bool, backend: str = "tensorflow") -> str:
    """Why resolve_xla chose what it did, as the start line says it."""
    if seeded:
        return "seeded: never compiled" if backend != "jax" else "seeded; JAX always compiles"
    if requested is not None:
        return "asked for"
    if backend == "jax":
        return "auto: JAX always compiles"
    if backend == "torch":
        return "auto: torch.compile was not measured to pay"
    if is_gpu(device):
        return "auto: XLA on a GPU"
    return "auto: on a CPU the graph beats XLA (4x in bfloat16)"


def start_backend(requested: str = "auto") -> "backends.BackendChoice":
    """The backend chosen and started (quietly, GPUs set to share their memory): backends.activate."""
    return backends.activate(requested)


def gpu_count() -> int:
    """How many GPUs (CUDA, ROCm) the backend sees."""
    return sum(1 for device in backends.active().devices() if device.startswith("/GPU:"))


def resolve_device(requested: Optional[str]) -> str:
    """A device name ('/CPU:0', '/GPU:0', '/MPS:0', '/TPU:0'): the one asked for (checked), else the first GPU (or
    Apple GPU, or TPU), else the CPU."""
    devices = backends.active().devices()
    if requested is None:
        accelerators = [d for d in devices if not d.startswith("/CPU:")]
        return accelerators[0] if accelerators else "/CPU:0"
    name = requested.strip()
    name = name[len("/device:"):] if name.lower().startswith("/device:") else name.lstrip("/")
    kind, _, index = name.partition(":")
    kind = {"CUDA": "GPU"}.get(kind.upper(), kind.upper())
    normalised = f"/{kind}:{index or '0'}"
    if normalised not in devices:
        raise NeuralStyleError(f"unknown device {requested!r}: {backends.chosen().name} sees {', '.join(devices)}")
    return normalised


@dataclass(frozen=True)
class Hardware:
    """What a run resolved about where and how it computes."""

    device: str
    precision: str  # "float32", "bfloat16" or "float16"
    precision_why: str
    xla: bool
    warning: Optional[str] = None  # said in the start line: an NVIDIA GPU present that the backend does not use
    backend: str = "tensorflow"
    backend_why: str = ""
    compiler_why: str = ""

    @property
    def on_gpu(self) -> bool:
        """A card's memory is the backend's to report: nothing is refused or tiled by host memory."""
        return not self.device.upper().startswith("/CPU")

    @property
    def compiler(self) -> str:
        """'graph' or 'XLA' (TensorFlow), 'eager' or 'torch.compile' (PyTorch), 'jax.jit' (JAX)."""
        return backends.module(self.backend).COMPILERS["xla" if self.xla else "graph"]

    def arithmetic(self) -> str:
        """'bfloat16 (auto: CPU with AVX512_BF16), graph (auto: ...)': the precision, how the objective is compiled,
        and why each."""
        compiler_why = f" ({self.compiler_why})" if self.compiler_why else ""
        return f"{self.precision} ({self.precision_why}), {self.compiler}{compiler_why}"

    def describe(self) -> str:
        why = f" ({self.backend_why})" if self.backend_why else ""
        return f"{self.backend}{why} on device {self.device}; {self.arithmetic()}"


def unused_gpu_warning(device: str, requested: Optional[str]) -> Optional[str]:
    """One line when this machine has an NVIDIA GPU (its driver says so) but the backend computes on the CPU without
    being asked to; None otherwise."""
    if is_gpu(device) or (requested is not None and "CPU" in requested.upper()):
        return None
    gpus = system_gpus()
    if not gpus:
        return None
    return (f"warning: this machine has {gpus[0].name}{f' and {len(gpus) - 1} more' if len(gpus) > 1 else ''} but "
            f"{backends.DISPLAY_NAMES[backends.chosen().name]} computes on the CPU: run `neural-style doctor` to see why")


def resolve_hardware(config: "StyleConfig", flags: Optional[frozenset] = None) -> Hardware:
    """The backend (`--backend`), the device (`--device`, else the first GPU, else the CPU), then the precision and
    the compiler for it."""
    choice = start_backend(config.backend)
    device = resolve_device(config.device)
    precision, why = resolve_precision(config.precision, device, flags, choice.name)
    seeded = config.seed is not None
    return Hardware(device, precision, why, resolve_xla(config.xla, device, seeded, choice.name),
                    unused_gpu_warning(device, config.device), choice.name,
                    choice.why + (f"; {choice.advice}" if choice.advice else ""),
                    compiler_reason(config.xla, device, seeded, choice.name))


def op_determinism(enabled: bool) -> "contextlib.AbstractContextManager":
    """The backend's deterministic kernels for one run, restored afterwards (process-wide: a notebook's later runs
    should not inherit them)."""
    return backends.active().determinism(enabled)


def is_op_determinism_enabled() -> bool:
    """Whether the backend's deterministic kernels are on now (for checks and tests)."""
    return bool(backends.active().is_deterministic())


@contextlib.contextmanager
def seeded(seed: Optional[int]) -> Iterator[None]:
    """With a seed: the backend's, NumPy's and Python's random generators seeded, and op determinism on, so the same
    inputs, options and seed give byte-identical output on the same machine."""
    if seed is not None:
        backends.active().seed(seed)
    with op_determinism(seed is not None):
        yield
