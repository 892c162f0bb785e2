"""Many pictures at once: `stylize_batch()` plans the jobs (jobs.py), runs them here, in local worker
processes (local_pool.py) or on a Ray cluster (ray_cluster.py), and writes every output, its loss log and
the OUTDIR/batch.csv summary as each job finishes.

A rerun skips jobs whose output exists (outputs are written atomically, so one that exists is complete);
`overwrite=True` redoes them. A job that fails is recorded and never stops the others.
"""

from __future__ import annotations

import csv
import os
import time
from dataclasses import dataclass, field, fields, replace
from typing import Any, Callable, Dict, Iterator, List, Optional, Sequence, TextIO, Tuple

from neural_style import images
from neural_style.batch.jobs import BatchJob, name_outputs, pair_jobs, read_manifest
from neural_style.batch.local_pool import in_process, process_pool, threads_per_worker
from neural_style.batch.ray_cluster import RayConnection, ray_outcomes
from neural_style.batch.worker import JobOutcome, JobSpec
from neural_style.config import StyleConfig, WatchOptions, validate
from neural_style.errors import NeuralStyleError
from neural_style.files import check_inputs_kept, write_csv
from neural_style.backends.hardware import Hardware, gpu_count
from neural_style.plan.memory import available_for
from neural_style.plan.run_plan import plan_run
from neural_style.run.request import resolve_request
from neural_style.watch.events import EventWriter
from neural_style.watch.record import LossLog, Messages, format_duration, log_path

SUMMARY_NAME = "batch.csv"
JOB_FIELDS = ("job", "content", "style", "output", "status")


def summary_fields(term_names: Sequence[str]) -> Tuple[str, ...]:
    """batch.csv's columns: the job, how it went, its final total and each term of the objective, the worker."""
    return JOB_FIELDS + ("error", "iterations", "seconds", "total_loss", *(f"{name}_loss" for name in term_names),
                         "worker")


@dataclass
class BatchResult:
    """How a batch went: one summary row per job (as in batch.csv), and the counts."""

    rows: List[Dict[str, Any]]
    summary: str
    seconds: float
    stopped: bool = False
    messages: List[str] = field(default_factory=list)

    def count(self, status: str) -> int:
        return sum(row["status"] == status for row in self.rows)

    @property
    def failed(self) -> List[Dict[str, Any]]:
        return [row for row in self.rows if row["status"] == "failed"]


def plan_batch(outdir: str, contents: Optional[Sequence[str]], styles: Optional[Sequence[str]],
               manifest: Optional[str], shared: StyleConfig) -> List[BatchJob]:
    """The jobs, every one checked, with distinct output names; raises NeuralStyleError before any work."""
    if manifest is not None:
        if contents or styles:
            raise NeuralStyleError("give either --jobs MANIFEST or --contents and --styles, not both")
        jobs = read_manifest(manifest, outdir, shared)
    else:
        if not contents or not styles:
            raise NeuralStyleError("give --contents and --styles (files or globs), or --jobs MANIFEST.csv")
        jobs = pair_jobs(contents, styles, outdir)
        for job in jobs:
            validate(job.config(shared))
    return jobs


def check_jobs_fit(jobs: Sequence[BatchJob], shared: StyleConfig, hardware: Hardware) -> None:
    """Every job's sizes planned as its run will plan them, on `hardware` (this machine's): a job too small for the
    layers or too large for memory is a one-line error naming it, before any work."""
    available = available_for(hardware)  # measured once; each job's --memory-budget caps it
    for job in jobs:
        content, styles = images.image_size(job.content), [images.image_size(style) for style in job.styles]
        if content is None or None in styles:
            continue  # an image that cannot be read fails its own job, not the batch
        try:
            config = job.config(shared)
            plan_run(config, hardware, content, styles, available.capped(config.memory_budget_bytes(), hardware.on_gpu))
        except NeuralStyleError as error:
            raise NeuralStyleError(f"job {job.name}: {error}") from None


