"""Keras on TensorFlow: the design's backend. Gradients by `tf.GradientTape`; compiled as a `tf.function` graph whose
image sizes are left open (one trace serves every scale, frame and tile), or XLA-compiled (`jit_compile`); GPUs set
to grow their memory; op determinism for a seeded run."""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
from typing import Any, Callable, Iterator, List, Optional, Tuple

from neural_style.backends.quiet import native_stderr_captured

NAME = "tensorflow"
# Memory growth on a GPU (TensorFlow takes nearly the whole card at start otherwise): on unless this is "0".
MEMORY_GROWTH_VARIABLE = "NEURAL_STYLE_GPU_MEMORY_GROWTH"
# Which compile modes mean what here.
COMPILERS = {"eager": "eager", "graph": "graph", "xla": "XLA"}
# The channel order the network computes in (oneDNN takes channels-last as it is).
DATA_FORMAT = "channels_last"
# TensorFlow's own words about GPUs it could not use, at its most verbose (TF_CPP_MIN_LOG_LEVEL=0).
GPU_REASON_MARKERS = ("cuda", "gpu", "dlopen", "dynamic library", "cudnn", "compute capability", "ptx", "driver")


def start() -> None:
    """Import TensorFlow and Keras and let TensorFlow find its devices, quietly, GPUs set to share (share_gpus);
    where a notebook imported TensorFlow before, only its GPUs are set to share (where they have not started)."""
    if "tensorflow" in sys.modules:
        share_gpus()
        return
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    with native_stderr_captured(), jax_kept_out():
        import keras  # noqa: F401
        import tensorflow as tf

        share_gpus()
        tf.config.list_logical_devices()


@contextlib.contextmanager
def jax_kept_out() -> Iterator[None]:
    """TensorFlow's tf.lite imports JAX where it is installed (the jax extra), for a converter this tool never uses:
    about 80 MB of resident memory and a second of start measured here. JAX is hidden while TensorFlow imports (it
    takes the ImportError as JAX being absent), and importable again after."""
    if "jax" in sys.modules:
        yield
        return
    sys.modules["jax"] = None  # type: ignore[assignment]
    try:
        yield
    finally:
        if sys.modules.get("jax", 0) is None:
            del sys.modules["jax"]


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


def devices() -> List[str]:
    """Every device TensorFlow computes on: '/CPU:0', '/GPU:0', ..."""
    import tensorflow as tf

    return [device.name.replace("/device:", "/") for device in tf.config.list_logical_devices()]


def device_scope(device: str) -> Any:
    import tensorflow as tf

    return tf.device(device)


def version() -> str:
    """'TensorFlow 2.21.0 (CUDA 12.5), Keras 3.15.1'."""
    import keras
    import tensorflow as tf

    info = tf.sysconfig.get_build_info()
    built = f"CUDA {info['cuda_version']}" if info.get("is_cuda_build") else "CPU-only build"
    return f"TensorFlow {tf.__version__} ({built}), Keras {keras.__version__}"


def compute_capability(device: str) -> Optional[Tuple[int, int]]:
    """(major, minor) of an NVIDIA GPU device, None if unknown."""
    import tensorflow as tf

    index = int(device.rsplit(":", 1)[1] or 0)
    gpus = tf.config.list_physical_devices("GPU")
    if index >= len(gpus):
        return None
    capability = tf.config.experimental.get_device_details(gpus[index]).get("compute_capability")
    return tuple(capability) if capability else None


def memory_peak(device: str) -> Optional[float]:
    """The peak bytes TensorFlow allocated on a GPU device since start, None on a CPU."""
    import tensorflow as tf

    if "GPU" not in device.upper():
        return None
    try:
        return float(tf.config.experimental.get_memory_info(device.lstrip("/"))["peak"])
    except (ValueError, RuntimeError):
        return None


def free_memory(device: str) -> Optional[float]:
    """TensorFlow reports no free memory of a card before it runs on it: None (gpus.py asks the driver)."""
    return None


def is_out_of_memory(error: BaseException) -> bool:
    import tensorflow as tf

    return isinstance(error, tf.errors.ResourceExhaustedError)


