"""The total variation term: smooths the picture. A mean, so its weight does not change with the image size."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Mapping

from keras import ops

from neural_style.objective.terms import ImageTerm, LayerTensors


def total_variation_loss(image: Any) -> Any:
    """Mean squared difference between horizontally and vertically adjacent pixel values."""
    # Each difference against the image rolled by one pixel, the pair that wraps around masked out: the same sums as
    # slicing, whose gradient (a padded scatter) costs several times more.
    height, width = ops.shape(image)[1], ops.shape(image)[2]
    not_first_column = ops.reshape(ops.cast(ops.arange(width) > 0, image.dtype), (1, 1, -1, 1))
    not_first_row = ops.reshape(ops.cast(ops.arange(height) > 0, image.dtype), (1, -1, 1, 1))
    dx = (image - ops.roll(image, 1, axis=2)) * not_first_column
    dy = (image - ops.roll(image, 1, axis=1)) * not_first_row
    channels = ops.cast(ops.shape(image)[3], image.dtype)
    height, width = ops.cast(height, image.dtype), ops.cast(width, image.dtype)
    return (ops.sum(ops.square(dx)) / (height * (width - 1) * channels)
            + ops.sum(ops.square(dy)) / ((height - 1) * width * channels))


@dataclass(frozen=True, kw_only=True)
class TotalVariationTerm(ImageTerm):
    name: str = "tv"

    def loss(self, image: Any, features: Mapping[str, Any], targets: LayerTensors) -> Any:
        return total_variation_loss(image)


def total_variation_term(config) -> TotalVariationTerm:
    return TotalVariationTerm(weight=config.resolved_loss_weights().tv)


__all__ = ["TotalVariationTerm", "total_variation_loss", "total_variation_term"]