def make_output_folders(jobs: Sequence[BatchJob]) -> None:
    """Create OUTDIR (and a manifest's subfolders), then check every output can be written."""
    for folder in sorted({os.path.dirname(os.path.abspath(job.output)) for job in jobs}):
        try:
            os.makedirs(folder, exist_ok=True)
        except OSError as error:
            raise NeuralStyleError(f"cannot create the output folder {folder} ({error.strerror or error}): "
                                   "pass another -o") from None
    for job in jobs:
        images.check_writable_image_path(job.output)


def read_summary(path: str) -> Dict[str, Dict[str, str]]:
    """The rows of an earlier batch.csv by output path (empty when there is none or it cannot be read)."""
    try:
        with open(path, newline="") as stream:
            return {row["output"]: row for row in csv.DictReader(stream) if row.get("output")}
    except (OSError, csv.Error, KeyError):
        return {}


def summary_row(fields: Sequence[str], index: int, job: BatchJob, status: str, outcome: Optional[JobOutcome] = None,
                earlier: Optional[Dict[str, str]] = None) -> Dict[str, Any]:
    row: Dict[str, Any] = dict.fromkeys(fields, "")
    row.update(job=index + 1, content=job.content, style=";".join(job.styles), output=job.output, status=status)
    if earlier and status == "skipped":  # the numbers of the run that made the output
        row.update({name: earlier.get(name, "") for name in fields[len(JOB_FIELDS) + 1:]})
    if outcome is not None:
        row.update(error=outcome.error, iterations=outcome.iterations, seconds=f"{outcome.seconds:.2f}",
                   worker=outcome.worker)
        last = outcome.final_loss
        if last is not None:
            row.update(total_loss=repr(last.total), **{f"{name}_loss": repr(value) for name, value in last.terms.items()
                                                       if f"{name}_loss" in row})
    return row


class BatchProgress:
    """One line per finished job: which, how long, then jobs done of total, failed, jobs per hour, time left."""

    def __init__(self, total: int, to_run: int, stream: Optional[TextIO], quiet: bool, json: bool = False) -> None:
        self.total, self.to_run = total, to_run
        self.messages = Messages(stream, quiet, EventWriter() if json else None)
        self.message = self.messages.message
        self.started = time.perf_counter()
        self.finished = self.failed = 0

    def job_finished(self, job: BatchJob, outcome: JobOutcome, done_before: int) -> None:
        self.finished += 1
        self.failed += outcome.status == "failed"
        elapsed = time.perf_counter() - self.started
        per_hour = self.finished / elapsed * 3600 if elapsed > 0 else 0.0
        left = (self.to_run - self.finished) * elapsed / self.finished
        what = (f"done in {outcome.seconds:.1f} s, {outcome.iterations} iterations" if outcome.status == "done"
                else f"{outcome.status}: {outcome.error}")
        self.messages.event("job", job=outcome.index + 1, jobs=self.total, name=job.name, status=outcome.status,
                            seconds=outcome.seconds, iterations=outcome.iterations, error=outcome.error or None,
                            output=job.output if outcome.status == "done" else None)
        self.message(f"{job.name}: {what}{' on ' + outcome.worker if outcome.worker else ''}\n"
                     f"  {done_before + self.finished - self.failed} of {self.total} done, {self.failed} failed, "
                     f"{per_hour:.0f} jobs/hour, {format_duration(left)} left")


@dataclass(frozen=True)
class BatchOptions:
    """Where and how a batch's jobs run; the batch command's flags are these fields, with these defaults."""

    workers: Optional[int] = None  # local worker processes (None: one per GPU, else this process alone)
    ray: Optional[str] = None  # run each job as a Ray task: "local", "auto" or a cluster head's ADDRESS:PORT
    cpus_per_job: float = 1  # CPUs each Ray task asks for
    gpus_per_job: float = 0  # GPUs each Ray task asks for
    retries: int = 2  # times a job whose worker process died is run again before it counts as failed
    overwrite: bool = False  # redo jobs whose output exists (by default they are skipped)


BATCH_FIELDS = tuple(field.name for field in fields(BatchOptions))


