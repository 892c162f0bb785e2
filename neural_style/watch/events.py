"""`--json`: what a run says, as one JSON object per line on standard output, for scripts, schedulers and other
programs; the human messages stay on standard error. Every event has `"event"` (its kind) and the fields EVENTS names,
always all of them (null where there is nothing); docs/options.md documents them, and a test keeps both the same."""

from __future__ import annotations

import json
import math
import sys
from typing import Any, Dict, Optional, TextIO, Tuple

# The schema: each event's fields, in order. Adding a field is compatible; removing or renaming one is not.
EVENTS: Dict[str, Tuple[str, ...]] = {
    # A still run (and each of a sheet's cells is one too, but only the cell is reported there).
    "start": ("device", "precision", "precision_why", "xla", "optimizer", "optimizer_why", "iterations", "width",
              "height", "scales", "start", "line"),
    "scale": ("index", "count", "width", "height", "iterations"),
    "iteration": ("iteration", "iterations", "evaluations", "seconds", "total", "terms", "width", "height"),
    "snapshot": ("iteration", "path"),
    "warning": ("text",),
    "end": ("stop_reason", "error", "iterations", "evaluations", "seconds", "output", "snapshots", "log",
            "timelapse", "peak_bytes"),
    # The units of the video, batch and sheet commands, and how each ended.
    "frame": ("frame", "frames", "seconds", "path"),
    "video_end": ("frames", "total_frames", "stopped", "output", "folder"),
    "job": ("job", "jobs", "name", "status", "seconds", "iterations", "error", "output"),
    "batch_end": ("done", "skipped", "failed", "summary"),
    "cell": ("cell", "cells", "label", "kept", "path"),
    "sheet_end": ("cells", "output"),
}


def json_values(value: Any) -> Any:
    """JSON's own values: a NaN or an infinity (a loss gone bad) is null, tuples are lists, numpy scalars numbers."""
    if isinstance(value, dict):
        return {str(key): json_values(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [json_values(item) for item in value]
    if hasattr(value, "item") and callable(value.item):  # a numpy scalar
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


class EventWriter:
    """Writes events as JSON lines on `stream` (standard output by default), each flushed as it happens."""

    def __init__(self, stream: Optional[TextIO] = None) -> None:
        self.stream = stream or sys.stdout

    def emit(self, event: str, **fields: Any) -> None:
        expected = EVENTS[event]
        assert set(fields) == set(expected), f"{event}: {sorted(set(fields) ^ set(expected))}"  # caught by tests
        record = {"event": event, **{name: json_values(fields[name]) for name in expected}}
        self.stream.write(json.dumps(record, ensure_ascii=True, allow_nan=False) + "\n")
        self.stream.flush()


__all__ = ["EVENTS", "EventWriter", "json_values"]
