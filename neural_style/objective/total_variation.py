"""The total variation term: smooths the picture. A mean, so its weight does not change with the image size."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping

import tensorflow as tf

from neural_style.objective.terms import ImageTerm, LayerTensors


def total_variation_loss(image: tf.Tensor) -> tf.Tensor:
    """Mean squared difference between horizontally and vertically adjacent pixel values."""
    dx = image[:, :, 1:, :] - image[:, :, :-1, :]
    dy = image[:, 1:, :, :] - image[:, :-1, :, :]
    return tf.reduce_mean(tf.square(dx)) + tf.reduce_mean(tf.square(dy))


@dataclass(frozen=True, kw_only=True)
class TotalVariationTerm(ImageTerm):
    name: str = "tv"

    def loss(self, image: tf.Tensor, features: Mapping[str, tf.Tensor], targets: LayerTensors) -> tf.Tensor:
        return total_variation_loss(image)


def total_variation_term(config) -> TotalVariationTerm:
    return TotalVariationTerm(weight=config.resolved_loss_weights().tv)


__all__ = ["TotalVariationTerm", "total_variation_loss", "total_variation_term"]
