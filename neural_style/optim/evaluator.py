"""The optimisers' view of the objective: `fun(x) -> (loss, gradient)` in float64, counted, checked, and the
record of an iteration built from the last evaluation."""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Callable, Dict, Optional, Tuple

import numpy as np

from neural_style.errors import NeuralStyleError
from neural_style.optim.convergence import Converged
from neural_style.step import Step

if TYPE_CHECKING:
    from neural_style.objective.evaluation import TermObjective


class NonFiniteLoss(NeuralStyleError):
    """The loss or gradient became NaN or infinite."""


@dataclass
class Outcome:
    """How an optimiser ended."""

    image: np.ndarray  # flat network image: the last good iterate
    iterations: int
    evaluations: int
    reason: str  # "done", "stopped", or why the optimiser ended early
    error: Optional[str] = None  # set when the loss went bad; `image` is the last good one


# How a run may end from inside an evaluation or a watcher: converged (convergence.Converged), stopped (a watcher or a
# signal raised StopIteration), or failed (the loss went bad). Every optimiser catches these and asks `ending`.
def ending(ended: BaseException) -> Tuple[str, Optional[str]]:
    """(reason, error) of a run ended by `ended`: the convergence's message, 'stopped', or 'failed' with the error."""
    if isinstance(ended, NonFiniteLoss):
        return "failed", str(ended)
    if isinstance(ended, StopIteration):
        return "stopped", None
    return str(ended), None


# The exceptions `ending` names.
ENDINGS = (Converged, StopIteration, NonFiniteLoss)


class Evaluator:
    """Calls the compiled objective: scipy's `fun(x) -> (loss, gradient)` in float64 copies.

    It counts evaluations and remembers the last one, so the L-BFGS callback can report the loss
    of the iterate without evaluating it again. `should_stop()` is polled before every evaluation.
    """

    def __init__(self, objective: "TermObjective", shape: Tuple[int, ...], device: str,
                 should_stop: Optional[Callable[[], bool]] = None) -> None:
        self.objective = objective
        self.shape = shape
        self.device = device
        self.should_stop = should_stop or (lambda: False)
        self.evaluations = 0
        self.last_x: Optional[np.ndarray] = None
        self.last_gradient: Optional[np.ndarray] = None
        self.last_terms: Dict[str, float] = {name: math.nan for name in objective.names}
        self.last_total = math.nan

    def evaluate_tensor(self, image) -> Tuple[float, Dict[str, float], object]:
        """Loss, weighted terms by name and gradient tensor for a 1 x H x W x 3 float32 tensor."""
        from keras import ops

        from neural_style import backends

        if self.should_stop():
            raise StopIteration
        with backends.device_scope(self.device):
            total, terms, gradient = self.objective.loss_and_gradient(image)
        total = float(total)
        terms = dict(zip(self.objective.names, (float(t) for t in ops.convert_to_numpy(terms))))
        self.evaluations += 1
        self.last_total, self.last_terms = total, terms  # the last point evaluated, whoever asked
        if not math.isfinite(total):
            bad = [name for name, value in terms.items() if not math.isfinite(value)]
            raise NonFiniteLoss(
                f"the {' and '.join(bad) or 'total'} loss became {total} at evaluation {self.evaluations}: "
                "lower the loss weights or the learning rate"
            )
        if not bool(ops.all(ops.isfinite(gradient))):
            raise NonFiniteLoss(
                f"the gradient became NaN or infinite at evaluation {self.evaluations}: lower the loss weights"
            )
        return total, terms, gradient

    def __call__(self, x: np.ndarray) -> Tuple[float, np.ndarray]:
        from keras import ops

        from neural_style import backends

        if self.last_x is not None and np.array_equal(self.last_x, x):
            return self.last_total, self.last_gradient  # asked again for the point just evaluated
        with backends.device_scope(self.device):
            image = ops.convert_to_tensor(x.reshape(self.shape).astype(np.float32))
        total, terms, gradient = self.evaluate_tensor(image)
        self.last_gradient = ops.convert_to_numpy(gradient).astype(np.float64).ravel()
        self.last_x = x.copy()
        self.last_total, self.last_terms = total, terms
        return total, self.last_gradient

    def step(self, iteration: int, started: float, image: np.ndarray, total: Optional[float] = None,
             terms: Optional[Dict[str, float]] = None) -> Step:
        """The record of iteration `iteration` at `image`, with its loss and terms (default: the last evaluation's,
        where the caller knows that point is the iterate)."""
        _, height, width, _ = self.shape
        return Step(iteration, self.evaluations, time.perf_counter() - started,
                    self.last_total if total is None else total, dict(self.last_terms if terms is None else terms),
                    width, height, image)


__all__ = ["ENDINGS", "Evaluator", "NonFiniteLoss", "Outcome", "ending"]
