"""A bounded L-BFGS that stays where the evaluation runs (`--optimizer lbfgs-device`): the iterate, the gradient, the
history and the line search are the backend's tensors on the run's device, in float32 whatever the evaluation's
precision; each iteration brings back a few scalars (the loss, its terms, the line search's tests), and the picture
only when a watcher asks for it (a snapshot, a timelapse frame, the live page) or the scale ends.

Why: on a GPU, scipy's L-BFGS-B works on the host in float64 on one core while the card waits. How long it waits has
not been measured with this tool yet (it has not run on a GPU: docs/gpu.md lists what waits); a PyTorch twin of this
objective, not this tool, measured on an NVIDIA H200 79 ms of host work per iteration against 9.8 ms per evaluation
at 512 px, and the same projected method kept on the card reached scipy's loss in a fraction of the time. On a CPU
scipy's routine is a small part of an iteration (docs/performance.md), and stays the default there.

The method, per iteration (a projected L-BFGS, after Kim, Sra & Dhillon's projected quasi-Newton):
- the variables at a bound whose gradient points outward are held (the active set); the rest are free;
- the direction is the two-loop recursion over the free variables, with the last `history` pairs (s, y) and the
  initial scaling s.y / y.y; the first iteration's (and a restart's) is the projected gradient scaled to one grey
  level, root mean square (optim/lbfgs.py measured that step for scipy's routine);
- the step is searched along the projected path, x(t) = clip(x + t d), backtracking to a non-monotone Armijo
  condition: the loss must fall below the largest of the last NONMONOTONE_WINDOW losses (plus, in bfloat16 and
  float16, the loss's own rounding) by a fraction of the predicted decrease. In bfloat16 the plain Armijo test broke
  on the loss's rounding (4.8 evaluations an iteration in the PyTorch twin on an H200); against a few recent losses one evaluation is
  the rule again;
- a pair is kept only where its curvature s.y is positive, so the approximation stays positive definite;
- where no step along the direction decreases the loss, the history is dropped and the scaled projected gradient
  tried; where that fails too, the run ends, as scipy's does, with the reason.
"""

from __future__ import annotations

import time
from collections import deque
from dataclasses import dataclass
from typing import Any, Callable, Deque, Dict, List, Optional, Tuple

import numpy as np
from keras import ops

from neural_style import backends

from neural_style.optim.evaluator import ENDINGS, Evaluator, NonFiniteLoss, Outcome, ending
from neural_style.step import Step

ARMIJO = 1e-4
NONMONOTONE_WINDOW = 5
MAX_BACKTRACKS = 10
BACKTRACK = 0.5
SHORTEST = 0.1
# Wolfe's curvature constant (as scipy's line search has it), and how far and how often a first step is extended.
CURVATURE = 0.9
EXTEND = 4.0
MAX_EXTENSIONS = 8
# The loss's relative rounding in each precision of the evaluation (a step smaller than this cannot be judged).
LOSS_ROUNDING = {"float32": 0.0, "bfloat16": 2e-3, "float16": 5e-4}
# Convergence, as scipy's L-BFGS-B tests it: the projected gradient's largest component (pgtol), and the loss's
# relative reduction over an iteration (factr times the machine epsilon), the latter only with a tolerance. pgtol is
# relative to the start's projected gradient here: a picture's gradient is small per pixel, and scipy's absolute 1e-5
# ended a 384 px run after 147 of 300 iterations, 22% above the loss scipy's routine reached (which this tool runs
# without pgtol: optim/lbfgs.py); an optimal start (a zero projected gradient) still ends at once.
RELATIVE_PGTOL = 1e-5
RELATIVE_REDUCTION = 1e7 * np.finfo(np.float64).eps


def _dot(a: Any, b: Any) -> Any:
    return ops.sum(a * b)


@dataclass(frozen=True)
class _Point:
    """An evaluated point: where, its loss, its terms and its gradient (flat)."""

    x: Any
    total: float
    terms: Dict[str, float]
    gradient: Any


