"""L-BFGS-B over the flattened image (scipy's routine, driven by lbfgsb.py): one continuous run, its memory
kept, with a small policy for the ways it can fail to get going.

States of a run, by name:
- a COLD start (the content image, noise or the AdaIN picture: not an earlier result) is watched for a stall: if
  the loss has not fallen by STALL_FALL after STALL_ITERATIONS, the attempt is STALLED and restarted with a scaled
  first step;
- a first iteration that has spent FIRST_ITERATION_EVALUATIONS evaluations without finishing is STALLED too, and
  so is any of a cold start's first STALL_ITERATIONS iterations that has;
- an attempt that ENDED_EARLY (scipy ended before the budget) is restarted: plainly (a fresh memory) when it
  made progress, with the scaled first step when it made NO_PROGRESS; at most LBFGS_RESTARTS times;
- it is FINISHED when the budget is spent or a callback halted it; Converged (from the iteration callback),
  a stop request and a loss gone bad end it from anywhere.
"""

from __future__ import annotations

import enum
import math
import time
from typing import Callable, Optional, Tuple

import numpy as np

from neural_style.optim import lbfgsb
from neural_style.optim.convergence import Converged
from neural_style.optim.evaluator import ENDINGS, Evaluator, Outcome, ending
from neural_style.step import Step

# L-BFGS-B ending before its budget can be a passing thing: in bfloat16, scales that started from an
# upsampled picture ended after 0 or 1 iterations (ABNORMAL_TERMINATION_IN_LNSRCH; CONVERGENCE:
# RELATIVE REDUCTION OF F <= FACTR*EPSMCH, with factr 0: a step too small to change the loss). It is
# restarted from where it stopped this many times before the run is ended with scipy's reason.
LBFGS_RESTARTS = 2
# From a content start, L-BFGS-B's plain first step (a unit-length step along -g) stalled on 8 of 24
# frames of the sample video at 256 px: the loss fell 1% in 10 iterations and stayed near 800, where
# a one-grey-level first step reached 7.9 in 30 iterations (chelsea, which does not stall, falls 80%
# in 10). A cold start that has not fallen by STALL_FALL after STALL_ITERATIONS restarts with that step.
STALL_ITERATIONS = 10
STALL_FALL = 0.10
# A plain first iteration takes 2 evaluations. From a picture upsampled 2x per side (a 1024 px result
# as --init of a 2048 px run) the first step -g was 7e-6 grey levels, below bfloat16's resolution of
# the loss, and the line search spent its evaluations on it without moving (measured). After this many,
# the attempt is restarted with the one-grey-level step instead. It also fires in ordinary runs: a 384 px
# chelsea run's last scale spent 19 evaluations on its first iteration (now 7, final loss 5.530 -> 5.522),
# and coffee's cold start 21 before failing (now 7, the same final loss). From the content, an early iteration
# can stick the same way: Tübingen / The Starry Night at 256 px, float32, spent 7-8 evaluations on each of its
# iterations 2-5 (36 evaluations for 10 iterations, the loss 168 -> 149 after 5); restarted there with the scaled
# step, 10 iterations take 14 (docs/performance.md, "No cold-start stall").
FIRST_ITERATION_EVALUATIONS = 6


class Ending(enum.Enum):
    """How one attempt (one call of scipy's routine) ended."""

    FINISHED = "finished"  # the budget is spent, or a callback halted it
    STALLED = "stalled"  # a cold start or first iteration that could not get going
    NO_PROGRESS = "no progress"  # scipy ended early after at most one iteration
    ENDED_EARLY = "ended early"  # scipy ended early after making progress


class _Stalled(Exception):
    """Leaves scipy's loop from inside an evaluation or the iteration callback."""


