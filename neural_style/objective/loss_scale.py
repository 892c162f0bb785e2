"""Loss scaling of the image gradient, for evaluations in float16 (NVIDIA GPUs before Ampere): float16's range is
narrow, so the backward pass through the network would round small gradients to zero. The total is multiplied by a
scale before the gradient is taken and the gradient divided by it after; where that overflows (a gradient that is
not finite), the scale is halved and the evaluation redone, and after GROWTH_INTERVAL finite evaluations in a row it
is doubled again (Keras's LossScaleOptimizer does the same for weights). The losses reported stay the float32 ones,
unscaled. In float32 and bfloat16 (bfloat16 has float32's range) nothing is scaled."""

from __future__ import annotations

from typing import Any

from keras import ops

INITIAL_SCALE = 2.0 ** 15
GROWTH_INTERVAL = 200
SMALLEST_SCALE = 1.0


class LossScale:
    """The scale of one objective and its copies (every scale and frame of a run learns from the last)."""

    def __init__(self, enabled: bool) -> None:
        self.enabled = enabled
        self.value = INITIAL_SCALE if enabled else 1.0
        self.finite_in_a_row = 0
        self.overflows = 0

    def tensor(self) -> Any:
        return ops.convert_to_tensor(self.value, "float32")

    def accepts(self, gradient: Any) -> bool:
        """Whether an evaluation's gradient (already divided by the scale) can stand: finite, or no smaller scale
        left to try (then the evaluator reports the gradient as gone bad). A refused one halves the scale."""
        if not self.enabled:
            return True
        if bool(ops.all(ops.isfinite(gradient))):
            self.finite_in_a_row += 1
            if self.finite_in_a_row >= GROWTH_INTERVAL:
                self.value, self.finite_in_a_row = self.value * 2.0, 0
            return True
        self.overflows += 1
        self.finite_in_a_row = 0
        if self.value <= SMALLEST_SCALE:
            return True
        self.value = max(SMALLEST_SCALE, self.value / 2.0)
        return False


def scaled(total: Any, scale: Any, enabled: bool) -> Any:
    """What the gradient is taken of: the total times the scale where scaling is on, else the total itself (so
    float32 and bfloat16 evaluations are exactly what they were)."""
    return total * scale if enabled else total


def unscaled(gradient: Any, scale: Any, enabled: bool) -> Any:
    return gradient / scale if enabled else gradient


__all__ = ["GROWTH_INTERVAL", "INITIAL_SCALE", "LossScale", "scaled", "unscaled"]
