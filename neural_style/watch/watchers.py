"""What watches a run besides the log and snapshots: the timelapse, the live page and the notebook
view. Each sees every step and the end; `api._run` holds them as one."""

from __future__ import annotations

from typing import TYPE_CHECKING, Callable, List, Optional

import numpy as np

from neural_style.optim.optimize import Step

if TYPE_CHECKING:
    from neural_style.api import StyleResult
    from neural_style.config import StyleConfig
    from neural_style.watch.live_page import LiveView


class Watchers:
    """The run's timelapse (config.timelapse), live page (`live`, opened before any work) and notebook
    view (`display`), fed through one `on_step`, told of each scale, finished (or closed on an error)
    together."""

    def __init__(self, config: "StyleConfig", render: Callable[[Step], np.ndarray], live: Optional["LiveView"],
                 display: bool) -> None:
        from neural_style.watch.notebook import NotebookView
        from neural_style.watch.timelapse import Timelapse

        self.timelapse = (Timelapse(config.timelapse, render, config.timelapse_every, config.timelapse_fps)
                          if config.timelapse else None)
        self.live = live
        if live:
            live.render = render
        self.notebook = NotebookView(render, config.iterations) if display else None
        self._callbacks: List[Callable[[Step], None]] = [watcher.on_step for watcher in
                                                         (self.timelapse, self.live, self.notebook) if watcher]

    def on_step(self, step: Step) -> None:
        for callback in self._callbacks:
            callback(step)

    def on_scale(self, label: str) -> None:
        if self.live:
            self.live.on_scale(label)

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

    def finish(self, final: Optional[np.ndarray], result: "StyleResult", notify: Callable[[str], None]) -> None:
        """Hold the final picture in the timelapse and show it on the page and in the notebook."""
        if self.timelapse:
            result.timelapse = self.timelapse.finish(final)
            if result.timelapse:
                notify(f"timelapse: {self.timelapse.frames} frames in {result.timelapse} ({self.timelapse.seconds:.1f} s, "
                       f"{100 * self.timelapse.seconds / max(result.seconds, 1e-9):.1f}% of the run)")
        if self.notebook:
            self.notebook.finish(final, f"{result.iterations} iterations, {result.stop_reason}")
        if self.live:
            if self.live.stop_requested.is_set():
                notify("stopped from the live view")
            status = "failed" if result.error else "stopped" if result.stop_reason == "stopped" else "done"
            self.live.finish(final, status, result.error or (f"{result.iterations} iterations in {result.seconds:.0f} s"
                                                             + (f"; wrote {result.output}" if result.output else "")))


__all__ = ["Watchers"]
