"""The studio: a local web app (Gradio) over the same `stylize` every other front end calls.

    the form (images, sliders) -> StudioForm.config() -> one run at a time (Gradio's queue) -> the run's LiveRun
    (watch/live_run.py, the live page's own state) streamed to the page -> the gallery (gallery.py)

Gradio is the studio extra's; nothing here is imported by the rest of the package. The command line that paints a
run's settings comes from the caller (`command_line`), so this package does not know the commands.
"""

from __future__ import annotations

import math
import os
import threading
import time
from dataclasses import dataclass
from typing import Any, Callable, Dict, Iterator, List, Optional, Sequence, Tuple

import numpy as np

from neural_style import images
from neural_style.api import stylize
from neural_style.config import LOOKS, PRESETS, SILENT_WATCH, STYLE_LOSSES, StyleConfig, validate
from neural_style.errors import NeuralStyleError
from neural_style.features.vgg19 import SharedExtractors
from neural_style.samples import sample_images
from neural_style.sheet import SHEET_ITERATIONS, SHEET_SIZE, Sweep, lay_out, paint_sheet, plan_cells
from neural_style.studio.gallery import Entry, Gallery, settings_record
from neural_style.watch.live_run import LiveRun
from neural_style.watch.record import format_duration

# The form's size and iterations presets: a quick look to choose, and a finished picture.
FORM_PRESETS = {"quick look": dict(size=256, iterations=100), "final": dict(size=512, iterations=500)}
DEFAULT_FORM_PRESET = "quick look"
STRENGTH_RANGE = (0.0, 10.0)  # the style strength slider (--style-strength)
DEFAULTS = StyleConfig()
FRAME_SECONDS = 0.25  # at most this often a new picture is sent to the page (each is encoded and transferred)
CURVE_POINTS = 300  # the loss curve sent is thinned to about this many iterations
# The contact sheet's columns: the chosen strength times the looks' strengths (subtle, balanced, strong).
SHEET_STRENGTHS = tuple(PRESETS[look]["style_strength"] for look in LOOKS)


def _paths(uploaded: Any) -> List[str]:
    """Gradio's File value (None, a path, a list of paths or of file objects) as paths."""
    if uploaded is None:
        return []
    items = uploaded if isinstance(uploaded, (list, tuple)) else [uploaded]
    return [item if isinstance(item, str) else getattr(item, "name", str(item)) for item in items]


def _numbers(text: str, what: str) -> Optional[Tuple[float, ...]]:
    if not text or not text.strip():
        return None
    try:
        return tuple(float(item) for item in text.replace(" ", ",").split(",") if item)
    except ValueError:
        raise NeuralStyleError(f"the {what} must be numbers separated by commas, got {text!r}: for example 1,2") from None


@dataclass(frozen=True)
class StudioForm:
    """What the page's form says, as given."""

    content_upload: Any = None
    content_sample: Optional[str] = None
    style_uploads: Any = None
    style_samples: Sequence[str] = ()
    blend_weights: str = ""
    mask_uploads: Any = None
    size: int = FORM_PRESETS[DEFAULT_FORM_PRESET]["size"]
    iterations: int = FORM_PRESETS[DEFAULT_FORM_PRESET]["iterations"]
    strength: float = DEFAULTS.style_strength
    style_loss: str = DEFAULTS.style_loss
    original_colors: bool = DEFAULTS.original_colors
    color_match: bool = DEFAULTS.color_match
    method: str = DEFAULTS.method
    init: str = DEFAULTS.init
    seed: Optional[float] = 0

    def sources(self) -> Tuple[Optional[str], List[str], List[str]]:
        """(content path, style paths, mask paths) as chosen: uploads win over samples."""
        samples = sample_images()
        content = (_paths(self.content_upload) or [samples.get(self.content_sample or "")])[0]
        styles = _paths(self.style_uploads) or [samples[name] for name in (self.style_samples or []) if name in samples]
        return content, styles, _paths(self.mask_uploads)

    def config(self, keep: Callable[[str], str] = lambda path: path) -> StyleConfig:
        """The run's configuration, every image checked (one-line errors); `keep(path)` is where an image is kept
        for the run (the gallery's copy)."""
        content, styles, masks = self.sources()
        if not content:
            raise NeuralStyleError("no content photo: upload one or pick a sample")
        if not styles:
            raise NeuralStyleError("no style painting: upload one or more, or pick a sample")
        images.load_image(content, "content")
        for index, style in enumerate(styles):
            images.load_image(style, "style" if len(styles) == 1 else f"style #{index + 1}")
        style_loss = self.style_loss if self.style_loss in STYLE_LOSSES else DEFAULTS.style_loss
        config = StyleConfig(
            content=keep(content), styles=tuple(keep(style) for style in styles),
            masks=tuple(keep(mask) for mask in masks),
            style_blend_weights=_numbers(self.blend_weights, "blend weights"),
            size=int(self.size), iterations=int(self.iterations), style_loss=style_loss,
            style_strength=float(self.strength),
            original_colors=bool(self.original_colors), color_match=bool(self.color_match),
            method=self.method, init=self.init,
            seed=None if self.seed is None or (isinstance(self.seed, float) and math.isnan(self.seed)) else int(self.seed))
        validate(config)
        return config


