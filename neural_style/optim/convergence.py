"""When an optimisation has converged: the loss fell by less than a fraction over a window of iterations."""

from __future__ import annotations

from typing import List

from neural_style.step import Step


class Converged(Exception):
    """Raised by an iteration callback when the loss has stopped falling; its message says how.
    (Not a StopIteration: scipy swallows those from callbacks and reports its own halt.)"""


# The iterations over which the loss's fall is measured: whole windows, not single iterations, because one L-BFGS
# iteration can stall and the next make progress again.
CONVERGENCE_WINDOW = 10


class ConvergenceCheck:
    """Ends an optimisation once the loss has fallen by less than the fraction `tolerance` over the
    last `window` iterations (0 turns it off)."""

    def __init__(self, tolerance: float, window: int = CONVERGENCE_WINDOW) -> None:
        self.tolerance = tolerance
        self.window = window
        self.totals: List[float] = []

    def __call__(self, step: Step) -> None:
        self.totals.append(step.total)
        if self.tolerance <= 0 or len(self.totals) <= self.window:
            return
        before = self.totals[-1 - self.window]
        fall = (before - step.total) / abs(before) if before else 0.0
        if fall < self.tolerance:
            raise Converged(f"converged: the loss fell {100 * fall:.2g}% over the last {self.window} iterations "
                            f"(--tolerance {self.tolerance:g})")


__all__ = ["CONVERGENCE_WINDOW", "Converged", "ConvergenceCheck"]
