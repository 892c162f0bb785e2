"""What runs one batch job, wherever it runs: in the batch's own process, a local worker process, or a Ray
worker on another machine. A job gets its images as paths or as bytes, and gives back the picture and its
loss history; the driver writes every file, so workers need no shared file system.

A worker process keeps the networks it built (`features.vgg19.SharedExtractors`), so the model is built once per worker, not
once per job.
"""

from __future__ import annotations

import io
import os
import socket
import time
import traceback
from dataclasses import dataclass, field
from typing import Any, List, Optional, Sequence, Tuple, Union

import numpy as np

from neural_style.api import stylize
from neural_style.config import SILENT_WATCH, StyleConfig
from neural_style.errors import NeuralStyleError
from neural_style.features.vgg19 import SharedExtractors
from neural_style.step import Step

ImageInput = Union[str, bytes]  # a path the worker can read, or the file's bytes
# How often a driver waiting on running jobs looks at its stop flag.
POLL_SECONDS = 0.5


@dataclass
class JobSpec:
    """One job as a worker receives it: its number and its complete options.
    The config's content and styles are filled in by the worker from the images it is handed."""

    index: int
    config: StyleConfig


# A job as a driver hands it on: its spec, its content path, its style paths.
Task = Tuple[JobSpec, str, Sequence[str]]


@dataclass
class JobOutcome:
    """What a job gave back: status "done" or "failed", the picture when done, and its numbers."""

    index: int
    status: str
    error: str = ""
    image: Optional[np.ndarray] = None
    history: List[Step] = field(default_factory=list)
    iterations: int = 0
    seconds: float = 0.0
    worker: str = ""

    @property
    def final_loss(self) -> Optional[Step]:
        return self.history[-1] if self.history else None


def worker_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


def size_thread_pools(threads: Optional[int], backend: str = "auto") -> None:
    """Give this process's backend `threads` cores (several workers on one machine must not each take all of them).
    Must run before the backend runs anything; the environment variables cover oneDNN's OpenMP. `backend` is the
    jobs' --backend, chosen here as the driver chose it."""
    if not threads:
        return
    os.environ["OMP_NUM_THREADS"] = str(threads)
    from neural_style import backends

    # Before the backend starts (TensorFlow's pools are fixed once it has found its devices).
    loaded = backends.loaded_backend()
    backends.module(loaded or backends.choose_backend(backend).name).set_threads(threads)


def open_image(source: ImageInput, role: str, name: str) -> Any:
    """A path as it is (stylize reads it), or bytes decoded into a Pillow image."""
    if isinstance(source, str):
        return source
    from PIL import Image

    try:
        image = Image.open(io.BytesIO(source))
        image.load()
        return image
    except Exception as error:  # Pillow raises several kinds for a broken file
        raise NeuralStyleError(f"the {role} image {name} cannot be read ({error}): replace the file") from None


def run_job(spec: JobSpec, content: ImageInput, styles: Sequence[ImageInput], state: SharedExtractors,
            should_stop: Any = None) -> JobOutcome:
    """Paint one job in this process. Never raises for the job's own failures (a broken image, a loss that
    went bad, anything else): they come back as status "failed" with a one-line error."""
    started = time.perf_counter()
    try:
        config = spec.config.with_options(
            content=open_image(content, "content", os.path.basename(str(spec.config.content))),
            styles=[open_image(style, "style", os.path.basename(str(name)))
                    for style, name in zip(styles, spec.config.styles)],
            output=None)
        # The batch's driver writes every file and says everything: the job itself is silent.
        result = stylize(config=config, watch=SILENT_WATCH, extractor=state.for_config(config),
                         should_stop=should_stop)
    except NeuralStyleError as error:
        return JobOutcome(spec.index, "failed", str(error), seconds=time.perf_counter() - started,
                          worker=worker_name())
    except Exception as error:  # one job's bug must not end the batch; its line says what happened
        where = traceback.extract_tb(error.__traceback__)[-1]
        return JobOutcome(spec.index, "failed", f"{type(error).__name__}: {error} (at {os.path.basename(where.filename)}"
                          f":{where.lineno})", seconds=time.perf_counter() - started, worker=worker_name())
    seconds = time.perf_counter() - started
    if result.error or result.stop_reason == "failed":
        return JobOutcome(spec.index, "failed", result.error or "the run failed", history=result.history,
                          iterations=result.iterations, seconds=seconds, worker=worker_name())
    if result.stop_reason == "stopped":
        return JobOutcome(spec.index, "stopped", "interrupted", seconds=seconds, worker=worker_name())
    return JobOutcome(spec.index, "done", image=result.image, history=result.history, iterations=result.iterations,
                      seconds=seconds, worker=worker_name())
