"""What a term of the objective is: a name, a weight, its loss, and how it splits over tiles.

A run's objective is the weighted sum of a list of terms (build.py makes the list from the configuration).
Every term says how the tiled evaluation (tiled.py) can compute it exactly:

- POSITIONS: a sum over feature positions (content): each tile adds its interior's share.
- STATISTICS: a function of sums over feature positions (Gram matrices; means and covariances): the sums are
  added up over the tiles in a forward pass, then each tile's exact share of the gradient is the gradient of
  <dLoss/dStatistics, its own statistics> in a second, forward and backward, pass.
- IMAGE: reads the image alone (total variation, temporal): cheap, evaluated on the whole image.

A term may be *guided* (masks, objective/regional_style.py): a guide is a 1 x H x W x K map of weights over
the picture (or over a style image), K regions, which the term reads at each layer's resolution
(`layer_guide`: averaged over the pixels a layer's position pools). Guides are sums' weights, so they tile
like the picture.

A term `in_graph` is evaluated inside the one traced loss-and-gradient function; one that is not (the
temporal term, whose targets change every frame) gives its own `loss_and_gradient` beside it, so the traced
function of a run is reused from frame to frame.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Dict, Mapping, Optional, Tuple

from keras import ops

from neural_style.features.vgg19 import layer_stride

POSITIONS = "positions"
STATISTICS = "statistics"
IMAGE = "image"

# A term's targets: {layer name: tensor} (an empty dict for a term without targets).
LayerTensors = Dict[str, Any]


@dataclass(frozen=True, kw_only=True)
class Term:
    """A weighted term of the objective. Subclasses are frozen dataclasses, so two runs whose terms are
    equal share one traced function (build.ObjectiveCache)."""

    name: str
    weight: float

    split = IMAGE
    in_graph = True
    layers: Tuple[str, ...] = ()

    def loss(self, image: Any, features: Mapping[str, Any], targets: LayerTensors) -> Any:
        """The unweighted loss of a 1 x H x W x 3 network image, whole. (A guided term takes a fourth argument,
        its guide over the image: 1 x H x W x K weights.)"""
        raise NotImplementedError

    def weighted(self, image: Any, features: Mapping[str, Any], targets: LayerTensors,
                 guide: Optional[Any] = None) -> Any:
        loss = self.loss(image, features, targets) if guide is None else self.loss(image, features, targets, guide)
        return self.weight * loss

    def in_precision(self, precision: str) -> "Term":
        """This term for a network computing in `precision` ('float32', 'bfloat16', 'float16'): itself, unless the
        term has faster arithmetic for that precision (the Gram matrices' bfloat16 products)."""
        return self


@dataclass(frozen=True, kw_only=True)
class PositionTerm(Term):
    """A term that sums over feature positions; its targets are the content image's activations."""

    split = POSITIONS

    def interior_sum(self, features: Any, target: Any) -> Any:
        """The unnormalised sum this term adds up over one tile's interior at one layer."""
        raise NotImplementedError

    def from_sums(self, sums: Mapping[str, Any], counts: Mapping[str, Any]) -> Any:
        """The unweighted loss from each layer's sum over the whole image and the number of values it ran over."""
        raise NotImplementedError


@dataclass(frozen=True, kw_only=True)
class StatisticsTerm(Term):
    """A term that is a function of sums over feature positions; its targets are those statistics of the
    style images, blended. A layer's target has the shape of its statistics (the tiled evaluation's gradient
    with respect to the statistics is passed in a tensor of that shape)."""

    split = STATISTICS

    def statistics(self, features: Any, guide: Optional[Any] = None) -> Any:
        """Sums over the positions of 1 x H x W x C activations (a tensor or a nest of them), each position
        weighted by `guide` (1 x H x W x K at the layer's resolution) where one is given."""
        raise NotImplementedError

    def target_from_statistics(self, statistics: Any, count: Any) -> Any:
        """A style image's contribution at one layer, from its statistics and its number of activations (C*H*W):
        what blends linearly over several style images (weighted by --style-blend-weights)."""
        raise NotImplementedError

    def finish_target(self, blended: Any) -> Any:
        """The target at one layer from the blend of the style images' contributions (as it is, by default)."""
        return blended

    def from_statistics(self, statistics: Mapping[str, Any], counts: Mapping[str, Any], targets: LayerTensors
                        ) -> Any:
        """The unweighted loss from each layer's statistics of the whole image and its number of activations."""
        raise NotImplementedError

    def loss(self, image: Any, features: Mapping[str, Any], targets: LayerTensors,
             guide: Optional[Any] = None) -> Any:
        statistics = {name: self.statistics(features[name], layer_guide(guide, name)) for name in targets}
        counts = {name: activation_count(features[name]) for name in targets}
        return self.from_statistics(statistics, counts, targets)


@dataclass(frozen=True, kw_only=True)
class ImageTerm(Term):
    """A term that reads the image alone."""

    split = IMAGE


def activation_count(features: Any) -> Any:
    """How many values 1 x H x W x C activations hold (C*H*W), in float32."""
    return ops.cast(ops.size(features), "float32")


def at_least_float32(features: Any) -> Any:
    """Activations as the losses compute with them: a 16-bit network's as float32 (the network hands them out in
    its own precision), wider ones as they are."""
    return features if ops.dtype(features) in ("float32", "float64") else ops.cast(features, "float32")


def weighted_positions(features: Any, weights: Optional[Any]) -> Tuple[Any, Any]:
    """1 x H x W x C activations as (H*W) x C rows, and those rows each times its position's weight (1 x H x W x 1;
    None: the rows as they are): the two sides of a weighted sum over positions."""
    flat = ops.reshape(features, (-1, ops.shape(features)[-1]))
    if weights is None:
        return flat, flat
    return flat, flat * ops.reshape(ops.cast(weights, flat.dtype), (-1, 1))


def layer_guide(guide: Optional[Any], layer: str) -> Optional[Any]:
    """A 1 x H x W x K guide at a layer's resolution: the mean over the pixels each position pools (VGG19's
    poolings floor odd sizes, as a VALID average pool of the layer's stride does)."""
    if guide is None:
        return None
    stride = layer_stride(layer)
    return guide if stride == 1 else ops.average_pool(guide, stride, stride, "valid")


def add_in_order(values: Any) -> Any:
    """values[0] + values[1] + ..., left to right: the order the objective's total has always been summed in,
    so a run's numbers do not change with how the terms are held."""
    values = list(values)
    total = values[0]
    for value in values[1:]:
        total = total + value
    return total


__all__ = ["IMAGE", "POSITIONS", "STATISTICS", "ImageTerm", "PositionTerm", "StatisticsTerm", "Term",
           "activation_count", "add_in_order", "at_least_float32", "layer_guide", "weighted_positions"]
