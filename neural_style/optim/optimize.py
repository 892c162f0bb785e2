"""Optimiser: one continuous L-BFGS-B run over the flattened image (scipy), or Adam (Keras).

Both report every iteration through `on_iteration(Step)`; that callback may raise StopIteration
to end the run early with the current image.
"""

from __future__ import annotations

import dataclasses
import math
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Callable, Optional, Tuple

import numpy as np

from neural_style.errors import NeuralStyleError
from neural_style.features.network_input import CAFFE_MEAN_BGR, IMAGENET_MEAN_RGB, IMAGENET_STD_RGB, pixel_bounds

if TYPE_CHECKING:
    from neural_style.config import StyleConfig

TERM_NAMES = ("content", "style", "tv")


@dataclass(frozen=True)
class Step:
    """One finished iteration and its weighted loss terms: the record of the loss history and the
    CSV log. `image` (flat network image) is set on the record passed to callbacks as the run goes;
    the history keeps records without it, so it does not hold every iterate in memory."""

    iteration: int
    evaluations: int
    seconds: float
    total: float
    content: float
    style: float
    tv: float
    width: int = 0  # the image size this iteration ran at (coarse-to-fine runs change it)
    height: int = 0
    image: Optional[np.ndarray] = None

    def without_image(self) -> "Step":
        return dataclasses.replace(self, image=None)


class Converged(Exception):
    """Raised by an iteration callback when the loss has stopped falling; its message says how.
    (Not a StopIteration: scipy swallows those from callbacks and reports its own halt.)"""


class ConvergenceCheck:
    """Ends an optimisation once the loss has fallen by less than the fraction `tolerance` over the
    last `window` iterations (0 turns it off). Whole windows, not single iterations, because one
    L-BFGS iteration can stall and the next make progress again."""

    def __init__(self, tolerance: float, window: int = 10) -> None:
        self.tolerance = tolerance
        self.window = window
        self.totals: list = []

    def __call__(self, step: "Step") -> None:
        self.totals.append(step.total)
        if self.tolerance <= 0 or len(self.totals) <= self.window:
            return
        before = self.totals[-1 - self.window]
        fall = (before - step.total) / abs(before) if before else 0.0
        if fall < self.tolerance:
            raise Converged(f"converged: the loss fell {100 * fall:.2g}% over the last {self.window} iterations "
                            f"(--tolerance {self.tolerance:g})")


class NonFiniteLoss(NeuralStyleError):
    """The loss or gradient became NaN or infinite."""


class Evaluator:
    """Calls the compiled objective: scipy's `fun(x) -> (loss, gradient)` in float64 copies.

    It counts evaluations and remembers the last one, so the L-BFGS callback can report the loss
    of the iterate without evaluating it again.
    """

    def __init__(self, objective: Any, shape: Tuple[int, ...], device: str,
                 should_stop: Optional[Callable[[], bool]] = None) -> None:
        self.objective = objective
        self.shape = shape
        self.device = device
        self.should_stop = should_stop or (lambda: False)
        self.evaluations = 0
        self.last_x: Optional[np.ndarray] = None
        self.last_gradient: Optional[np.ndarray] = None
        self.last_terms: Tuple[float, float, float] = (math.nan,) * 3
        self.last_total = math.nan

    def evaluate_tensor(self, image: Any) -> Tuple[float, Tuple[float, float, float], Any]:
        """Loss, weighted terms and gradient tensor for a 1 x H x W x 3 float32 tensor."""
        import tensorflow as tf

        if self.should_stop():
            raise StopIteration
        with tf.device(self.device):
            total, terms, gradient = self.objective.loss_and_gradient(image)
        total = float(total)
        terms = tuple(float(t) for t in terms.numpy())
        self.evaluations += 1
        if not math.isfinite(total):
            bad = [name for name, value in zip(TERM_NAMES, terms) if not math.isfinite(value)]
            raise NonFiniteLoss(
                f"the {' and '.join(bad) or 'total'} loss became {total} at evaluation {self.evaluations}: "
                "lower the loss weights or the learning rate"
            )
        if not bool(tf.reduce_all(tf.math.is_finite(gradient))):
            raise NonFiniteLoss(
                f"the gradient became NaN or infinite at evaluation {self.evaluations}: lower the loss weights"
            )
        return total, terms, gradient

    def __call__(self, x: np.ndarray) -> Tuple[float, np.ndarray]:
        import tensorflow as tf

        if self.last_x is not None and np.array_equal(self.last_x, x):
            return self.last_total, self.last_gradient  # asked again for the point just evaluated
        total, terms, gradient = self.evaluate_tensor(tf.constant(x.reshape(self.shape), dtype=tf.float32))
        self.last_gradient = gradient.numpy().astype(np.float64).ravel()
        self.last_x = x.copy()
        self.last_total, self.last_terms = total, terms
        return total, self.last_gradient


