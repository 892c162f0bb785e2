"""What watches a run besides the log and snapshots: the timelapse, the live page and the notebook
view. Each sees every step and the end; `api.stylize` holds them as one."""

from __future__ import annotations

from typing import Callable, List, Optional

import numpy as np

from neural_style.config import WatchOptions
from neural_style.step import Step
from neural_style.watch.live_run import LiveRun
from neural_style.watch.notebook import NotebookView
from neural_style.watch.timelapse import Timelapse


class Watchers:
    """The run's timelapse (watch.timelapse), live page (`live`, opened before any work) and notebook
    view (`display`), fed through one `on_step`, told of each scale, finished (or closed on an error)
    together."""

    def __init__(self, watch: "WatchOptions", iterations: int, render: Callable[[Step], np.ndarray],
                 live: Optional["LiveRun"], display: bool) -> None:
        self.timelapse = (Timelapse(watch.timelapse, render, watch.timelapse_every, watch.timelapse_fps)
                          if watch.timelapse else None)
        self.live = live
        if live:
            live.render = render
        self.notebook = NotebookView(render, iterations) if display else None
        self._callbacks: List[Callable[[Step], None]] = [watcher.on_step for watcher in
                                                         (self.timelapse, self.live, self.notebook) if watcher]

    def on_step(self, step: Step) -> None:
        for callback in self._callbacks:
            callback(step)

    def on_scale(self, label: str) -> None:
        if self.live:
            self.live.on_scale(label)

    def on_start(self, picture: np.ndarray) -> None:
        """A feed-forward start picture (at the output's size), shown by every watcher before the first iteration."""
        for watcher in (self.timelapse, self.live, self.notebook):
            if watcher:
                watcher.on_start(picture)

    def should_stop(self, asked: Optional[Callable[[], bool]]) -> Optional[Callable[[], bool]]:
        """`asked` (the caller's stop flag), or the live page's Stop button."""
        if not self.live:
            return asked
        live = self.live
        return lambda: live.stop_requested.is_set() or bool(asked and asked())

    def close(self) -> None:
        """After an error: what the timelapse has so far stays a playable file."""
        if self.timelapse:
            self.timelapse.close()

    def finish(self, final: Optional[np.ndarray], *, summary: str, seconds: float, stop_reason: str,
               error: Optional[str], notify: Callable[[str], None]) -> Optional[str]:
        """Hold the final picture in the timelapse and show it on the page and in the notebook, with `summary` (how
        the run went, what it wrote); returns the timelapse's path (None without one, or with no frame)."""
        written = None
        if self.timelapse:
            written = self.timelapse.finish(final)
            if written:
                notify(f"timelapse: {self.timelapse.frames} frames in {written} ({self.timelapse.seconds:.1f} s, "
                       f"{100 * self.timelapse.seconds / max(seconds, 1e-9):.1f}% of the run)")
        if self.notebook:
            self.notebook.finish(final, summary if stop_reason == "done" else f"{summary} ({stop_reason})")
        if self.live:
            if self.live.stop_requested.is_set():
                notify("stopped from the live view")
            status = "failed" if error else "stopped" if stop_reason == "stopped" else "done"
            self.live.finish(final, status, error or summary)
        return written


__all__ = ["Watchers"]
