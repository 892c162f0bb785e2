"""Which framework Keras computes on (TensorFlow, PyTorch or JAX), chosen once per process before Keras is imported.

Everything in this package but the three backend modules is framework-free: the choice (`choose_backend`) reads the
platform, the installed packages and the machine's NVIDIA cards without importing a framework. The rest of the tool
speaks `keras.ops` and Keras layers; what differs between frameworks — the value and gradient of a function of the
picture, compiling it, the devices and their memory, determinism, out of memory — is asked of `active()`, the
module of the backend Keras runs on (tensorflow_backend.py, torch_backend.py, jax_backend.py), and nowhere else.
"""

from __future__ import annotations

import importlib
import importlib.util
import os
import platform as platform_module
import sys
from dataclasses import dataclass
from typing import Any, Callable, Mapping, Optional

from neural_style.errors import NeuralStyleError

BACKENDS = ("tensorflow", "torch", "jax")
BACKEND_CHOICES = ("auto",) + BACKENDS
# Keras's own variable: honoured by `auto`, and how the choice reaches Keras.
KERAS_BACKEND_VARIABLE = "KERAS_BACKEND"
# The Python module each backend needs, and the extra of this package that installs it.
FRAMEWORK_MODULES = {"tensorflow": "tensorflow", "torch": "torch", "jax": "jax"}
EXTRAS = {"tensorflow": None, "torch": "torch", "jax": "jax"}
# How each backend is named to a user.
DISPLAY_NAMES = {"tensorflow": "TensorFlow", "torch": "PyTorch", "jax": "JAX"}
# Our module of each backend (in this package).
BACKEND_MODULES = {"tensorflow": "tensorflow_backend", "torch": "torch_backend", "jax": "jax_backend"}


@dataclass(frozen=True)
class Platform:
    """What `auto` reads of the machine: its system and processor, which frameworks are installed, whether it has an
    NVIDIA card (the driver says so) or an AMD card with ROCm."""

    system: str  # "Linux", "Windows", "Darwin"
    machine: str  # "x86_64", "AMD64", "arm64"
    installed: Mapping[str, bool]
    nvidia_gpu: bool
    rocm: bool

    @property
    def apple_silicon(self) -> bool:
        return self.system == "Darwin" and self.machine in ("arm64", "aarch64")


def installed(name: str) -> bool:
    """Whether the framework of backend `name` can be imported (found, not imported)."""
    return importlib.util.find_spec(FRAMEWORK_MODULES[name]) is not None


def this_platform() -> Platform:
    """This machine as `auto` sees it."""
    from neural_style.backends.system_gpus import system_gpus

    system = platform_module.system()
    return Platform(system, platform_module.machine(), {name: installed(name) for name in BACKENDS},
                    nvidia_gpu=bool(system_gpus()) if system in ("Linux", "Windows") else False,
                    rocm=system == "Linux" and os.path.exists("/dev/kfd") and os.path.isdir("/opt/rocm"))


@dataclass(frozen=True)
class BackendChoice:
    """The backend a process computes on, why, and (where a better one exists for this machine) what to install."""

    name: str
    why: str
    advice: Optional[str] = None

    def describe(self) -> str:
        return f"{self.name} ({self.why})" + (f"; {self.advice}" if self.advice else "")


def _install_line(name: str) -> str:
    return f"pip install 'neural-style-keras[{EXTRAS[name]}]'" if EXTRAS[name] else "pip install tensorflow"


def _torch_platform_reason(platform: Platform) -> Optional[str]:
    """Why PyTorch serves this machine's GPU where TensorFlow cannot, or None where TensorFlow can."""
    if platform.system == "Windows" and platform.nvidia_gpu:
        return "native Windows with an NVIDIA card: TensorFlow's last Windows GPU build was 2.10"
    if platform.apple_silicon:
        return "Apple silicon: PyTorch computes on its GPU (MPS); TensorFlow has no maintained Metal plugin"
    if platform.rocm:
        return "an AMD card with ROCm: PyTorch's ROCm build computes on it"
    return None


