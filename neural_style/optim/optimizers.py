"""The optimiser a run's plan resolved (`--optimizer`; plan/run_plan.resolve_optimizer), started from x0 within the
valid pixel range."""

from __future__ import annotations

from typing import Callable, Dict, Tuple

import numpy as np

from neural_style.config import StyleConfig
from neural_style.features.network_input import pixel_bounds
from neural_style.optim.adam import adam_space, run_adam
from neural_style.optim.evaluator import Evaluator, Outcome
from neural_style.optim.lbfgs import run_lbfgs
from neural_style.step import Step

Bounds = Tuple[np.ndarray, np.ndarray]


def _lbfgs(config: StyleConfig, evaluator: Evaluator, x0: np.ndarray, bounds: Bounds, iterations: int,
           on_iteration: Callable[[Step], None], cold_start: bool, precision: str) -> Outcome:
    return run_lbfgs(evaluator, x0, bounds, iterations, config.lbfgs_history, on_iteration, cold_start)


def _lbfgs_device(config: StyleConfig, evaluator: Evaluator, x0: np.ndarray, bounds: Bounds, iterations: int,
                  on_iteration: Callable[[Step], None], cold_start: bool, precision: str) -> Outcome:
    from neural_style.optim.lbfgs_device import run_device_lbfgs  # Keras's, imported once the backend is chosen

    return run_device_lbfgs(evaluator, x0, bounds, iterations, config.lbfgs_history, on_iteration, precision,
                            config.tolerance)


def _adam(config: StyleConfig, evaluator: Evaluator, x0: np.ndarray, bounds: Bounds, iterations: int,
          on_iteration: Callable[[Step], None], cold_start: bool, precision: str) -> Outcome:
    height, width = evaluator.shape[1:3]
    return run_adam(evaluator, x0, bounds, iterations, config.learning_rate, on_iteration,
                    space=adam_space(config.adam_space, height, width), average=config.adam_average)


# How each optimiser config.OPTIMIZER_SPECS names is run: one entry each (a test keeps the two the same).
RUNNERS: Dict[str, Callable[..., Outcome]] = {"lbfgs": _lbfgs, "lbfgs-device": _lbfgs_device, "adam": _adam}


def run_optimiser(config: StyleConfig, optimizer: str, evaluator: Evaluator, x0: np.ndarray,
                  on_iteration: Callable[[Step], None], iterations: int, cold_start: bool = False,
                  precision: str = "float32") -> Outcome:
    """Run `optimizer` (as the plan resolved it: a name of RUNNERS) with `config`'s settings from x0 for `iterations`;
    `cold_start`: x0 is the content image, noise or the AdaIN picture, not an earlier result (see lbfgs.LbfgsRun);
    `precision`: the evaluation's (the device L-BFGS's line search allows for its rounding)."""
    height, width = evaluator.shape[1:3]
    return RUNNERS[optimizer](config, evaluator, x0, pixel_bounds(height, width), iterations, on_iteration,
                              cold_start, precision)


__all__ = ["RUNNERS", "run_optimiser"]
