"""The live view in a notebook: the picture and the loss curve updating in place (`stylize(..., display=True)`).

IPython's display handles replace one output in place, so a cell shows one picture and one curve that
change as the run goes, not a scroll of them. The picture is rendered at most once every
`UPDATE_SECONDS` (a kernel sending PNGs every iteration would slow small runs), and always at the end.
The curve is a small SVG drawn here, so nothing beyond IPython is needed.
"""

from __future__ import annotations

import math
import time
from typing import Callable, Dict, List, Optional

import numpy as np

from neural_style.errors import NeuralStyleError
from neural_style.step import Step
from neural_style.watch.live_run import png_bytes

UPDATE_SECONDS = 1.0
# The total's colour, then one per term in the objective's order (the terms' names come with the points).
TOTAL_COLOUR = "#222222"
TERM_COLOURS = ("#1f77b4", "#e07b00", "#2ca02c", "#9467bd", "#d62728", "#8c564b")


def curve_colours(history: List[Dict[str, float]]) -> Dict[str, str]:
    """{series name: colour}: 'total', then each term of the points, in order."""
    names = [name for name in (history[0] if history else {}) if name not in ("iteration", "total")]
    return {"total": TOTAL_COLOUR, **{name: TERM_COLOURS[i % len(TERM_COLOURS)] for i, name in enumerate(names)}}


def loss_curve_svg(history: List[Dict[str, float]], width: int = 480, height: int = 220) -> str:
    """Every term's loss against the iteration, on a log scale, as an SVG document."""
    pad = 40
    colours = curve_colours(history)
    values = [math.log10(p[k]) for p in history for k in colours if p.get(k) and p[k] > 0 and math.isfinite(p[k])]
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
             f'style="background:#fff;font:11px sans-serif">']
    if values and len(history) > 1:
        low, high = min(values), max(values)
        if high - low < 1e-6:
            low, high = low - 0.5, high + 0.5
        first, last = history[0]["iteration"], max(history[-1]["iteration"], history[0]["iteration"] + 1)

        def x(iteration: float) -> float:
            return pad + (width - pad - 10) * (iteration - first) / (last - first)

        def y(value: float) -> float:
            return 10 + (height - pad - 10) * (high - math.log10(value)) / (high - low)

        for exponent in range(math.ceil(low), math.floor(high) + 1):
            parts.append(f'<line x1="{pad}" x2="{width - 10}" y1="{y(10 ** exponent):.1f}" y2="{y(10 ** exponent):.1f}" '
                         f'stroke="#ddd"/><text x="2" y="{y(10 ** exponent) + 4:.1f}">1e{exponent}</text>')
        for name, colour in colours.items():
            points = " ".join(f"{x(p['iteration']):.1f},{y(p[name]):.1f}" for p in history
                              if p.get(name) and p[name] > 0 and math.isfinite(p[name]))
            parts.append(f'<polyline fill="none" stroke="{colour}" stroke-width="{2 if name == "total" else 1.2}" '
                         f'points="{points}"/>')
        parts.append(f'<text x="{width - 100}" y="{height - 10}">iteration {history[-1]["iteration"]}</text>')
        for index, (name, colour) in enumerate(colours.items()):
            parts.append(f'<text x="{pad + 70 * index}" y="{height - 10}" fill="{colour}">&#9632; {name}</text>')
    parts.append("</svg>")
    return "".join(parts)


class NotebookView:
    """Two display handles, the picture and the curve, updated as steps arrive."""

    def __init__(self, render: Callable[[Step], np.ndarray], total_iterations: int) -> None:
        try:
            from IPython.display import HTML, display
        except ImportError:
            raise NeuralStyleError("display=True needs IPython: run it in Jupyter, or pip install ipython") from None
        self.render = render
        self.total_iterations = total_iterations
        self.history: List[Dict[str, float]] = []
        self._last_update = -math.inf
        self.updates = 0
        self.picture = display(HTML("<i>starting&hellip;</i>"), display_id=True)
        self.curve = display(HTML(""), display_id=True)

    def on_step(self, step: Step) -> None:
        self.history.append(step.as_point())
        if time.monotonic() - self._last_update >= UPDATE_SECONDS:
            self._show(self.render(step), f"iteration {step.iteration} of {self.total_iterations}")

    def on_start(self, picture: np.ndarray) -> None:
        self._show(picture, "the feed-forward (AdaIN) start")

    def finish(self, final: Optional[np.ndarray], status: str) -> None:
        if final is not None:
            self._show(final, status)

    def _show(self, pixels: np.ndarray, caption: str) -> None:
        from IPython.display import SVG, Image

        self.picture.update(Image(data=png_bytes(pixels), format="png", metadata={"caption": caption}))
        self.curve.update(SVG(data=loss_curve_svg(self.history)))
        self._last_update = time.monotonic()
        self.updates += 1


__all__ = ["NotebookView", "curve_colours", "loss_curve_svg"]

