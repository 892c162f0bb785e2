"""Running batch jobs on a Ray cluster (the `cluster` extra): each job is a Ray task.

The driver puts every image file's bytes into Ray's object store once; tasks read them from there and give
back the picture and its loss history, which the driver writes. Workers need `neural_style` installed, and
no shared file system. A task whose worker process dies is retried by Ray (`retries`), then recorded as
failed; a job's own failure (a broken image, a loss gone bad) comes back as an outcome and is not retried.
"""

from __future__ import annotations

import os
import socket
from typing import Any, Callable, Dict, Iterator, Optional, Sequence

from neural_style.batch.worker import POLL_SECONDS, JobOutcome, JobSpec, Task, run_job, size_thread_pools
from neural_style.features.vgg19 import SharedExtractors
from neural_style.errors import NeuralStyleError

TASK_NAME = "neural_style_job"  # what `ray list tasks` and the worker's process title show

# The networks a Ray worker process has built, kept for its later jobs (Ray reuses worker processes).
_worker_state: Optional[SharedExtractors] = None


def import_ray() -> Any:
    try:
        import ray
    except ImportError:
        raise NeuralStyleError("--ray needs Ray: pip install -e '.[cluster]' (on every machine of the cluster)") from None
    return ray


def _job_task(spec: JobSpec, threads: int, content: bytes, *styles: bytes) -> JobOutcome:
    global _worker_state
    if _worker_state is None:
        size_thread_pools(threads, spec.config.backend)
        _worker_state = SharedExtractors()
    return run_job(spec, content, styles, _worker_state)


def connect(ray: Any, address: str, cpus: Optional[int] = None) -> str:
    """Start Ray on this machine for the run ('local'), or join a running cluster ('auto': the one
    RAY_ADDRESS or `ray start --head` on this machine names; or an address such as 10.0.0.1:6379)."""
    options: Dict[str, Any] = dict(include_dashboard=False, log_to_driver=False, configure_logging=False)
    if address not in ("local", "auto"):
        check_reachable(address)
    try:
        if address == "local":
            ray.init(address="local", num_cpus=cpus or os.cpu_count(), **options)
        else:
            ray.init(address=address, **options)
    except (ConnectionError, RuntimeError, ValueError) as error:
        raise NeuralStyleError(f"cannot reach a Ray cluster at {address!r} ({str(error).splitlines()[0]}): start one "
                               "with 'ray start --head', or pass --ray local") from None
    resources = ray.cluster_resources()
    return (f"Ray {address}: {len(ray.nodes())} node(s), {resources.get('CPU', 0):g} CPUs, "
            f"{resources.get('GPU', 0):g} GPUs")


class RayConnection:
    """This process's connection to the cluster for one batch: made before any file is written (so a
    cluster that cannot be reached is a one-line error with nothing written), closed after the last job.
    A connection the caller already had (ray.init before the batch) is used and left open."""

    def __init__(self, address: str) -> None:
        self.ray = import_ray()
        self.owned = not self.ray.is_initialized()
        self.description = connect(self.ray, address) if self.owned else "Ray: the connection this process has"

    def close(self) -> None:
        if self.owned and self.ray.is_initialized():
            self.ray.shutdown()


def check_reachable(address: str, seconds: float = 5.0) -> None:
    """A cluster address that nothing answers on is refused at once (Ray itself retries for minutes)."""
    host, _, port = address.split("://", 1)[-1].rpartition(":")
    if not host or not port.isdigit():
        raise NeuralStyleError(f"--ray {address!r} is not local, auto or HOST:PORT: pass the head's address as "
                               "'ray start --head' printed it, e.g. 10.0.0.1:6379")
    try:
        socket.create_connection((host, int(port)), timeout=seconds).close()
    except OSError as error:
        raise NeuralStyleError(f"nothing answers at {address} ({error.strerror or error}): start the cluster's head "
                               "there with 'ray start --head', or pass --ray local") from None


def ray_outcomes(tasks: Sequence[Task], connection: RayConnection, should_stop: Callable[[], bool],
                 cpus_per_job: float = 1, gpus_per_job: float = 0, retries: int = 2,
                 notify: Callable[[str], None] = lambda text: None) -> Iterator[JobOutcome]:
    """The jobs as Ray tasks on the connected cluster; each outcome as it finishes."""
    yield from _run_tasks(connection.ray, tasks, should_stop, cpus_per_job, gpus_per_job, retries, notify)


def _run_tasks(ray: Any, tasks: Sequence[Task], should_stop: Callable[[], bool], cpus_per_job: float,
               gpus_per_job: float, retries: int, notify: Callable[[str], None]) -> Iterator[JobOutcome]:
    remote = ray.remote(_job_task).options(name=TASK_NAME, num_cpus=cpus_per_job, num_gpus=gpus_per_job,
                                           max_retries=retries, retry_exceptions=False)
    stored: Dict[str, Any] = {}  # each file's bytes go into the object store once, however many jobs read it

    def object_of(path: str) -> Any:
        if path not in stored:
            with open(path, "rb") as stream:
                stored[path] = ray.put(stream.read())
        return stored[path]

    threads = max(1, int(cpus_per_job))
    pending: Dict[Any, JobSpec] = {}
    for spec, content, styles in tasks:
        pending[remote.remote(spec, threads, object_of(content), *[object_of(style) for style in styles])] = spec
    notify(f"{len(pending)} Ray tasks of {cpus_per_job:g} CPU(s) and {gpus_per_job:g} GPU(s) each; {len(stored)} image "
           f"file(s), {sum(os.path.getsize(path) for path in stored) / 1e6:.1f} MB, in the object store")
    while pending:
        if should_stop():
            for reference in pending:
                ray.cancel(reference, force=True)
            return
        finished, _ = ray.wait(list(pending), num_returns=1, timeout=POLL_SECONDS)
        for reference in finished:
            spec = pending.pop(reference)
            try:
                yield ray.get(reference)
            except ray.exceptions.RayError as error:  # the worker died more than `retries` times, or Ray failed
                yield JobOutcome(spec.index, "failed", _ray_failure(error, retries))


def _ray_failure(error: Exception, retries: int) -> str:
    kind = type(error).__name__
    if "WorkerCrashed" in kind or "ActorDied" in kind or "NodeDied" in kind:
        return f"its Ray worker died {retries + 1} times ({kind})"
    first = (str(error).strip().splitlines() or [kind])[0]
    return f"Ray: {kind}: {first}"[:300]