def choose_backend(requested: str = "auto", platform: Optional[Platform] = None,
                   environment: Optional[Mapping[str, str]] = None, loaded: Optional[str] = None) -> BackendChoice:
    """The backend a run asked for (checked: installed), or for 'auto': Keras's own where it was imported already
    (`loaded`), else $KERAS_BACKEND, else PyTorch where TensorFlow cannot use this machine's GPU and PyTorch is
    installed (native Windows with an NVIDIA card, Apple silicon, ROCm), else TensorFlow (the design's backend), else
    whichever of PyTorch and JAX is installed."""
    environment = os.environ if environment is None else environment
    if requested not in BACKEND_CHOICES:
        raise NeuralStyleError(f"unknown backend {requested!r}: choose one of {', '.join(BACKEND_CHOICES)}")
    platform = platform or this_platform()
    if requested != "auto":
        if not platform.installed.get(requested):
            raise NeuralStyleError(f"--backend {requested} needs {FRAMEWORK_MODULES[requested]}, which is not "
                                   f"installed: {_install_line(requested)}")
        return BackendChoice(requested, "asked for")
    if loaded:
        return BackendChoice(loaded, "Keras was imported on it before")
    variable = environment.get(KERAS_BACKEND_VARIABLE, "").strip().lower()
    if variable:
        if variable not in BACKENDS:
            raise NeuralStyleError(f"{KERAS_BACKEND_VARIABLE}={variable} is not a backend this tool runs on: "
                                   f"set it to one of {', '.join(BACKENDS)}, or unset it")
        if not platform.installed.get(variable):
            raise NeuralStyleError(f"{KERAS_BACKEND_VARIABLE}={variable} needs {FRAMEWORK_MODULES[variable]}, which "
                                   f"is not installed: {_install_line(variable)}, or unset it")
        return BackendChoice(variable, f"{KERAS_BACKEND_VARIABLE}={variable}")
    torch_reason = _torch_platform_reason(platform)
    if torch_reason:
        if platform.installed.get("torch"):
            return BackendChoice("torch", f"auto: {torch_reason}")
        fallback = next((name for name in BACKENDS if platform.installed.get(name)), None)
        if fallback is None:
            raise NeuralStyleError(f"no backend installed: {_install_line('torch')}")
        return BackendChoice(fallback, "auto: PyTorch is not installed, so the CPU computes",
                             f"for the GPU ({torch_reason.split(':')[0]}): {_install_line('torch')}")
    for name in BACKENDS:
        if platform.installed.get(name):
            why = "auto: the design's backend" if name == "tensorflow" else "auto: TensorFlow is not installed"
            return BackendChoice(name, why)
    raise NeuralStyleError("no backend installed: pip install tensorflow (or the torch or jax extra)")


def loaded_backend() -> Optional[str]:
    """The backend Keras was imported on in this process, or None where Keras is not imported yet."""
    if "keras" not in sys.modules:
        return None
    import keras

    return keras.backend.backend()


def activate(requested: str = "auto") -> BackendChoice:
    """Choose the backend (choose_backend) and start it: Keras imported on it (quietly), its GPUs set to share their
    memory. A process runs one backend: asking for another after Keras was imported is refused in one line."""
    loaded = loaded_backend()
    if loaded in _CHOSEN and requested in ("auto", loaded):
        return _CHOSEN[loaded]  # started already, by this tool
    choice = choose_backend(requested, loaded=loaded if requested == "auto" else None)
    if loaded is not None and loaded != choice.name:
        raise NeuralStyleError(f"this process computes on {loaded} (Keras was imported on it): --backend "
                               f"{choice.name} needs a new process (or {KERAS_BACKEND_VARIABLE}={choice.name} set "
                               "before Keras is imported)")
    if loaded is None:
        # Keras reads the variable as it is imported (in start); restored after, so that this process's choice is
        # not mistaken for the user's by the processes it starts (a batch's workers choose as it did).
        previous = os.environ.get(KERAS_BACKEND_VARIABLE)
        os.environ[KERAS_BACKEND_VARIABLE] = choice.name
        try:
            module(choice.name).start()
        finally:
            if previous is None:
                os.environ.pop(KERAS_BACKEND_VARIABLE, None)
            else:
                os.environ[KERAS_BACKEND_VARIABLE] = previous
    else:
        module(choice.name).start()
    _CHOSEN[choice.name] = choice
    return choice


# The choice of this process, kept for the start line and doctor (a process runs one backend).
_CHOSEN: dict = {}


def chosen() -> BackendChoice:
    """The backend this process computes on and why (activating `auto` where nothing chose one yet)."""
    name = loaded_backend()
    return _CHOSEN[name] if name in _CHOSEN else activate("auto")


def module(name: str) -> Any:
    """Our module of backend `name` (importing it imports the framework)."""
    return importlib.import_module(f"neural_style.backends.{BACKEND_MODULES[name]}")


def active() -> Any:
    """Our module of the backend this process computes on (started on `auto` where none was chosen)."""
    return module(chosen().name)


def gradient_function(body: Callable, mode: str = "eager", static_argnums: tuple = (), variables: tuple = ()
                      ) -> Callable:
    """`body(x, *args) -> (value, aux)` made `f(x, *args) -> (value, aux, d value / d x)` (x a tensor or a nest of
    them), run eagerly, as a graph, or compiled (`mode`: 'eager', 'graph', 'xla'; see each backend). Arguments at
    `static_argnums` (counted in (x, *args)) are Python values a compiled function specialises on; `variables` are the
    Keras variables `body` reads (a JAX-compiled function takes them as arguments, not constants)."""
    return active().gradient_function(body, mode, static_argnums, variables)


def forward_function(body: Callable, mode: str = "eager", static_argnums: tuple = (), variables: tuple = ()
                     ) -> Callable:
    """`body(*args)` without gradients, run as `gradient_function` runs its body."""
    return active().forward_function(body, mode, static_argnums, variables)


def device_scope(device: str) -> Any:
    """A context in which tensors and computations are placed on `device` ('/CPU:0', '/GPU:0', '/MPS:0')."""
    return active().device_scope(device)


__all__ = ["BACKENDS", "BACKEND_CHOICES", "BackendChoice", "DISPLAY_NAMES", "KERAS_BACKEND_VARIABLE", "Platform", "activate", "active",
           "choose_backend", "chosen", "device_scope", "forward_function", "gradient_function", "installed",
           "loaded_backend", "module", "this_platform"]
