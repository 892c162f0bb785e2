"""The temporal loss of video style transfer (Ruder, Dosovitskiy & Brox 2016): a frame is pulled
towards the previous stylised frame warped to it by the optical flow, where that flow can be trusted."""

from __future__ import annotations

from typing import Any

import numpy as np
import tensorflow as tf


class TemporalObjective:
    """`objective` plus `weight * mean(mask * (image - warped)**2)` over pixels and channels, in the
    network image's units (0-255 pixel values): the same `loss_and_gradient` as `losses.Objective`. The
    terms it reports stay the objective's three (content, style, tv); the total includes the temporal
    term, which `temporal_term` gives on its own."""

    def __init__(self, objective: Any, warped: np.ndarray, mask: np.ndarray, weight: float) -> None:
        self.objective = objective
        self.warped = tf.constant(warped, tf.float32)  # 1 x H x W x 3 network image
        self.mask = tf.constant(mask[None, :, :, None], tf.float32)  # H x W of 0 (occluded) to 1
        self.weight = float(weight)
        self.targets = objective.targets
        self.uses_xla = objective.uses_xla

    def temporal_term(self, image: tf.Tensor) -> tf.Tensor:
        return self.weight * tf.reduce_mean(self.mask * tf.square(image - self.warped))

    def loss_and_gradient(self, image: tf.Tensor):
        total, terms, gradient = self.objective.loss_and_gradient(image)
        if self.weight == 0:
            return total, terms, gradient
        difference = image - self.warped
        count = tf.cast(tf.size(image), tf.float32)
        temporal = self.weight * tf.reduce_sum(self.mask * tf.square(difference)) / count
        return total + temporal, terms, gradient + (2.0 * self.weight / count) * self.mask * difference


__all__ = ["TemporalObjective"]