class LbfgsRun:
    """Minimise with L-BFGS-B from `x0` within `bounds` for `iterations`, reporting each through
    `on_iteration(Step)`.

    Tolerances are zero so float32 noise in the loss cannot end the run early: it stops at `iterations`, or
    when the line search can make no progress even from a fresh start. The plain first step is kept unless a
    start fails: from the content image the scaled one lost about 25 iterations (measured).
    """

    def __init__(self, evaluator: Evaluator, x0: np.ndarray, bounds: Tuple[np.ndarray, np.ndarray], iterations: int,
                 history: int, on_iteration: Callable[[Step], None], cold_start: bool = False) -> None:
        self.evaluator = evaluator
        self.bounds = bounds
        self.iterations = iterations
        self.history = history
        self.on_iteration = on_iteration
        self.iteration = 0
        self.image = x0
        self.scale = 1.0  # scipy works on x / scale
        self.watching_stall = cold_start
        self.scaled_start_tried = False
        self.started = time.perf_counter()
        self.evaluations_at_start = evaluator.evaluations
        self.evaluations_at_iterate = evaluator.evaluations  # when the last iterate was reached
        self._start_point: Optional[Tuple[np.ndarray, float, np.ndarray]] = None
        self._first_request = True
        self._first_loss = math.nan

    def run(self) -> Outcome:
        """Attempt, restart as the states above say, and report how it ended."""
        reason = "done"
        try:
            for _ in range(LBFGS_RESTARTS + 1):
                attempt, ended_because = self._attempt()
                if attempt is not Ending.STALLED:
                    reason = ended_because
                if attempt is Ending.FINISHED:
                    break
                if attempt is Ending.STALLED:
                    self.watching_stall = False
                    self._scale_first_step()
                elif attempt is Ending.NO_PROGRESS:
                    if self.scaled_start_tried:
                        break
                    self._scale_first_step()
                else:
                    self.scale = 1.0  # a plain restart with a fresh memory
        except ENDINGS as ended:
            reason, error = ending(ended)
            return Outcome(self.image, self.iteration, self.evaluator.evaluations, reason, error)
        return Outcome(self.image, self.iteration, self.evaluator.evaluations, reason)

    def _attempt(self) -> Tuple[Ending, str]:
        """One call of scipy's routine from the current image, for the iterations left."""
        begun_at = self.iteration
        self._first_request = True
        scale = self.scale
        try:
            y, _, info = lbfgsb.fmin_l_bfgs_b(
                self._scaled_evaluation, self.image / scale, bounds=(self.bounds[0] / scale, self.bounds[1] / scale),
                m=self.history, factr=0.0, pgtol=0.0, maxiter=self.iterations - self.iteration,
                maxfun=max(15000, 20 * self.iterations), callback=self._on_new_iterate)
        except _Stalled:
            return Ending.STALLED, ""
        if self.iteration > begun_at:
            self.image = y * scale  # with no iteration made, L-BFGS-B has returned its start point
        task = info.get("task", "")
        task = task.decode() if isinstance(task, bytes) else str(task)
        if "HALT" in task:
            return Ending.FINISHED, "stopped"
        if self.iteration >= self.iterations:
            return Ending.FINISHED, "done"
        reason = f"L-BFGS ended after {self.iteration} iterations: {task}"
        return (Ending.NO_PROGRESS if self.iteration - begun_at <= 1 else Ending.ENDED_EARLY), reason

    def _start(self) -> Tuple[float, np.ndarray]:
        # Evaluated once however many attempts start at the same point: a restart after a stalled first
        # iteration evaluated it twice more (the README's 384 px run: 160 -> 158 evaluations, the same
        # result; at 4096 px an evaluation takes 101 s). Kept in float32, as computed.
        if self._start_point is None or self._start_point[0] is not self.image:
            total, gradient = self.evaluator(self.image)
            self._start_point = (self.image, total, gradient.astype(np.float32))
        return self._start_point[1], self._start_point[2].astype(np.float64)

    def _scaled_evaluation(self, y: np.ndarray) -> Tuple[float, np.ndarray]:
        if self._iteration_stuck():
            raise _Stalled
        if self._first_request:
            # L-BFGS-B's first request is its start, x / scale, which need not multiply back to x bit for bit.
            self._first_request = False
            total, gradient = self._start()
        else:
            total, gradient = self.evaluator(y * self.scale)
        return total, gradient * self.scale

    def _iteration_stuck(self) -> bool:
        """Whether the iteration under way has spent FIRST_ITERATION_EVALUATIONS evaluations, and is the first, or
        one of a watched cold start's first STALL_ITERATIONS (before any scaled step was tried)."""
        if self.scaled_start_tried:
            return False
        if self.iteration == 0:
            return self.evaluator.evaluations - self.evaluations_at_start >= FIRST_ITERATION_EVALUATIONS
        return (self.watching_stall and self.iteration < STALL_ITERATIONS
                and self.evaluator.evaluations - self.evaluations_at_iterate >= FIRST_ITERATION_EVALUATIONS)

    def _on_new_iterate(self, yk: np.ndarray) -> None:
        xk = yk * self.scale
        self.iteration += 1
        self.image = xk
        self._start_point = None  # a new point: the old start's gradient is not needed again
        evaluator = self.evaluator
        if evaluator.last_x is None or not np.array_equal(evaluator.last_x, xk):
            evaluator(xk)  # rare: the iterate is not the last point evaluated
        self.evaluations_at_iterate = evaluator.evaluations
        if self.iteration == 1:
            self._first_loss = evaluator.last_total
        stalled = (self.watching_stall and self.iteration == STALL_ITERATIONS + 1
                   and evaluator.last_total > (1 - STALL_FALL) * self._first_loss)
        try:
            self.on_iteration(evaluator.step(self.iteration, self.started, xk))
        except Converged:
            if not stalled:  # a stall is not convergence: it is restarted
                raise
        if stalled:
            raise _Stalled

    def _scale_first_step(self) -> None:
        # With every value bounded, L-BFGS-B's first trial step is the whole gradient step -g, which can
        # be too small to change a bfloat16 loss (a picture near a minimum, as an upsampled coarse
        # result is): scipy then reports convergence or a failed line search after an iteration or
        # none. Scaled variables make that first step one grey level (root mean square).
        _, gradient = self._start()
        self.scale = 1.0 / math.sqrt(max(float(np.sqrt(np.mean(gradient ** 2))), 1e-30))
        self.scaled_start_tried = True


def run_lbfgs(evaluator: Evaluator, x0: np.ndarray, bounds: Tuple[np.ndarray, np.ndarray], iterations: int,
              history: int, on_iteration: Callable[[Step], None], cold_start: bool = False) -> Outcome:
    """`LbfgsRun(...).run()`: minimise with L-BFGS-B (see LbfgsRun)."""
    return LbfgsRun(evaluator, x0, bounds, iterations, history, on_iteration, cold_start).run()


__all__ = ["FIRST_ITERATION_EVALUATIONS", "LBFGS_RESTARTS", "STALL_FALL", "STALL_ITERATIONS", "Ending", "LbfgsRun",
           "run_lbfgs"]
