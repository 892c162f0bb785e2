"""Adam (Keras) over the image, projected back into the valid pixel range after each step."""

from __future__ import annotations

import time
from typing import Any, Callable, Optional, Tuple

import numpy as np

from neural_style.features.network_input import CAFFE_MEAN_BGR, IMAGENET_MEAN_RGB, IMAGENET_STD_RGB
from neural_style.optim.evaluator import ENDINGS, Evaluator, Outcome, ending
from neural_style.step import Step


def run_adam(evaluator: Evaluator, x0: np.ndarray, bounds: Tuple[np.ndarray, np.ndarray], iterations: int,
             learning_rate: float, on_iteration: Callable[[Step], None],
             space: Optional[Tuple[np.ndarray, np.ndarray]] = None, average: float = 0.0) -> Outcome:
    """Minimise with Keras's Adam, projecting back into the valid pixel range after each step.

    Adam updates the image itself, or, with `space=(scale, offset)`, the variable z of the affine
    map image = scale * z + offset (the PyTorch reference's ImageNet-normalised image): Adam's
    steps depend on that choice. The loss reported for iteration i is that of the image the step
    started from. With `average` (a decay in [0, 1)), the picture is the exponential moving average of the
    iterates, bias-corrected (crowsonkb/style-transfer-pytorch's iterate averaging): Adam's last steps jitter
    around the minimum, and their average sits closer to it.
    """
    import keras
    from keras import ops

    from neural_style import backends

    started = time.perf_counter()
    shape = evaluator.shape
    scale, offset = space if space is not None else (np.ones_like(x0), np.zeros_like(x0))
    with backends.device_scope(evaluator.device):
        as_tensor = lambda flat: ops.convert_to_tensor(np.asarray(flat, np.float32).reshape(shape))  # noqa: E731
        scale_t, offset_t = as_tensor(scale), as_tensor(offset)
        low, high = as_tensor((bounds[0] - offset) / scale), as_tensor((bounds[1] - offset) / scale)
        variable = keras.Variable(as_tensor((x0 - offset) / scale), trainable=True, name="picture")
        optimizer = keras.optimizers.Adam(learning_rate=learning_rate)
        optimizer.build([variable])

    def image_of(z: Any) -> Any:
        return z * scale_t + offset_t
    done = 0
    reason, error = "done", None
    last_good = x0.astype(np.float64)
    averaged = np.zeros_like(last_good)
    try:
        for iteration in range(1, iterations + 1):
            total, terms, gradient = evaluator.evaluate_tensor(image_of(variable.value))  # it records them itself
            with backends.device_scope(evaluator.device):
                optimizer.apply_gradients([(gradient * scale_t, variable)])  # chain rule: d/dz = d/dx * scale
                variable.assign(ops.clip(variable.value, low, high))
            done = iteration
            last_good = ops.convert_to_numpy(image_of(variable.value)).astype(np.float64).ravel()
            if average:
                averaged = average * averaged + (1.0 - average) * last_good
                last_good = averaged / (1.0 - average ** iteration)
            on_iteration(evaluator.step(iteration, started, last_good))
    except ENDINGS as ended:
        reason, error = ending(ended)
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


__all__ = ["adam_space", "run_adam"]