class DeviceLbfgs:
    """Minimise from `x0` within `bounds` for `iterations`, reporting each through `on_iteration(Step)`; the
    evaluation's device holds everything (see the module's docstring). `tolerance` > 0 (--tolerance) also ends the run
    where an iteration no longer reduces the loss (RELATIVE_REDUCTION)."""

    def __init__(self, evaluator: Evaluator, x0: np.ndarray, bounds: Tuple[np.ndarray, np.ndarray], iterations: int,
                 history: int, on_iteration: Callable[[Step], None], precision: str = "float32",
                 tolerance: float = 0.0) -> None:
        self.evaluator = evaluator
        self.iterations = iterations
        self.on_iteration = on_iteration
        self.rounding = LOSS_ROUNDING.get(precision, 0.0)
        self.tolerance = tolerance
        with backends.device_scope(evaluator.device):
            self.low = ops.convert_to_tensor(np.asarray(bounds[0], np.float32))
            self.high = ops.convert_to_tensor(np.asarray(bounds[1], np.float32))
            self.x = ops.clip(ops.convert_to_tensor(np.asarray(x0, np.float32)), self.low, self.high)
        self.pairs: Deque[Tuple[Any, Any, Any]] = deque(maxlen=history)
        self.recent: Deque[float] = deque(maxlen=NONMONOTONE_WINDOW)
        self.iteration = 0
        self.started = time.perf_counter()

    def _evaluate(self, x: Any) -> Tuple[float, Dict[str, float], Any]:
        total, terms, gradient = self.evaluator.evaluate_tensor(ops.reshape(x, self.evaluator.shape))
        return total, terms, ops.reshape(gradient, [-1])

    def _free(self, x: Any, gradient: Any) -> Any:
        """The variables that may move: not at a bound with the gradient pointing out of the box."""
        held = ((x <= self.low) & (gradient > 0)) | ((x >= self.high) & (gradient < 0))
        return ops.logical_not(held)

    def _projected_gradient_norm(self, gradient: Any) -> float:
        """The largest component of the projected gradient, clip(x - g) - x: scipy's pgtol measure."""
        return float(ops.max(ops.abs(ops.clip(self.x - gradient, self.low, self.high) - self.x)))

    def _direction(self, gradient: Any, free: Any) -> Any:
        """-H g over the free variables: the two-loop recursion on the pairs restricted to the free variables, or the
        scaled projected gradient without history. The pairs are masked (2m transient copies, which the memory plan
        counts): the recursion on the whole pairs with only the gradient and the result masked was tried and took
        2.05 evaluations an iteration at 512 px in float32 against 1.25 (benchmark --optimizers)."""
        zero = ops.zeros_like(gradient)
        q = ops.where(free, gradient, zero)
        if not self.pairs:
            rms = ops.sqrt(ops.mean(ops.square(q)))
            return -q / ops.maximum(rms, 1e-30)  # one grey level, root mean square
        masked = [(ops.where(free, s, zero), ops.where(free, y, zero), rho) for s, y, rho in self.pairs]
        alphas: List[Any] = []
        for s, y, rho in reversed(masked):
            alpha = rho * _dot(s, q)
            q = q - alpha * y
            alphas.append(alpha)
        s_last, y_last, _ = self.pairs[-1]
        r = q * (_dot(s_last, y_last) / ops.maximum(_dot(y_last, y_last), 1e-30))
        for (s, y, rho), alpha in zip(masked, reversed(alphas)):
            beta = rho * _dot(y, r)
            r = r + (alpha - beta) * s
        return -ops.where(free, r, zero)

    def _search(self, total: float, gradient: Any, direction: Any) -> Optional[_Point]:
        """A step along the projected path that passes the non-monotone Armijo test, or None. A step whose projected
        path does not go down, or whose loss is not finite, is shortened like one that failed the test; the run's
        error is raised only where no trial point at all was finite."""
        if float(_dot(gradient, direction)) >= 0:
            return None  # not a descent direction: no step along it can help
        reference = max(self.recent) + self.rounding * abs(total)
        step, failure = 1.0, None
        all_bad = True
        for _ in range(MAX_BACKTRACKS):
            x_new = ops.clip(self.x + step * direction, self.low, self.high)
            predicted = float(_dot(gradient, x_new - self.x))  # the projected path's first-order decrease
            if predicted >= 0:  # the box bends the path upwards this far out: a shorter step
                step *= BACKTRACK
                continue
            try:
                new_total, new_terms, new_gradient = self._evaluate(x_new)
            except NonFiniteLoss as bad:  # a failed trial, backtracked from
                failure, step = bad, step * BACKTRACK
                continue
            all_bad = False
            if new_total <= reference + ARMIJO * predicted:
                point = _Point(x_new, new_total, new_terms, new_gradient)
                return self._extend(total, gradient, direction, step, predicted, point) if step == 1.0 else point
            # The minimum of the parabola through the loss here, its slope and the trial's loss, kept within
            # [SHORTEST, BACKTRACK] of the step (a safeguarded quadratic backtrack).
            curvature = new_total - total - predicted
            shrink = -predicted / (2.0 * curvature) if curvature > 0 else BACKTRACK
            step *= min(BACKTRACK, max(SHORTEST, shrink))
        if failure is not None and all_bad:
            raise failure
        return None

    def _extend(self, total: float, gradient: Any, direction: Any, step: float, predicted: float,
                point: _Point) -> _Point:
        """A whole first step that was accepted while the loss still falls steeply past it (the slope there still more
        than CURVATURE of the start's: Wolfe's curvature condition fails) is made EXTEND times longer while that
        lasts and the loss keeps falling: what scipy's line search does by extrapolating, and what carries the first
        iterations from a photo, whose curvature the history does not know yet. Only an unshortened step is
        extended: a shortened one would be stretched back to where a step was already refused."""
        for _ in range(MAX_EXTENSIONS):
            if float(_dot(point.gradient, point.x - self.x)) >= CURVATURE * predicted:
                break  # no longer steep: the step is long enough
            longer = step * EXTEND
            x_try = ops.clip(self.x + longer * direction, self.low, self.high)
            decrease = float(_dot(gradient, x_try - self.x))
            try:
                tried = _Point(x_try, *self._evaluate(x_try))
            except NonFiniteLoss:
                break  # too far: the step found stands
            if tried.total > min(point.total, total + ARMIJO * decrease):
                break
            step, predicted, point = longer, decrease, tried
        return point

    def _remember(self, x_new: Any, gradient: Any, new_gradient: Any) -> None:
        s, y = x_new - self.x, new_gradient - gradient
        curvature = _dot(s, y)
        if float(curvature) > 1e-10 * float(_dot(y, y)):  # keeps the approximation positive definite
            self.pairs.append((s, y, 1.0 / curvature))

    def run(self) -> Outcome:
        """Iterate until the budget is spent, a watcher stops it, it converges, or no step decreases the loss."""
        with backends.device_scope(self.evaluator.device):
            return self._run()

    def _converged(self, gradient: Any, before: Optional[float], after: float) -> Optional[str]:
        """Why the run has converged, as scipy's L-BFGS-B would say it, or None."""
        projected = self._projected_gradient_norm(gradient)
        if self.start_projected_gradient is None:
            self.start_projected_gradient = projected
        if projected <= RELATIVE_PGTOL * self.start_projected_gradient:
            return "converged: the projected gradient is " + (
                "zero" if projected == 0 else f"below {RELATIVE_PGTOL:g} of the start's")
        # A step the non-monotone test let rise is no sign of convergence: only a fall this small is.
        if self.tolerance > 0 and before is not None and 0 <= (before - after) <= RELATIVE_REDUCTION * max(
                abs(before), abs(after), 1.0):
            return "converged: an iteration no longer reduces the loss"
        return None

    def _run(self) -> Outcome:
        reason, error = "done", None
        self.start_projected_gradient: Optional[float] = None
        last_good = self.x
        try:
            total, _, gradient = self._evaluate(self.x)
            self.recent.append(total)
            reason = self._converged(gradient, None, total) or "done"
            while reason == "done" and self.iteration < self.iterations:
                free = self._free(self.x, gradient)
                found = self._search(total, gradient, self._direction(gradient, free))
                if found is None and self.pairs:  # a poor curvature estimate: start the history afresh
                    self.pairs.clear()
                    found = self._search(total, gradient, self._direction(gradient, free))
                if found is None:
                    reason = (f"L-BFGS (device) ended after {self.iteration} iterations: no step along the projected "
                              "gradient decreases the loss")
                    break
                self._remember(found.x, gradient, found.gradient)
                before = total
                self.x, total, gradient = found.x, found.total, found.gradient
                last_good = self.x
                self.recent.append(total)
                self.iteration += 1
                # The accepted iterate's own loss and terms, not the last point evaluated (a refused extension's).
                self.on_iteration(self.evaluator.step(self.iteration, self.started, self.x, found.total, found.terms))
                reason = self._converged(gradient, before, total) or "done"
        except ENDINGS as ended:
            reason, error = ending(ended)
        return Outcome(ops.convert_to_numpy(last_good).astype(np.float64), self.iteration, self.evaluator.evaluations,
                       reason, error)


def run_device_lbfgs(evaluator: Evaluator, x0: np.ndarray, bounds: Tuple[np.ndarray, np.ndarray], iterations: int,
                     history: int, on_iteration: Callable[[Step], None], precision: str = "float32",
                     tolerance: float = 0.0) -> Outcome:
    """`DeviceLbfgs(...).run()`: minimise with the bounded L-BFGS kept on the evaluation's device."""
    return DeviceLbfgs(evaluator, x0, bounds, iterations, history, on_iteration, precision, tolerance).run()


__all__ = ["ARMIJO", "LOSS_ROUNDING", "MAX_BACKTRACKS", "NONMONOTONE_WINDOW", "RELATIVE_PGTOL", "RELATIVE_REDUCTION", "DeviceLbfgs",
           "run_device_lbfgs"]
