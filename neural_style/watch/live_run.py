"""A run as a page follows it: its state (iteration, loss curve, time left, status), the picture rendered only when
asked for, and a stop flag. The live page (live_page.py) serves it; the studio (studio/) streams it. The run updates
it from its thread (`on_step`, `on_scale`, `on_start`, `finish`) and polls `stop_requested`."""

from __future__ import annotations

import io
import threading
from dataclasses import dataclass, field
from typing import Any, Callable, Dict, List, Optional, Tuple

import numpy as np

from neural_style.step import Step


def png_bytes(pixels: np.ndarray) -> bytes:
    """An H x W x 3 uint8 picture as PNG bytes."""
    from PIL import Image

    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, format="PNG")
    return buffer.getvalue()


@dataclass
class RunState:
    """What a page shows, updated by the run's thread and read by others (under `changed`)."""

    total_iterations: int
    version: int = 0
    status: str = "starting"  # starting, running, done, stopped, failed
    message: str = ""
    scale: str = ""
    history: List[Dict[str, float]] = field(default_factory=list)
    last_step: Optional[Step] = None
    start: Optional[np.ndarray] = None  # a feed-forward start, shown until the first iteration
    final: Optional[np.ndarray] = None
    changed: threading.Condition = field(default_factory=threading.Condition)

    @property
    def running(self) -> bool:
        return self.status in ("starting", "running")

    def summary(self) -> Dict[str, Any]:
        """The JSON a page reads: the latest iteration, its losses, and timing."""
        step = self.last_step
        seconds_per_evaluation = step.seconds / step.evaluations if step and step.evaluations else None
        left = None
        if step and step.iteration:
            left = (self.total_iterations - step.iteration) * step.seconds / step.iteration
        return {"version": self.version, "status": self.status, "message": self.message, "scale": self.scale,
                "iteration": step.iteration if step else 0, "total_iterations": self.total_iterations,
                "evaluations": step.evaluations if step else 0, "seconds": step.seconds if step else 0.0,
                "seconds_per_evaluation": seconds_per_evaluation, "seconds_left": left,
                "loss": self.history[-1] if self.history else None}


class LiveRun:
    """The state of one run and its picture. `render` (a step -> its RGB picture) is set by the run once it can
    render; a step's picture is rendered at most once per version, by whoever asks first."""

    def __init__(self, total_iterations: int, render: Optional[Callable[[Step], np.ndarray]] = None) -> None:
        self.state = RunState(total_iterations)
        self.render = render
        self.stop_requested = threading.Event()
        self._current: Optional[Tuple[int, np.ndarray, Optional[bytes]]] = None  # version, picture, its PNG
        self._render_lock = threading.RLock()  # current_png holds it around _current_entry

    # --- called by the run -------------------------------------------------------------------

    def on_step(self, step: Step) -> None:
        with self.state.changed:
            self.state.status = "running"
            self.state.last_step = step
            self.state.history.append(step.as_point())
            self.state.version += 1
            self.state.changed.notify_all()

    def on_scale(self, label: str) -> None:
        with self.state.changed:
            self.state.scale = label
            self.state.changed.notify_all()

    def on_start(self, picture: np.ndarray) -> None:
        """Show the run's start picture (the AdaIN one) before its first iteration."""
        with self.state.changed:
            self.state.start = picture
            self.state.message = "the feed-forward start; optimising"
            self.state.version += 1
            self.state.changed.notify_all()

    def finish(self, final: Optional[np.ndarray], status: str, message: str = "") -> None:
        """Show the final picture (None: keep showing the last one) and `status` (done, stopped or failed)."""
        with self.state.changed:
            self.state.final = final
            self.state.status = status
            self.state.message = message
            self.state.version += 1
            self.state.changed.notify_all()

    # --- called by whoever shows it --------------------------------------------------------

    def wait_for_change(self, seen_version: int, timeout: float) -> Tuple[int, Dict[str, Any]]:
        """Wait up to `timeout` s for a version after `seen_version` (or the end); the version and summary now."""
        with self.state.changed:
            if self.state.version == seen_version and self.state.running:
                self.state.changed.wait(timeout)
            return self.state.version, self.state.summary()

    def current_picture(self) -> Optional[np.ndarray]:
        """The latest picture: the final one, else the last iteration's, else the start (None before any)."""
        entry = self._current_entry()
        return entry[1] if entry else None

    def current_png(self) -> Optional[bytes]:
        """The latest picture as PNG, encoded when first asked for at this version."""
        with self._render_lock:
            entry = self._current_entry()
            if entry is None:
                return None
            if entry[2] is None:
                entry = self._current = (entry[0], entry[1], png_bytes(entry[1]))
            return entry[2]

    def _current_entry(self) -> Optional[Tuple[int, np.ndarray, Optional[bytes]]]:
        with self.state.changed:
            version, step, final, start = self.state.version, self.state.last_step, self.state.final, self.state.start
        with self._render_lock:
            if self._current is None or self._current[0] != version:
                if final is not None:
                    picture = final
                elif step is not None and self.render is not None:
                    picture = self.render(step)
                elif start is not None:
                    picture = start
                elif self._current is not None:
                    return self._current
                else:
                    return None
                self._current = (version, picture, None)
            return self._current


__all__ = ["LiveRun", "RunState", "png_bytes"]
