"""Keras on PyTorch: NVIDIA cards on native Windows and Linux (CUDA), Apple-silicon GPUs (MPS), AMD cards (ROCm, which
PyTorch presents as CUDA), and the CPU. Gradients by `torch.autograd.grad`; run eagerly ('graph': PyTorch has no
graph of its own to trace) or compiled by `torch.compile` ('xla', shapes dynamic so scales and tiles share it)."""

from __future__ import annotations

import contextlib
import os
from typing import Any, Callable, Iterator, List, Optional, Tuple

NAME = "torch"
COMPILERS = {"eager": "eager", "graph": "eager", "xla": "torch.compile"}
# The channel order the network computes in: PyTorch's own. In channels-last, Keras converts each convolution's input
# and output (and kernel) between orders: 25% of an evaluation at 512 px in float32 and 40% in bfloat16 here.
DATA_FORMAT = "channels_first"
# cuBLAS's deterministic mode (PyTorch's reproducibility notes): set before CUDA starts.
CUBLAS_WORKSPACE_VARIABLE = "CUBLAS_WORKSPACE_CONFIG"


def start() -> None:
    """Import PyTorch and Keras on it. CUDA's caching allocator already takes a card's memory as it needs it."""
    import keras  # noqa: F401
    import torch  # noqa: F401


def devices() -> List[str]:
    """'/CPU:0', then '/GPU:N' for each CUDA (or ROCm) card, '/MPS:0' for an Apple-silicon GPU."""
    import torch

    found = ["/CPU:0"]
    if torch.cuda.is_available():
        found += [f"/GPU:{index}" for index in range(torch.cuda.device_count())]
    if getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available():
        found.append("/MPS:0")
    return found


def torch_device(device: str) -> str:
    """PyTorch's name of one of our devices: '/GPU:1' -> 'cuda:1', '/MPS:0' -> 'mps', '/CPU:0' -> 'cpu'."""
    kind, _, index = device.strip("/").partition(":")
    kind = kind.upper()
    if kind == "GPU":
        return f"cuda:{index or 0}"
    return "mps" if kind == "MPS" else "cpu"


def device_scope(device: str) -> Any:
    import keras

    return keras.device(torch_device(device))


def version() -> str:
    import keras
    import torch

    built = (f"ROCm {torch.version.hip}" if getattr(torch.version, "hip", None)
             else f"CUDA {torch.version.cuda}" if torch.version.cuda else "CPU-only build")
    return f"PyTorch {torch.__version__} ({built}), Keras {keras.__version__}"


def compute_capability(device: str) -> Optional[Tuple[int, int]]:
    """(major, minor) of a CUDA card (None for ROCm, MPS and the CPU: no NVIDIA capability)."""
    import torch

    if not device.upper().startswith("/GPU") or not torch.cuda.is_available() or getattr(torch.version, "hip", None):
        return None
    return tuple(torch.cuda.get_device_capability(int(device.rsplit(":", 1)[1] or 0)))


def memory_peak(device: str) -> Optional[float]:
    """The peak bytes PyTorch allocated on a card since start, None elsewhere."""
    import torch

    if device.upper().startswith("/GPU"):
        return float(torch.cuda.max_memory_allocated(torch_device(device)))
    if device.upper().startswith("/MPS"):
        return float(torch.mps.driver_allocated_memory())
    return None


def free_memory(device: str) -> Optional[float]:
    """Free bytes on a CUDA or ROCm card (what the driver says), None elsewhere."""
    import torch

    if not device.upper().startswith("/GPU"):
        return None
    free, _ = torch.cuda.mem_get_info(torch_device(device))
    return float(free)


def is_out_of_memory(error: BaseException) -> bool:
    import torch

    return isinstance(error, torch.OutOfMemoryError) or "out of memory" in str(error).lower()


def is_compile_failure(error: BaseException) -> bool:
    """torch.compile failing here (no C compiler, an operation Inductor cannot lower), not running out of memory."""
    import torch._dynamo.exc as dynamo_errors

    return isinstance(error, dynamo_errors.TorchDynamoException) and not is_out_of_memory(error)


def _compiled(function: Callable, mode: str) -> Callable:
    if mode != "xla":
        return function
    import warnings

    import torch

    # Dynamo's note on Keras's cached dtype lattice: the cache only saves time; noise on every run.
    warnings.filterwarnings("ignore", message="Dynamo detected a call to a `functools.lru_cache`")
    return torch.compile(function, dynamic=True)


def gradient_function(body: Callable, mode: str, static_argnums: tuple = (), variables: tuple = ()) -> Callable:
    """See backends.gradient_function: x's leaves become leaves of autograd, and the gradient is taken of them alone
    (the network's weights are frozen: features/vgg19.py)."""
    import keras
    import torch

    compiled = _compiled(body, mode)

    def run(x: Any, *arguments: Any) -> Tuple[Any, Any, Any]:
        leaves = [keras.ops.convert_to_tensor(leaf).detach().requires_grad_(True) for leaf in keras.tree.flatten(x)]
        with torch.enable_grad():
            value, aux = compiled(keras.tree.pack_sequence_as(x, leaves), *arguments)
            gradients = torch.autograd.grad(value, leaves, allow_unused=True)
        gradients = [torch.zeros_like(leaf) if g is None else g for leaf, g in zip(leaves, gradients)]
        detached = keras.tree.map_structure(lambda t: t.detach() if isinstance(t, torch.Tensor) else t, aux)
        return value.detach(), detached, keras.tree.pack_sequence_as(x, gradients)

    return run


def forward_function(body: Callable, mode: str, static_argnums: tuple = (), variables: tuple = ()) -> Callable:
    import torch

    compiled = _compiled(body, mode)

    def run(*arguments: Any) -> Any:
        with torch.no_grad():
            return compiled(*arguments)

    return run


def tile_bounds(values: Tuple[int, ...]) -> Tuple[int, ...]:
    """A tile's bounds as Python numbers (PyTorch slices by them eagerly)."""
    return tuple(int(value) for value in values)


@contextlib.contextmanager
def determinism(enabled: bool) -> Iterator[None]:
    """PyTorch's deterministic algorithms for one run, restored afterwards."""
    import torch

    was_enabled = torch.are_deterministic_algorithms_enabled()
    if enabled and not was_enabled:
        os.environ.setdefault(CUBLAS_WORKSPACE_VARIABLE, ":4096:8")
        torch.use_deterministic_algorithms(True)
    try:
        yield
    finally:
        if enabled and not was_enabled:
            torch.use_deterministic_algorithms(False)


def is_deterministic() -> bool:
    import torch

    return bool(torch.are_deterministic_algorithms_enabled())


def seed(value: int) -> None:
    """PyTorch's, NumPy's and Python's random generators seeded (not Keras's set_random_seed: it imports TensorFlow
    where it is installed)."""
    import random

    import numpy as np
    import torch

    random.seed(value)
    np.random.seed(value)
    torch.manual_seed(value)


def set_threads(threads: int) -> None:
    import torch

    torch.set_num_threads(threads)


def quieten() -> None:
    pass


__all__ = ["COMPILERS", "NAME", "compute_capability", "determinism", "devices", "device_scope", "forward_function",
           "free_memory", "gradient_function", "is_compile_failure", "is_deterministic", "is_out_of_memory",
           "memory_peak", "quieten", "seed", "set_threads", "start", "tile_bounds", "torch_device", "version"]