@dataclass
class Outcome:
    """How the optimiser ended."""

    image: np.ndarray  # flat network image: the last good iterate
    iterations: int
    evaluations: int
    reason: str  # "done", "stopped", or why the optimiser ended early
    error: Optional[str] = None  # set when the loss went bad; `image` is the last good one


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
# and coffee's cold start 21 before failing (now 7, the same final loss).
FIRST_ITERATION_EVALUATIONS = 6


class Stalled(Exception):
    """A cold start whose loss has hardly moved: restart it with a scaled first step."""


def run_lbfgs(evaluator: Evaluator, x0: np.ndarray, bounds: Tuple[np.ndarray, np.ndarray], iterations: int,
              history: int, on_iteration: Callable[[Step], None], cold_start: bool = False) -> Outcome:
    """Minimise with L-BFGS-B (scipy's routine, see lbfgsb.py), one continuous run (its memory is kept) unless it ends before
    `iterations`, when it restarts from there (at most LBFGS_RESTARTS times); a start that could not
    get going is retried once with a first trial step of one grey level. The plain first step is kept
    otherwise: from the content image the scaled one lost about 25 iterations (measured).

    Tolerances are zero so float32 noise in the loss cannot end the run early: it stops at
    `iterations`, or when the line search can make no progress even from a fresh start. A `cold_start`
    (from the content image or noise, not from an earlier result) that stalls is restarted with the
    one-grey-level step (STALL_ITERATIONS).
    """
    from neural_style.optim import lbfgsb

    start = time.perf_counter()
    state = {"iteration": 0, "image": x0, "evaluations_at_start": evaluator.evaluations, "first_call": True}
    scale = [1.0]  # scipy works on x / scale
    start_point: dict = {}  # loss and gradient at state["image"] while attempts start there

    def evaluate_start() -> Tuple[float, np.ndarray]:
        # Evaluated once however many attempts start at the same point: a restart after a stalled first
        # iteration evaluated it twice more (the README's 384 px run: 160 -> 158 evaluations, the same
        # result; at 4096 px an evaluation takes 101 s). Kept in float32, as computed.
        if start_point.get("image") is not state["image"]:
            total, gradient = evaluator(state["image"])
            start_point.update(image=state["image"], total=total, gradient=gradient.astype(np.float32))
        return start_point["total"], start_point["gradient"].astype(np.float64)

    def scaled_evaluation(y: np.ndarray) -> Tuple[float, np.ndarray]:
        if (not scaled_start_tried and state["iteration"] == 0
                and evaluator.evaluations - state["evaluations_at_start"] >= FIRST_ITERATION_EVALUATIONS):
            raise Stalled
        if state["first_call"]:
            # L-BFGS-B's first request is its start, x / scale, which need not multiply back to x bit for bit.
            state["first_call"] = False
            total, gradient = evaluate_start()
        else:
            total, gradient = evaluator(y * scale[0])
        return total, gradient * scale[0]

    def callback(yk: np.ndarray) -> None:
        xk = yk * scale[0]
        state["iteration"] += 1
        state["image"] = xk
        start_point.clear()  # a new point: the old start's gradient is not needed again
        if evaluator.last_x is None or not np.array_equal(evaluator.last_x, xk):
            evaluator(xk)  # rare: the iterate is not the last point evaluated
        if state["iteration"] == 1:
            state["first_loss"] = evaluator.last_total
        stalled = (watch_stall[0] and state["iteration"] == STALL_ITERATIONS + 1
                   and evaluator.last_total > (1 - STALL_FALL) * state["first_loss"])
        try:
            on_iteration(_step(state["iteration"], evaluator, start, xk))
        except Converged:
            if not stalled:  # a stall is not convergence: it is restarted below
                raise
        if stalled:
            raise Stalled

    reason = "done"
    scaled_start_tried = False
    watch_stall = [cold_start]

    def scale_first_step() -> None:
        # With every value bounded, L-BFGS-B's first trial step is the whole gradient step -g, which can
        # be too small to change a bfloat16 loss (a picture near a minimum, as an upsampled coarse
        # result is): scipy then reports convergence or a failed line search after an iteration or
        # none. Scaled variables make that first step one grey level (root mean square).
        _, gradient = evaluate_start()
        scale[0] = 1.0 / math.sqrt(max(float(np.sqrt(np.mean(gradient ** 2))), 1e-30))

    try:
        for _ in range(LBFGS_RESTARTS + 1):
            begun_at = state["iteration"]
            state["first_call"] = True
            try:
                x, info = _lbfgs_attempt(lbfgsb.fmin_l_bfgs_b, scaled_evaluation, state["image"], bounds, scale, history,
                                         iterations - state["iteration"], iterations, callback)
            except Stalled:
                watch_stall[0] = False
                scale_first_step()
                scaled_start_tried = True
                continue
            if state["iteration"] > begun_at:
                state["image"] = x  # with no iteration made, L-BFGS-B has returned its start point
            reason = _lbfgs_reason(info, state["iteration"], iterations)
            if not reason.startswith("L-BFGS ended"):
                break  # done, or halted
            if state["iteration"] - begun_at <= 1:  # could not get going
                if scaled_start_tried:
                    break
                scale_first_step()
                scaled_start_tried = True
            else:
                scale[0] = 1.0  # a plain restart with a fresh memory
    except Converged as converged:
        reason = str(converged)
    except StopIteration:
        reason = "stopped"
    except NonFiniteLoss as bad:
        return Outcome(state["image"], state["iteration"], evaluator.evaluations, "failed", str(bad))
    return Outcome(state["image"], state["iteration"], evaluator.evaluations, reason)


