"""The content term: the mean squared difference between the picture's activations and the content
image's, at each content layer (jcjohnson/neural-style's normalisation, so its weights carry over)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping

import tensorflow as tf

from neural_style.objective.terms import LayerTensors, PositionTerm


def content_loss(features: tf.Tensor, target: tf.Tensor) -> tf.Tensor:
    """Mean squared difference of activations."""
    return tf.reduce_mean(tf.square(features - target))


@dataclass(frozen=True, kw_only=True)
class ContentTerm(PositionTerm):
    """Summed over the content layers, each a mean over its activations."""

    name: str = "content"

    def loss(self, image: tf.Tensor, features: Mapping[str, tf.Tensor], targets: LayerTensors) -> tf.Tensor:
        return tf.add_n([content_loss(features[name], target) for name, target in targets.items()])

    def interior_sum(self, features: tf.Tensor, target: tf.Tensor) -> tf.Tensor:
        return tf.reduce_sum(tf.square(features - target))

    def from_sums(self, sums: Mapping[str, tf.Tensor], counts: Mapping[str, tf.Tensor]) -> tf.Tensor:
        return tf.add_n([sums[name] / counts[name] for name in sums])


def content_term(config) -> ContentTerm:
    """The content term of a run: its content layers, at the weight in force."""
    return ContentTerm(weight=config.resolved_loss_weights().content, layers=tuple(config.content_layers))


__all__ = ["ContentTerm", "content_loss", "content_term"]
