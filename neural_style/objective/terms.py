"""What a term of the objective is: a name, a weight, its loss, and how it splits over tiles.

A run's objective is the weighted sum of a list of terms (build.py makes the list from the configuration).
Every term says how the tiled evaluation (tiled.py) can compute it exactly:

- POSITIONS: a sum over feature positions (content): each tile adds its interior's share.
- STATISTICS: a function of sums over feature positions (Gram matrices; means and covariances): the sums are
  added up over the tiles in a forward pass, then each tile's exact share of the gradient is the gradient of
  <dLoss/dStatistics, its own statistics> in a second, forward and backward, pass.
- IMAGE: reads the image alone (total variation, temporal): cheap, evaluated on the whole image.

A term `in_graph` is evaluated inside the one traced loss-and-gradient function; one that is not (the
temporal term, whose targets change every frame) gives its own `loss_and_gradient` beside it, so the traced
function of a run is reused from frame to frame.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Dict, Mapping, Tuple

import tensorflow as tf

POSITIONS = "positions"
STATISTICS = "statistics"
IMAGE = "image"

# A term's targets: {layer name: tensor} (an empty dict for a term without targets).
LayerTensors = Dict[str, tf.Tensor]


@dataclass(frozen=True, kw_only=True)
class Term:
    """A weighted term of the objective. Subclasses are frozen dataclasses, so two runs whose terms are
    equal share one traced function (build.ObjectiveCache)."""

    name: str
    weight: float

    split = IMAGE
    in_graph = True
    layers: Tuple[str, ...] = ()

    def loss(self, image: tf.Tensor, features: Mapping[str, tf.Tensor], targets: LayerTensors) -> tf.Tensor:
        """The unweighted loss of a 1 x H x W x 3 network image, whole."""
        raise NotImplementedError

    def weighted(self, image: tf.Tensor, features: Mapping[str, tf.Tensor], targets: LayerTensors) -> tf.Tensor:
        return self.weight * self.loss(image, features, targets)


@dataclass(frozen=True, kw_only=True)
class PositionTerm(Term):
    """A term that sums over feature positions; its targets are the content image's activations."""

    split = POSITIONS

    def target_spec(self, target: tf.Tensor) -> tf.TensorSpec:
        # Image sizes are left open, so one trace serves every scale and frame.
        return tf.TensorSpec((1, None, None, target.shape[-1]), target.dtype)

    def interior_sum(self, features: tf.Tensor, target: tf.Tensor) -> tf.Tensor:
        """The unnormalised sum this term adds up over one tile's interior at one layer."""
        raise NotImplementedError

    def from_sums(self, sums: Mapping[str, tf.Tensor], counts: Mapping[str, tf.Tensor]) -> tf.Tensor:
        """The unweighted loss from each layer's sum over the whole image and the number of values it ran over."""
        raise NotImplementedError


@dataclass(frozen=True, kw_only=True)
class StatisticsTerm(Term):
    """A term that is a function of sums over feature positions; its targets are those statistics of the
    style images, blended. A layer's target has the shape of its statistics (the tiled evaluation's gradient
    with respect to the statistics is passed in a tensor of that shape)."""

    split = STATISTICS

    def target_spec(self, target: tf.Tensor) -> tf.TensorSpec:
        return tf.TensorSpec(target.shape, target.dtype)

    def statistics(self, features: tf.Tensor) -> Any:
        """Sums over the positions of 1 x H x W x C activations (a tensor or a nest of them)."""
        raise NotImplementedError

    def target_from_statistics(self, statistics: Any, count: Any) -> tf.Tensor:
        """A style image's contribution at one layer, from its statistics and its number of activations (C*H*W):
        what blends linearly over several style images (weighted by --style-blend-weights)."""
        raise NotImplementedError

    def finish_target(self, blended: tf.Tensor) -> tf.Tensor:
        """The target at one layer from the blend of the style images' contributions (as it is, by default)."""
        return blended

    def from_statistics(self, statistics: Mapping[str, Any], counts: Mapping[str, Any], targets: LayerTensors
                        ) -> tf.Tensor:
        """The unweighted loss from each layer's statistics of the whole image and its number of activations."""
        raise NotImplementedError

    def loss(self, image: tf.Tensor, features: Mapping[str, tf.Tensor], targets: LayerTensors) -> tf.Tensor:
        statistics = {name: self.statistics(features[name]) for name in targets}
        counts = {name: activation_count(features[name]) for name in targets}
        return self.from_statistics(statistics, counts, targets)


@dataclass(frozen=True, kw_only=True)
class ImageTerm(Term):
    """A term that reads the image alone."""

    split = IMAGE


def activation_count(features: tf.Tensor) -> tf.Tensor:
    """How many values 1 x H x W x C activations hold (C*H*W), in their dtype."""
    return tf.cast(tf.size(features), features.dtype)


def add_in_order(values: Any) -> Any:
    """values[0] + values[1] + ..., left to right: the order the objective's total has always been summed in,
    so a run's numbers do not change with how the terms are held."""
    values = list(values)
    total = values[0]
    for value in values[1:]:
        total = total + value
    return total


__all__ = ["IMAGE", "POSITIONS", "STATISTICS", "ImageTerm", "PositionTerm", "StatisticsTerm", "Term",
           "activation_count", "add_in_order"]
