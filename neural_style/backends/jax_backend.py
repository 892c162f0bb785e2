"""Keras on JAX: NVIDIA cards (CUDA), TPUs and the CPU. Gradients by `jax.value_and_grad`; every mode but 'eager' is
`jax.jit` (XLA: JAX's only compiler), which specialises on shapes, so each new image size or tile shape compiles
once. The network's weights are arguments of the compiled function (through Keras's StatelessScope), not constants
folded into it. float64 is on (`jax_enable_x64`): the Wasserstein term's eigendecomposition needs it."""

from __future__ import annotations

import contextlib
import os
import warnings
from typing import Any, Callable, Iterator, List, Optional, Tuple

NAME = "jax"
COMPILERS = {"eager": "eager", "graph": "jax.jit", "xla": "jax.jit"}
# The channel order the network computes in (XLA chooses its own layouts).
DATA_FORMAT = "channels_last"


def start() -> None:
    """Import JAX (float64 on) and Keras on it, quietly; a GPU's memory taken as needed, not 75% at start."""
    os.environ.setdefault("XLA_PYTHON_CLIENT_PREALLOCATE", "false")
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    from neural_style.backends.quiet import native_stderr_captured

    # JAX warns at every fork; this tool forks only to exec (FFmpeg through subprocess), and its worker processes are
    # spawned, so the warning would be noise on every video.
    warnings.filterwarnings("ignore", message=r"os\.fork\(\) was called", category=RuntimeWarning)
    with native_stderr_captured():
        import jax

        jax.config.update("jax_enable_x64", True)
        import keras  # noqa: F401

        jax.devices()


def _our_name(device: Any) -> str:
    kind = {"cpu": "CPU", "gpu": "GPU", "cuda": "GPU", "rocm": "GPU", "tpu": "TPU"}.get(device.platform, "CPU")
    return f"/{kind}:{device.id if kind != 'CPU' else 0}"


def devices() -> List[str]:
    """'/CPU:0', then '/GPU:N' or '/TPU:N' for each accelerator JAX sees."""
    import jax

    found = ["/CPU:0"]
    try:
        accelerators = [device for device in jax.devices() if device.platform != "cpu"]
    except RuntimeError:
        accelerators = []
    return found + [f"/{_our_name(device).strip('/').split(':')[0]}:{index}" for index, device in
                    enumerate(accelerators)]


def jax_device(device: str) -> Any:
    import jax

    kind, _, index = device.strip("/").partition(":")
    if kind.upper() == "CPU":
        return jax.devices("cpu")[0]
    return [d for d in jax.devices() if d.platform != "cpu"][int(index or 0)]


def device_scope(device: str) -> Any:
    import jax

    return jax.default_device(jax_device(device))


def version() -> str:
    import jax
    import keras

    platforms = sorted({device.platform for device in jax.devices()})
    return f"JAX {jax.__version__} ({', '.join(platforms)}), Keras {keras.__version__}"


def compute_capability(device: str) -> Optional[Tuple[int, int]]:
    if not device.upper().startswith("/GPU"):
        return None
    text = getattr(jax_device(device), "compute_capability", None)
    try:
        major, minor = str(text).split(".")
        return int(major), int(minor)
    except ValueError:
        return None


def _memory_stats(device: str) -> dict:
    if device.upper().startswith("/CPU"):
        return {}
    try:
        return jax_device(device).memory_stats() or {}
    except (RuntimeError, AttributeError):
        return {}


def memory_peak(device: str) -> Optional[float]:
    peak = _memory_stats(device).get("peak_bytes_in_use")
    return None if peak is None else float(peak)


def free_memory(device: str) -> Optional[float]:
    stats = _memory_stats(device)
    if "bytes_limit" not in stats:
        return None
    return float(stats["bytes_limit"] - stats.get("bytes_in_use", 0))


def is_out_of_memory(error: BaseException) -> bool:
    return "RESOURCE_EXHAUSTED" in str(error) or "out of memory" in str(error).lower()


def is_compile_failure(error: BaseException) -> bool:
    """XLA failing to compile here (not running out of memory): JAX has no other compiler, so this is final."""
    return False


def _stateless(body: Callable, variables: tuple) -> Callable:
    # body with the Keras variables it reads taken from a first argument (so jax.jit passes them, not folds them).
    import keras

    def pure(values: list, *arguments: Any) -> Any:
        with keras.StatelessScope(state_mapping=list(zip(variables, values))):
            return body(*arguments)

    return pure


def _run(function: Callable, mode: str, static_argnums: tuple, variables: tuple) -> Callable:
    import jax

    variables = tuple(variables)
    compiled = function if mode == "eager" else jax.jit(function, static_argnums=tuple(1 + i for i in static_argnums))

    def run(*arguments: Any) -> Any:
        return compiled([variable.value for variable in variables], *arguments)

    return run


def gradient_function(body: Callable, mode: str, static_argnums: tuple = (), variables: tuple = ()) -> Callable:
    """See backends.gradient_function."""
    import jax

    value_and_gradient = jax.value_and_grad(_stateless(body, tuple(variables)), argnums=1, has_aux=True)

    def with_gradient(values: list, x: Any, *arguments: Any) -> Tuple[Any, Any, Any]:
        (value, aux), gradient = value_and_gradient(values, x, *arguments)
        return value, aux, gradient

    return _run(with_gradient, mode, static_argnums, tuple(variables))


def forward_function(body: Callable, mode: str, static_argnums: tuple = (), variables: tuple = ()) -> Callable:
    return _run(_stateless(body, tuple(variables)), mode, static_argnums, tuple(variables))


def tile_bounds(values: Tuple[int, ...]) -> Tuple[int, ...]:
    """A tile's bounds as Python numbers: static arguments of the compiled functions (a slice's size must be known
    when JAX compiles), so each distinct tile shape compiles once."""
    return tuple(int(value) for value in values)


@contextlib.contextmanager
def determinism(enabled: bool) -> Iterator[None]:
    """JAX's CPU and GPU kernels are deterministic but for some scatter reductions the objective does not use."""
    yield


def is_deterministic() -> bool:
    return True


def seed(value: int) -> None:
    """NumPy's and Python's random generators seeded (JAX's are explicit keys; Keras's set_random_seed imports
    TensorFlow where it is installed)."""
    import random

    import numpy as np

    random.seed(value)
    np.random.seed(value)


def set_threads(threads: int) -> None:
    """JAX's CPU threads are fixed when it starts: set through XLA_FLAGS by the batch worker before it imports."""


def quieten() -> None:
    pass


__all__ = ["COMPILERS", "NAME", "compute_capability", "determinism", "devices", "device_scope", "forward_function",
           "free_memory", "gradient_function", "is_compile_failure", "is_deterministic", "is_out_of_memory",
           "jax_device", "memory_peak", "quieten", "seed", "set_threads", "start", "tile_bounds", "version"]
