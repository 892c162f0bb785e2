"""The content term: the mean squared difference between the picture's activations and the content
image's, at each content layer (jcjohnson/neural-style's normalisation, so its weights carry over)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Mapping

from keras import ops

from neural_style.objective.terms import LayerTensors, PositionTerm, add_in_order, at_least_float32


def content_loss(features: Any, target: Any) -> Any:
    """Mean squared difference of activations."""
    return ops.mean(ops.square(at_least_float32(features) - target))


@dataclass(frozen=True, kw_only=True)
class ContentTerm(PositionTerm):
    """Summed over the content layers, each a mean over its activations."""

    name: str = "content"

    def loss(self, image: Any, features: Mapping[str, Any], targets: LayerTensors) -> Any:
        return add_in_order(content_loss(features[name], target) for name, target in targets.items())

    def interior_sum(self, features: Any, target: Any) -> Any:
        return ops.sum(ops.square(at_least_float32(features) - target))

    def from_sums(self, sums: Mapping[str, Any], counts: Mapping[str, Any]) -> Any:
        return add_in_order(sums[name] / counts[name] for name in sums)


def content_term(config) -> ContentTerm:
    """The content term of a run: its content layers, at the weight in force."""
    return ContentTerm(weight=config.resolved_loss_weights().content, layers=tuple(config.content_layers))


__all__ = ["ContentTerm", "content_loss", "content_term"]
