"""What every command shares: one-line argument errors, a quiet start of the backend, signals that stop a
run cleanly, and the wrapper that turns errors and signals into exit statuses.
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
from typing import Callable, Optional

from neural_style.errors import NeuralStyleError
from neural_style.backends.hardware import start_backend


class OneLineParser(argparse.ArgumentParser):
    """argparse, but a bad flag gets one line and exit status 2 (no usage dump)."""

    def error(self, message: str) -> None:  # type: ignore[override]
        self.exit(2, f"{self.prog}: error: {message} (see --help)\n")


def refuse_json_events(parser: argparse.ArgumentParser, args: argparse.Namespace) -> None:
    """For a command whose output is its own report (compare, benchmark, doctor, studio): --json is one line, exit 2."""
    if getattr(args, "json", False):
        parser.error(f"--json events are written by the main command, video, batch and sheet; {parser.prog} prints "
                     "its own report: drop --json")


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


def run_command(prog: str, body: Callable[[StopOnSignal], int], stopping: str = StopOnSignal.SAVING,
                backend_first: Optional[str] = None) -> int:
    """Run a command's body with signals caught; return its exit status: the body's own, 2 for a NeuralStyleError
    (printed as one line), 128 + n after signal n. The backend starts (quietly) when the run first resolves its device,
    after every input is checked, so bad input is refused in a fraction of a second; `backend_first` (a --backend
    choice) starts it before the body, for a command that uses it at once (benchmark, doctor)."""
    try:
        with StopOnSignal(prog, stopping) as stop:
            if backend_first is not None:
                start_backend(backend_first)
            status = body(stop)
    except NeuralStyleError as error:
        print(f"{prog}: error: {error}", file=sys.stderr)
        return 2
    return 128 + stop.received if stop.received is not None else status
