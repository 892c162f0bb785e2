"""What every command shares: one-line argument errors, a quiet TensorFlow start, signals that stop a
run cleanly, the device, op determinism, and the wrapper that turns errors and signals into exit statuses.

No command module imports another: each imports this one.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import signal
import sys
import tempfile
from typing import Callable, Iterator, Optional

from neural_style.errors import NeuralStyleError


class OneLineParser(argparse.ArgumentParser):
    """argparse, but a bad flag gets one line and exit status 2 (no usage dump)."""

    def error(self, message: str) -> None:  # type: ignore[override]
        self.exit(2, f"{self.prog}: error: {message} (see --help)\n")


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


class StopOnSignal:
    """SIGINT/SIGTERM: the first asks the run to stop at the next evaluation and save its picture;
    a second one exits at once (every file is written atomically, so none is left broken).
    Called, it answers whether a stop was asked for (the `should_stop` of the API)."""

    SIGNALS = (signal.SIGINT, signal.SIGTERM)

    SAVING = "stopping after the current evaluation and saving the picture"

    def __init__(self, prog: str = "neural-style", stopping: str = SAVING) -> None:
        self.prog = prog
        self.stopping = stopping
        self.received: Optional[int] = None
        self._previous: dict = {}

    def __call__(self) -> bool:
        return self.received is not None

    def _handle(self, signum: int, frame: object) -> None:
        if self.received is not None:
            os._exit(128 + signum)
        self.received = signum
        sys.stderr.write(f"\n{self.prog}: {signal.Signals(signum).name}: {self.stopping} "
                         "(press Ctrl-C again to quit at once)\n")
        sys.stderr.flush()

    def __enter__(self) -> "StopOnSignal":
        for signum in self.SIGNALS:
            self._previous[signum] = signal.signal(signum, self._handle)
        return self

    def __exit__(self, *exc: object) -> None:
        for signum, handler in self._previous.items():
            signal.signal(signum, handler)


def run_command(prog: str, body: Callable[[StopOnSignal], int], stopping: str = StopOnSignal.SAVING) -> int:
    """Run a command's body with TensorFlow started and signals caught; return its exit status:
    the body's own, 2 for a NeuralStyleError (printed as one line), 128 + n after signal n."""
    try:
        with StopOnSignal(prog, stopping) as stop:
            start_tensorflow()
            status = body(stop)
    except NeuralStyleError as error:
        print(f"{prog}: error: {error}", file=sys.stderr)
        return 2
    return 128 + stop.received if stop.received is not None else status


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