def status_line(summary: Dict[str, Any]) -> str:
    """The line under the picture: where the run is, its loss, and the time left (the live page's summary)."""
    status = summary["status"]
    if status in ("done", "stopped", "failed"):
        return f"**{status}**" + (f": {summary['message']}" if summary.get("message") else "")
    if not summary["iteration"]:
        return summary.get("message") or "starting: loading the network and the images"
    loss = summary.get("loss") or {}
    terms = ", ".join(f"{name} {value:.3g}" for name, value in loss.items() if name not in ("iteration", "total"))
    left = summary.get("seconds_left")
    return (f"iteration {summary['iteration']}/{summary['total_iterations']}"
            + (f" · {summary['scale']}" if summary.get("scale") else "")
            + f" · loss {loss.get('total', float('nan')):.4g} ({terms})"
            + f" · {format_duration(summary['seconds'])} elapsed" + (f", about {format_duration(left)} left" if left is not None else ""))


def curve_rows(history: Sequence[Dict[str, float]]) -> Dict[str, List[Any]]:
    """The loss curve as long-format columns (iteration, term, log10_loss), thinned to about CURVE_POINTS
    iterations."""
    stride = max(1, math.ceil(len(history) / CURVE_POINTS))
    points = list(history[::stride]) + ([history[-1]] if history and (len(history) - 1) % stride else [])
    rows: Dict[str, List[Any]] = {"iteration": [], "term": [], "log10_loss": []}
    for point in points:
        for name, value in point.items():
            if name != "iteration" and value is not None and value > 0 and math.isfinite(value):
                rows["iteration"].append(int(point["iteration"]))
                rows["term"].append(name)
                rows["log10_loss"].append(math.log10(value))
    return rows


