"""The total variation term: smooths the picture. A mean, so its weight does not change with the image size."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Mapping

from keras import ops

from neural_style.objective.terms import ImageTerm, LayerTensors


def total_variation_loss(image: Any) -> Any:
    """Mean squared difference between horizontally and vertically adjacent pixel values."""
    dx = image[:, :, 1:, :] - image[:, :, :-1, :]
    dy = image[:, 1:, :, :] - image[:, :-1, :, :]
    return ops.mean(ops.square(dx)) + ops.mean(ops.square(dy))


@dataclass(frozen=True, kw_only=True)
class TotalVariationTerm(ImageTerm):
    name: str = "tv"

    def loss(self, image: Any, features: Mapping[str, Any], targets: LayerTensors) -> Any:
        return total_variation_loss(image)


def total_variation_term(config) -> TotalVariationTerm:
    return TotalVariationTerm(weight=config.resolved_loss_weights().tv)


__all__ = ["TotalVariationTerm", "total_variation_loss", "total_variation_term"]