def stylize_batch(contents: Optional[Sequence[str]] = None, styles: Optional[Sequence[str]] = None,
                  outdir: Optional[str] = None, *, jobs: Optional[str] = None, config: Optional[StyleConfig] = None,
                  batch: Optional[BatchOptions] = None, stream: Optional[TextIO] = None,
                  should_stop: Optional[Callable[[], bool]] = None, watch: Optional[WatchOptions] = None,
                  **options: Any) -> BatchResult:
    """Paint every content x style pair (paths or globs), or the jobs of a manifest CSV (`jobs=`), into
    `outdir` as <content-stem>__<style-stem>.png, each with its loss log, plus outdir/batch.csv.

    Runs in this process (`workers=1`, the default on a CPU machine; one per GPU where there are GPUs), in
    `workers` local processes, or as Ray tasks (`ray="local"`, `"auto"` or a cluster's address; the
    `cluster` extra). Options are `BatchOptions` fields (`workers`, `ray`, `retries`, `overwrite`, ...; or `batch=`),
    StyleConfig fields shared by every job (a manifest's columns override them per job) and WatchOptions fields
    (`quiet`, `log`). Returns the summary; `result.failed` lists the jobs that failed."""
    if not outdir:
        raise NeuralStyleError("no output folder: pass -o OUTDIR")
    batch = replace(batch or BatchOptions(), **{name: options.pop(name) for name in BATCH_FIELDS if name in options})
    request = resolve_request(options, config, watch, check=False)  # each job's configuration is checked
    shared, watch = request.config, request.watch
    _check_counts(batch)
    if os.path.exists(outdir) and not os.path.isdir(outdir):
        raise NeuralStyleError(f"the output folder {outdir} is a file: pass a folder with -o")
    planned = plan_batch(outdir, contents, styles, jobs, shared)
    check_inputs_kept([(f"output of job {index + 1}", job.output) for index, job in enumerate(planned)]
                      + [("summary", os.path.join(outdir, SUMMARY_NAME))],
                      [*(("content image", job.content) for job in planned),
                       *(("style image", style) for job in planned for style in job.styles),
                       *([("manifest", jobs)] if jobs else [])])
    hardware = request.hardware  # the backend started as asked, before its GPUs are counted
    if batch.ray is None:
        _check_workers_per_gpu(batch.workers, gpu_count())
    if batch.ray is None:  # a cluster's machines have memory of their own; here, every job must fit in this one's
        check_jobs_fit(planned, shared, hardware)
    messages = name_outputs(planned)
    cluster = None
    if batch.ray is not None:  # joined before any file is written: a missing extra or cluster writes nothing
        cluster = RayConnection(batch.ray)
    try:
        make_output_folders(planned)
        return _run_batch(planned, messages, outdir, shared, watch, batch, cluster, stream, should_stop)
    finally:
        if cluster is not None:
            cluster.close()


def _run_batch(planned: List[BatchJob], messages: List[str], outdir: str, shared: StyleConfig, watch: WatchOptions,
               batch: BatchOptions, cluster: Any, stream: Optional[TextIO],
               should_stop: Optional[Callable[[], bool]]) -> BatchResult:
    from neural_style.objective.build import term_names  # the terms are TensorFlow's: imported once a batch runs

    summary_path = os.path.join(outdir, SUMMARY_NAME)
    fields = summary_fields(term_names(shared))
    earlier = read_summary(summary_path)
    rows = [summary_row(fields, index, job, "pending") for index, job in enumerate(planned)]
    to_run = []
    for index, job in enumerate(planned):
        if os.path.isfile(job.output) and not batch.overwrite:
            rows[index] = summary_row(fields, index, job, "skipped", earlier=earlier.get(job.output))
        else:
            to_run.append(index)
    progress = BatchProgress(len(planned), len(to_run), stream, watch.quiet, watch.json)
    for text in messages:
        progress.message(f"note: {text}")
    if cluster is not None:
        progress.message(cluster.description)
    skipped = len(planned) - len(to_run)
    progress.message(f"{len(planned)} jobs into {outdir}: {len(to_run)} to run"
                     + (f", {skipped} already done (pass --overwrite to redo them)" if skipped else ""))
    write_csv(summary_path, fields, [[row[name] for name in fields] for row in rows])
    stop = should_stop or (lambda: False)
    started = time.perf_counter()
    tasks = [(JobSpec(index, planned[index].config(shared)), planned[index].content,
              planned[index].styles) for index in to_run]
    for outcome in _outcomes(tasks, batch, cluster, stop, progress.message):
        job = planned[outcome.index]
        if outcome.status == "stopped":
            continue  # interrupted: left pending, so a rerun does it
        if outcome.status == "done":
            outcome = _write_outputs(job, outcome, watch.log)
        rows[outcome.index] = summary_row(fields, outcome.index, job, outcome.status, outcome)
        write_csv(summary_path, fields, [[row[name] for name in fields] for row in rows])
        progress.job_finished(job, outcome, skipped)
    result = BatchResult(rows, summary_path, time.perf_counter() - started, stopped=stop(), messages=messages)
    _report(result, progress)
    return result