class Studio:
    """One studio: its gallery, the networks its runs share, and the run under way (one at a time)."""

    def __init__(self, gallery: Gallery, command_line: Callable[[StyleConfig], str], seed: Optional[int] = None,
                 device: Optional[str] = None, notify: Callable[[str], None] = lambda line: None,
                 size: Optional[int] = None, iterations: Optional[int] = None,
                 memory_budget: Optional[str] = None, backend: str = "auto") -> None:
        self.gallery = gallery
        # The form's starting size and iterations (default: the DEFAULT_FORM_PRESET's).
        self.size = size or StudioForm.size
        self.iterations = iterations or StudioForm.iterations
        self.command_line = command_line
        self.seed = seed
        self.device = device
        self.memory_budget = memory_budget  # the studio command's --memory-budget, applied to every run
        self.backend = backend  # the studio command's --backend: its process computes on it
        self.notify = notify
        self.current: Optional[LiveRun] = None
        self.stop_asked = threading.Event()
        self.extractors = SharedExtractors()  # one network for every run that can share it
        self._one_run = threading.Lock()

    # --- runs --------------------------------------------------------------------------------

    def paint(self, form: StudioForm) -> Iterator[Tuple[Optional[np.ndarray], str, Dict[str, List[Any]], str,
                                                        Optional[Entry]]]:
        """Run the form's picture, yielding (picture, status line, curve rows, command line, gallery entry) as it goes;
        the last has the gallery entry of the finished (or stopped) picture. A bad form yields its one line."""
        try:
            config = form.config(self.gallery.keep_input)
        except NeuralStyleError as error:
            yield None, f"**error:** {error}", curve_rows([]), "", None
            return
        config = config.with_options(device=config.device or self.device, backend=self.backend,
                                     memory_budget=config.memory_budget or self.memory_budget)
        command = self.command_line(config.with_options(output="out.png"))
        with self._one_run:
            self.stop_asked.clear()
            live = self.current = LiveRun(config.iterations)
            outcome: Dict[str, Any] = {}

            def work() -> None:
                try:
                    outcome["result"] = stylize(config=config, watch=SILENT_WATCH,
                                                extractor=self.extractors.for_config(config), live=live,
                                                should_stop=self.stop_asked.is_set)
                except NeuralStyleError as error:
                    outcome["error"] = str(error)
                except Exception as error:  # shown on the page, and the studio goes on
                    outcome["error"] = f"{type(error).__name__}: {error}"
                if "error" in outcome:
                    live.finish(None, "failed", outcome["error"])

            thread = threading.Thread(target=work, name="neural-style studio run", daemon=True)
            thread.start()
            seen, sent_at = -1, 0.0
            while thread.is_alive():
                # Sleep until the next frame may go, then wait for a change: never a loop that spins (measured: a
                # spinning wait cost the run 56% per evaluation on 2 cores).
                time.sleep(max(0.0, sent_at + FRAME_SECONDS - time.monotonic()))
                version, summary = live.wait_for_change(seen, FRAME_SECONDS)
                if version != seen:
                    seen, sent_at = version, time.monotonic()
                    yield live.current_picture(), status_line(summary), curve_rows(live.state.history), command, None
            thread.join()
            self.current = None
        if "error" in outcome:
            yield live.current_picture(), f"**error:** {outcome['error']}", curve_rows(live.state.history), command, None
            return
        result = outcome["result"]
        if result.stop_reason == "stopped" and result.iterations == 0:
            yield None, "**stopped** before the first iteration: nothing to keep", curve_rows([]), command, None
            return
        entry = self.gallery.add(result.image, _picture_name(config), settings_record(config, command, result))
        self.notify(f"studio: {os.path.basename(entry.picture)}: {result.iterations} iterations in {result.seconds:.0f} s"
                    f" ({result.stop_reason})")
        summary = live.state.summary()
        yield (result.image, status_line(summary) + f" · kept as {os.path.basename(entry.picture)}",
               curve_rows(live.state.history), command, entry)

    def sheet(self, form: StudioForm) -> Iterator[Tuple[Optional[np.ndarray], str, Optional[Entry]]]:
        """A contact sheet of the chosen styles at three style strengths around the form's (sheet.py), small and
        short, each cell shown as it finishes; yields (sheet so far, status line, gallery entry at the end)."""
        try:
            config = form.config(self.gallery.keep_input)
        except NeuralStyleError as error:
            yield None, f"**error:** {error}", None
            return
        strengths = tuple(float(f"{form.strength * factor:.3g}") for factor in SHEET_STRENGTHS)
        config = config.with_options(size=min(config.size, SHEET_SIZE), iterations=min(config.iterations, SHEET_ITERATIONS),
                                     masks=(), style_masks=(), method="optimize")
        sweeps = [Sweep("style_strength", "style strength", strengths)]
        try:
            column_labels, row_labels, cells = plan_cells(config, sweeps)
        except NeuralStyleError as error:
            yield None, f"**error:** {error}", None
            return
        done: Dict[Tuple[int, int], np.ndarray] = {}
        with self._one_run:
            self.stop_asked.clear()
            finished: Dict[str, Any] = {}

            def work() -> None:
                try:
                    finished["sheet"] = paint_sheet(config, sweeps, os.path.join(self.gallery.folder, "sheet_cells"),
                                                    should_stop=self.stop_asked.is_set,
                                                    on_cell=lambda cell, picture: done.__setitem__(
                                                        (cell.row, cell.column), picture),
                                                    extractors=self.extractors)
                except NeuralStyleError as error:
                    finished["error"] = str(error)

            thread = threading.Thread(target=work, name="neural-style studio sheet", daemon=True)
            thread.start()
            shown_cells = 0
            while thread.is_alive():
                thread.join(FRAME_SECONDS)
                if len(done) != shown_cells:
                    shown_cells = len(done)
                    yield (images.to_array(lay_out(dict(done), column_labels, row_labels)),
                           f"contact sheet: {shown_cells}/{len(cells)} cells", None)
        if "error" in finished:
            yield None, f"**error:** {finished['error']}", None
            return
        if finished.get("sheet") is None:
            yield None, f"**stopped**: {len(done)} of {len(cells)} cells painted (kept for the next sheet)", None
            return
        picture = images.to_array(finished["sheet"])
        entry = self.gallery.add(picture, "sheet-" + _picture_name(config),
                                 {"sheet": {"style_strengths": list(strengths)}, **settings_record(config, "")})
        yield picture, f"contact sheet done · kept as {os.path.basename(entry.picture)}", entry

    def close(self, timeout: float = 60.0) -> None:
        """Stop the run under way and wait (up to `timeout` s) for it to end, so the process exits cleanly."""
        self.stop()
        if self._one_run.acquire(timeout=timeout):
            self._one_run.release()

    def stop(self) -> str:
        """Ask the run under way to stop; it keeps its picture so far."""
        if not self._one_run.locked():
            return "nothing is running"
        self.stop_asked.set()
        return "stopping after the current evaluation; the picture so far is kept"


def _picture_name(config: StyleConfig) -> str:
    def stem(source: Any) -> str:
        return os.path.splitext(os.path.basename(source))[0][:20] if isinstance(source, str) else "image"
    return "-".join([stem(config.content)] + [stem(style) for style in config.styles])


__all__ = ["DEFAULT_FORM_PRESET", "FORM_PRESETS", "Studio", "StudioForm", "curve_rows", "sample_images",
           "status_line"]
