"""Running batch jobs on this machine: in the batch's own process (one worker), or in a pool of worker
processes, each with its share of the cores (and its own GPU where there are several).

Both yield each job's outcome as it finishes. A worker process that dies (killed, out of memory) takes the
jobs it was running with it: they are run again, up to `retries` times, then recorded as failed.
"""

from __future__ import annotations

import multiprocessing
import os
import queue
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from typing import Any, Callable, Dict, Iterator, List, Optional, Sequence

from neural_style.batch.worker import POLL_SECONDS, JobOutcome, JobSpec, Task, run_job, size_thread_pools
from neural_style.features.vgg19 import SharedExtractors



def in_process(tasks: Sequence[Task], should_stop: Callable[[], bool]) -> Iterator[JobOutcome]:
    """One job after another in this process, all reusing one network."""
    state = SharedExtractors()
    for spec, content, styles in tasks:
        if should_stop():
            return
        yield run_job(spec, content, styles, state, should_stop)


# A pool worker's networks, kept between its jobs, and the pool's stop flag (one per process: set by the pool's
# initializer).
_worker_state: Optional[SharedExtractors] = None
_worker_stop: Any = None


def gpu_assignments(gpu_count: int) -> List[str]:
    """The CUDA_VISIBLE_DEVICES of each of `gpu_count` workers, one card each: the cards this process sees (its own
    CUDA_VISIBLE_DEVICES, where it names them), in order."""
    visible = [entry.strip() for entry in os.environ.get("CUDA_VISIBLE_DEVICES", "").split(",") if entry.strip()]
    return [visible[index] if index < len(visible) else str(index) for index in range(gpu_count)]


def _start_worker(threads: int, gpus: "Optional[multiprocessing.Queue]", stop: Any, backend: str = "auto") -> None:
    global _worker_state, _worker_stop
    if gpus is not None:
        try:
            os.environ["CUDA_VISIBLE_DEVICES"] = str(gpus.get_nowait())  # before the backend is imported
        except queue.Empty:
            pass
    size_thread_pools(threads, backend)
    _worker_state = SharedExtractors()
    _worker_stop = stop


def _pool_job(spec: JobSpec, content: str, styles: Sequence[str]) -> JobOutcome:
    assert _worker_state is not None, "the pool's initializer did not run"
    return run_job(spec, content, styles, _worker_state, should_stop=_worker_stop.is_set)


def threads_per_worker(workers: int, cores: Optional[int] = None) -> int:
    """The cores each of `workers` processes gets, so that together they take each core once."""
    return max(1, (cores or os.cpu_count() or 1) // workers)


def process_pool(tasks: Sequence[Task], workers: int, should_stop: Callable[[], bool], retries: int = 2,
                 gpu_count: int = 0, notify: Callable[[str], None] = lambda text: None) -> Iterator[JobOutcome]:
    """The jobs on `workers` processes; a job whose worker died is run again up to `retries` times."""
    context = multiprocessing.get_context("spawn")  # a fresh interpreter: TensorFlow does not survive fork
    attempts: Dict[int, int] = {}
    waiting: List[Task] = list(tasks)
    stop = context.Event()  # the workers' jobs poll it before every evaluation: a stop is prompt, not job-long
    while waiting:
        gpus = None
        if gpu_count:
            gpus = context.Queue()
            for card in gpu_assignments(gpu_count):
                gpus.put(card)
        pool = ProcessPoolExecutor(workers, mp_context=context, initializer=_start_worker,
                                   initargs=(threads_per_worker(workers), gpus, stop, tasks[0][0].config.backend))
        running: Dict[Future, Task] = {}
        lost: List[Task] = []  # jobs that were running when a worker died (which one killed it is unknown)
        try:
            while (waiting or running) and not lost:
                while waiting and len(running) < workers and not should_stop():
                    task = waiting.pop(0)
                    running[pool.submit(_pool_job, *task)] = task
                if should_stop():
                    stop.set()  # the running jobs end at their next evaluation, as "stopped": left pending
                    if not running:
                        return
                finished, _ = wait(list(running), timeout=POLL_SECONDS, return_when=FIRST_COMPLETED)
                for future in finished:
                    task = running.pop(future)
                    try:
                        outcome = future.result()
                    except BrokenProcessPool:
                        lost.append(task)
                        continue
                    yield outcome
            lost.extend(running.values())
        finally:
            pool.shutdown(wait=not lost, cancel_futures=True)
        for task in reversed(lost):
            spec = task[0]
            attempts[spec.index] = attempts.get(spec.index, 0) + 1
            if attempts[spec.index] > retries:
                yield JobOutcome(spec.index, "failed", f"its worker process died {attempts[spec.index]} times "
                                 "(killed, or out of memory)")
            else:
                waiting.insert(0, task)
        if lost:
            notify(f"a worker process died; {len(lost)} job(s) it may have been running go again in a new pool")