def _check_counts(batch: BatchOptions) -> None:
    workers, retries = batch.workers, batch.retries
    if batch.ray is not None and workers is not None:
        raise NeuralStyleError("--workers is for this machine; with --ray, Ray runs as many jobs as the cluster "
                               "has room for (see --cpus-per-job, --gpus-per-job): drop --workers")
    if workers is not None and (not isinstance(workers, int) or workers < 1):
        raise NeuralStyleError(f"--workers must be a whole number of at least 1, got {workers!r}")
    if batch.cpus_per_job <= 0 or batch.gpus_per_job < 0:
        raise NeuralStyleError("--cpus-per-job must be above 0 and --gpus-per-job at least 0")
    if not isinstance(retries, int) or retries < 0:
        raise NeuralStyleError(f"--retries must be a whole number of at least 0, got {retries!r}")


def _check_workers_per_gpu(workers: Optional[int], gpus: int) -> None:
    """On a machine with GPUs, one worker per GPU, each pinned to its own card (CUDA_VISIBLE_DEVICES): two TensorFlow
    processes on one card would each plan against the same free memory and together run out of it, so more workers
    than GPUs are refused rather than shared."""
    if gpus and workers is not None and workers > gpus:
        raise NeuralStyleError(f"--workers {workers} but this machine has {gpus} GPU{'s' * (gpus > 1)}: each worker "
                               f"gets a card of its own, so pass --workers {gpus} or fewer (or CUDA_VISIBLE_DEVICES= "
                               "to run the workers on the CPU)")


def _outcomes(tasks: List[Any], batch: BatchOptions, cluster: Any, stop: Callable[[], bool],
              notify: Callable[[str], None]) -> Iterator[JobOutcome]:
    if not tasks:
        return iter(())
    if cluster is not None:
        return ray_outcomes(tasks, cluster, stop, batch.cpus_per_job, batch.gpus_per_job, batch.retries, notify)
    gpus = gpu_count()
    count = batch.workers or max(1, gpus)
    if count == 1:
        return in_process(tasks, stop)
    notify(f"{count} worker processes, {threads_per_worker(count)} core(s) each"
           + (f", one GPU each of {gpus}" if gpus else ""))
    return process_pool(tasks, count, stop, batch.retries, gpus, notify)


def _write_outputs(job: BatchJob, outcome: JobOutcome, write_log: bool) -> JobOutcome:
    """The picture (atomically: an output that exists is complete) and its loss log; a failed write fails
    the job, not the batch."""
    try:
        os.makedirs(os.path.dirname(os.path.abspath(job.output)), exist_ok=True)
        if write_log:
            log = LossLog(log_path(job.output))
            log.rows = list(outcome.history)
            log.write()
        images.save_image(job.output, outcome.image)
    except OSError as error:
        return JobOutcome(outcome.index, "failed", f"cannot write {job.output} ({error.strerror or error})",
                          history=outcome.history, iterations=outcome.iterations, seconds=outcome.seconds,
                          worker=outcome.worker)
    return outcome


def _report(result: BatchResult, progress: BatchProgress) -> None:
    done, failed, skipped = result.count("done"), result.count("failed"), result.count("skipped")
    pending = result.count("pending")
    progress.message(f"{done} done, {skipped} skipped, {failed} failed"
                     + (f", {pending} not run" if pending else "")
                     + f" in {format_duration(result.seconds)}; summary in {result.summary}")
    for row in result.failed:
        progress.message(f"failed: {os.path.basename(row['output'])}: {row['error']}")
    progress.messages.event("batch_end", done=done, skipped=skipped, failed=failed, summary=result.summary)