def is_compile_failure(error: BaseException) -> bool:
    """An XLA compile failing on this platform (a PTX or an unimplemented-op error), not running out of memory."""
    import tensorflow as tf

    return isinstance(error, tf.errors.OpError) and not is_out_of_memory(error)


def _open_spec(value: Any) -> Any:
    # Image-like tensors (1 x H x W x C) with their sizes left open, so one trace serves every scale, frame and tile;
    # everything else (statistics, scalars, tile bounds) with its own shape.
    import tensorflow as tf

    value = tf.convert_to_tensor(value)
    shape = (value.shape[0], None, None, value.shape[3]) if value.shape.rank == 4 else value.shape
    return tf.TensorSpec(shape, value.dtype)


class _Traced:
    """`function` as a tf.function whose signature is taken from its first call's arguments (image sizes open)."""

    def __init__(self, function: Callable, jit_compile: bool) -> None:
        self.function = function
        self.jit_compile = jit_compile
        self.traced: Optional[Callable] = None

    def __call__(self, *arguments: Any) -> Any:
        import tensorflow as tf

        if self.traced is None:
            signature = tf.nest.map_structure(_open_spec, list(arguments))
            self.traced = tf.function(self.function, input_signature=signature, jit_compile=self.jit_compile)
        return self.traced(*arguments)


def _compiled(function: Callable, mode: str) -> Callable:
    if mode == "eager":
        return function
    return _Traced(function, jit_compile=mode == "xla")


def gradient_function(body: Callable, mode: str, static_argnums: tuple = (), variables: tuple = ()) -> Callable:
    """See backends.gradient_function. Tile bounds (static elsewhere) are tensors here: one trace serves every tile."""
    import tensorflow as tf

    def with_gradient(x: Any, *arguments: Any) -> Tuple[Any, Any, Any]:
        with tf.GradientTape() as tape:
            tape.watch(x)
            value, aux = body(x, *arguments)
        return value, aux, tape.gradient(value, x)

    return _compiled(with_gradient, mode)


def forward_function(body: Callable, mode: str, static_argnums: tuple = (), variables: tuple = ()) -> Callable:
    return _compiled(body, mode)


def tile_bounds(values: Tuple[int, ...]) -> Any:
    """A tile's bounds as the traced functions take them: an int32 tensor, so every tile shares one trace."""
    import tensorflow as tf

    return tf.constant(values, tf.int32)


@contextlib.contextmanager
def determinism(enabled: bool) -> Iterator[None]:
    """TensorFlow's op determinism for one run, restored afterwards (it is process-wide, and a notebook's later
    runs should not inherit it)."""
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


def is_deterministic() -> bool:
    """Whether TensorFlow's op determinism is on now (for checks and tests)."""
    from tensorflow.python.framework import config as tf_config

    return bool(tf_config.is_op_determinism_enabled())


def seed(value: int) -> None:
    """Keras's, TensorFlow's, NumPy's and Python's random generators seeded."""
    import keras

    keras.utils.set_random_seed(value)


def set_threads(threads: int) -> None:
    """Compute on `threads` cores (a batch worker sharing the machine with others)."""
    import tensorflow as tf

    try:
        tf.config.threading.set_intra_op_parallelism_threads(threads)
        tf.config.threading.set_inter_op_parallelism_threads(1)
    except RuntimeError:  # already started: it keeps what it has
        pass


def quieten() -> None:
    """No retracing warnings (benchmarks trace variants anew on purpose)."""
    import tensorflow as tf

    tf.get_logger().setLevel("ERROR")


def why_no_gpu(python: str = sys.executable) -> List[str]:
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


__all__ = ["COMPILERS", "MEMORY_GROWTH_VARIABLE", "NAME", "compute_capability", "determinism", "devices",
           "device_scope", "forward_function", "free_memory", "gradient_function", "is_compile_failure",
           "is_deterministic", "is_out_of_memory", "memory_peak", "quieten", "seed", "set_threads", "share_gpus", "start",
           "tile_bounds", "version", "why_no_gpu"]