def _lbfgs_attempt(minimise: Callable, scaled_evaluation: Callable, x: np.ndarray,
                   bounds: Tuple[np.ndarray, np.ndarray], scale: list, history: int, iterations: int, budget: int,
                   callback: Callable) -> Tuple[np.ndarray, dict]:
    """One L-BFGS-B run from x for at most `iterations`; returns the last point and scipy's info."""
    y, _, info = minimise(
        scaled_evaluation, x / scale[0], bounds=(bounds[0] / scale[0], bounds[1] / scale[0]), m=history,
        factr=0.0, pgtol=0.0, maxiter=iterations, maxfun=max(15000, 20 * budget), callback=callback,
    )
    return y * scale[0], info


def _lbfgs_reason(info: dict, done: int, wanted: int) -> str:
    task = info.get("task", "")
    task = task.decode() if isinstance(task, bytes) else str(task)
    if "HALT" in task:
        return "stopped"
    if done >= wanted:
        return "done"
    return f"L-BFGS ended after {done} iterations: {task}"


def run_adam(evaluator: Evaluator, x0: np.ndarray, bounds: Tuple[np.ndarray, np.ndarray], iterations: int,
             learning_rate: float, on_iteration: Callable[[Step], None],
             space: Optional[Tuple[np.ndarray, np.ndarray]] = None) -> Outcome:
    """Minimise with Keras's Adam, projecting back into the valid pixel range after each step.

    Adam updates the image itself, or, with `space=(scale, offset)`, the variable z of the affine
    map image = scale * z + offset (the PyTorch reference's ImageNet-normalised image): Adam's
    steps depend on that choice. The loss reported for iteration i is that of the image the step
    started from.
    """
    import keras
    import tensorflow as tf

    start = time.perf_counter()
    shape = evaluator.shape
    scale, offset = space if space is not None else (np.ones_like(x0), np.zeros_like(x0))
    as_tensor = lambda flat: tf.constant(flat.reshape(shape), tf.float32)  # noqa: E731
    scale_t, offset_t = as_tensor(scale), as_tensor(offset)
    low, high = as_tensor((bounds[0] - offset) / scale), as_tensor((bounds[1] - offset) / scale)
    with tf.device(evaluator.device):
        variable = tf.Variable(as_tensor((x0 - offset) / scale))
    optimizer = keras.optimizers.Adam(learning_rate=learning_rate)

    def image_of(z: Any) -> Any:
        return z * scale_t + offset_t
    done = 0
    reason, error = "done", None
    last_good = x0.astype(np.float64)
    try:
        for iteration in range(1, iterations + 1):
            total, terms, gradient = evaluator.evaluate_tensor(image_of(variable))
            evaluator.last_total, evaluator.last_terms = total, terms
            optimizer.apply_gradients([(gradient * scale_t, variable)])  # chain rule: d/dz = d/dx * scale
            variable.assign(tf.clip_by_value(variable, low, high))
            done = iteration
            last_good = image_of(variable).numpy().astype(np.float64).ravel()
            on_iteration(_step(iteration, evaluator, start, last_good))
    except Converged as converged:
        reason = str(converged)
    except StopIteration:
        reason = "stopped"
    except NonFiniteLoss as bad:
        reason, error = "failed", str(bad)
    return Outcome(last_good, done, evaluator.evaluations, reason, error)


