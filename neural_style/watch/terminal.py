"""A run's progress on a terminal: one line, redrawn in place by `rich` (already installed with Keras), that fits the
terminal's width whatever it is and whenever it changes.

rich, not a bar of our own: it measures the terminal (and its resizes), knows a dumb terminal, a notebook, NO_COLOR and
Windows' console, and draws a live line that messages can be printed above without leaving pieces of it behind. tqdm
would do the bar, but not the line's own layout: what fits is chosen here, at every redraw, from what matters most
(the count and the time left) to what matters least (the bar, the loss terms)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Dict, Optional, TextIO

from rich.console import Console, ConsoleOptions, RenderResult
from rich.live import Live
from rich.text import Text

# The narrowest bar worth drawing (below it the bar is left out), and the widest.
MIN_BAR, MAX_BAR = 8, 30


@dataclass(frozen=True)
class ProgressLine:
    """What the line shows, as text pieces; laid out to the width it is given when it is drawn."""

    done: int
    total: int
    scale: str  # "scale 2/3 272x181", or ""
    loss: str  # "loss 7.001"
    terms: Dict[str, float]
    per_evaluation: str  # "0.34 s/eval"
    eta: str  # "ETA 0:12"

    def layout(self, width: int) -> str:
        """The line at `width` columns: the count and the time left always (cut only below their own width), then
        while they fit the loss, the seconds per evaluation, the scale, a bar (up to MAX_BAR) and each loss term."""
        shown = {"loss": False, "per_evaluation": False, "scale": False, "bar": 0, "terms": 0}
        for piece in ("loss", "per_evaluation", "scale", "bar", "terms"):
            if piece == "bar":
                room = width - len(self._render(shown)) - 3  # " [" and "]"
                shown["bar"] = min(room, MAX_BAR) if room >= MIN_BAR else 0
            elif piece == "terms":
                for count in range(1, len(self.terms) + 1):
                    if not shown["loss"] or len(self._render(dict(shown, terms=count))) > width:
                        break
                    shown["terms"] = count
            elif getattr(self, piece) and len(self._render(dict(shown, **{piece: True}))) <= width:
                shown[piece] = True
        return self._render(shown)[:width]

    def _render(self, shown: Dict[str, object]) -> str:
        head = f"{self.done}/{self.total}"
        if shown["bar"]:
            filled = int(shown["bar"] * self.done / max(self.total, 1))
            head += " [" + "#" * filled + "." * (shown["bar"] - filled) + "]"
        parts = [head]
        if shown["loss"]:
            terms = [f"{name} {value:.3g}" for name, value in list(self.terms.items())[:shown["terms"]]]
            parts.append(self.loss + (f" ({', '.join(terms)})" if terms else ""))
        parts += [getattr(self, piece) for piece in ("per_evaluation", "scale") if shown[piece]]
        return "  ".join([*parts, self.eta])

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        yield Text(self.layout(options.max_width), no_wrap=True, overflow="crop")


def terminal_console(stream: TextIO, terminal: Optional[bool] = None) -> Console:
    """A rich console on `stream`, highlighting off, colour as the environment allows; `terminal` overrides whether
    it is taken for a terminal (None: rich finds out)."""
    return Console(file=stream, highlight=False, soft_wrap=False, force_terminal=terminal)


def is_live_terminal(console: Console) -> bool:
    """Whether a line can be redrawn in place: a terminal that is not a dumb one (TERM=dumb), not a notebook."""
    return console.is_terminal and not console.is_dumb_terminal and not console.is_jupyter


def print_wrapped(console: Console, text: str) -> None:
    """A line of text on a terminal, word-wrapped to its width (not cut mid-word by the terminal)."""
    console.print(Text(text))


class LiveLine:
    """The line while a run goes: drawn on the first update, messages printed above it, ended by `close`."""

    def __init__(self, console: Console, transient: bool = False) -> None:
        self.console = console
        self.transient = transient  # cleared when closed, rather than left as the last state
        self._live: Optional[Live] = None

    def show(self, line: ProgressLine) -> None:
        if self._live is None:
            # No refresh thread and no redirection of the process's output: the line is redrawn at each update.
            self._live = Live(line, console=self.console, auto_refresh=False, transient=self.transient,
                              redirect_stdout=False, redirect_stderr=False)
            self._live.start()
        self._live.update(line, refresh=True)

    def print(self, text: str) -> None:
        """A message above the line (or plainly, with no line drawn)."""
        print_wrapped(self.console, text)

    def close(self) -> None:
        if self._live is not None:
            self._live.stop()
            self._live = None


__all__ = ["LiveLine", "MAX_BAR", "MIN_BAR", "ProgressLine", "is_live_terminal", "print_wrapped", "terminal_console"]