def adam_space(name: str, height: int, width: int) -> Optional[Tuple[np.ndarray, np.ndarray]]:
    """The affine map x = scale * z + offset from the variable Adam updates to the network image
    (flat, BGR layout), or None for the pixels themselves. 'imagenet' is torchvision's normalised
    RGB image z = (rgb / 255 - mean) / std, the variable of the PyTorch reference."""
    if name == "pixels":
        return None
    scale_bgr = (255.0 * IMAGENET_STD_RGB)[::-1]
    offset_bgr = (255.0 * IMAGENET_MEAN_RGB)[::-1] - CAFFE_MEAN_BGR.astype(np.float64)
    scale = np.broadcast_to(scale_bgr, (height, width, 3)).ravel()
    offset = np.broadcast_to(offset_bgr, (height, width, 3)).ravel()
    return scale, offset


def run_optimiser(config: "StyleConfig", evaluator: Evaluator, x0: np.ndarray,
                  on_iteration: Callable[[Step], None], cold_start: bool = False) -> Outcome:
    """Run `config`'s optimiser from x0 within the valid pixel range; `cold_start`: x0 is the content
    image or noise, not an earlier result (see run_lbfgs)."""
    height, width = evaluator.shape[1:3]
    bounds = pixel_bounds(height, width)
    if config.optimizer == "lbfgs":
        return run_lbfgs(evaluator, x0, bounds, config.iterations, config.lbfgs_history, on_iteration, cold_start)
    return run_adam(evaluator, x0, bounds, config.iterations, config.learning_rate, on_iteration,
                    space=adam_space(config.adam_space, height, width))


def _step(iteration: int, evaluator: Evaluator, start: float, image: np.ndarray) -> Step:
    content, style, tv = evaluator.last_terms
    _, height, width, _ = evaluator.shape
    return Step(iteration, evaluator.evaluations, time.perf_counter() - start, evaluator.last_total,
                content, style, tv, width, height, image)
