"""The sliced Wasserstein style term (Heitz et al., CVPR 2021): at each style layer, the features are projected
on random unit directions, and each projection's distribution (its sorted values) is compared with the style's:

    loss = mean over directions and positions of (sorted(f . d)_i - Q_style,d((i + 1/2) / N))^2

where Q_style,d is the style's quantile function along d. It matches the whole distribution of each projection,
not only its first two moments. The style's side is kept as QUANTILES values of each quantile function (what a
style image's statistics are here), so several style images blend as the 1-D Wasserstein barycentre: their
quantile functions averaged.

The directions are drawn once per term from its seed and each layer's channel count (fixed per target, the same
at every scale): a loss that changed at every evaluation would break L-BFGS's line search (measured in
docs/style-losses.md). A sort over all positions is not a sum over positions, so the term cannot be tiled or
weighted by masks: both are refused before any work (config/checks.py).

With `--style-calibration target` each layer's loss is measured against its painting's own scale: the mean square of
its quantile functions, the second moment of the features along the directions, whose expectation over random unit
directions is the features' mean second moment, the Wasserstein term's scale (calibration.moment_scale), so the
sample painting's REFERENCE_MOMENT_SCALE gives the units (on it, the projected scale is 0.88-1.05 of the moment
scale per layer with seed 0, 0.98-1.15 with seed 7: measured at 512 px, float32). `gradient` has no reference
measured for this loss and is refused (config/checks.py).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Mapping, Optional, Tuple

import numpy as np
from keras import ops

from neural_style.objective.calibration import REFERENCE_MOMENT_SCALE
from neural_style.objective.layerwise_style import LayerwiseStyleTerm
from neural_style.objective.terms import LayerTensors, at_least_float32

# Values kept of each style quantile function. Each layer is projected on as many directions as it has channels
# (Heitz et al.): 64 directions on every layer left the deep layers' distributions unmatched in most directions
# (docs/style-losses.md).
QUANTILES = 1024


def directions(channels: int, seed: int, count: Optional[int] = None) -> np.ndarray:
    """`count` (default: `channels`) random unit directions in a C-dimensional feature space, C x count, the same
    for a seed and a channel count in every process."""
    rng = np.random.default_rng([seed, channels])
    drawn = rng.normal(size=(channels, count or channels))
    return (drawn / np.linalg.norm(drawn, axis=0, keepdims=True)).astype(np.float32)


def _sorted_projections(features: Any, seed: int) -> Any:
    flat = ops.reshape(at_least_float32(features), (-1, features.shape[-1]))
    projected = ops.matmul(flat, ops.cast(directions(int(features.shape[-1]), seed), flat.dtype))
    return ops.sort(projected, axis=0)  # N x C


def resample(sorted_values: Any, count: Any) -> Any:
    """A quantile function given by M sorted values (M x D), read at `count` evenly spaced levels
    ((i + 1/2) / count), by linear interpolation between the values' own levels ((j + 1/2) / M)."""
    size = ops.shape(sorted_values)[0]
    levels = (ops.arange(count, dtype="float32") + 0.5) / ops.cast(count, "float32")
    position = ops.clip(levels * ops.cast(size, "float32") - 0.5, 0.0, ops.cast(size - 1, "float32"))
    below = ops.cast(ops.floor(position), "int32")
    above = ops.minimum(below + 1, size - 1)
    fraction = ops.cast(position - ops.floor(position), sorted_values.dtype)[:, None]
    return ops.take(sorted_values, below, axis=0) * (1 - fraction) + ops.take(sorted_values, above, axis=0) * fraction


def sliced_layer_loss(features: Any, target: Any, seed: int) -> Any:
    """One layer's loss: the mean squared difference between the picture's sorted projections and the style's
    quantile functions (QUANTILES x C) read at the picture's number of positions."""
    values = _sorted_projections(features, seed)
    wanted = resample(ops.cast(target, values.dtype), ops.shape(values)[0])
    return ops.mean(ops.square(values - wanted))


@dataclass(frozen=True, kw_only=True)
class SlicedStyleTerm(LayerwiseStyleTerm):
    """Sliced Wasserstein distances at the style layers, each layer weighted (calibration: "target" only, see the
    module)."""

    seed: int = 0  # of the directions

    def statistics(self, features: Any, guide: Optional[Any] = None) -> Any:
        # A style image's statistics: each projection's quantile function, QUANTILES values.
        return resample(_sorted_projections(features, self.seed), QUANTILES)

    def target_from_statistics(self, statistics: Any, count: Any) -> Any:
        return statistics  # quantile functions blend linearly: the 1-D Wasserstein barycentre

    def loss(self, image: Any, features: Mapping[str, Any], targets: LayerTensors,
             guide: Optional[Any] = None) -> Any:
        return self.weighted_layers(targets, lambda name, target: (
            sliced_layer_loss(features[name], target, self.seed), None))

    def layer_scale(self, calibration: str, name: str, loss: Any, target: Any, inputs: Any) -> Tuple[Any, float]:
        if calibration == "target":
            return ops.mean(ops.square(target)), REFERENCE_MOMENT_SCALE[name]
        return super().layer_scale(calibration, name, loss, target, inputs)


def sliced_style_term(config) -> SlicedStyleTerm:
    """The style term of a run with `--style-loss sliced`: its directions drawn from the run's seed (0 without)."""
    return SlicedStyleTerm(weight=config.resolved_loss_weights().style, layers=tuple(config.style_layers),
                           layer_weights=config.resolved_style_layer_weights(), seed=config.seed or 0,
                           calibration=config.resolved_style_calibration())


__all__ = ["QUANTILES", "SlicedStyleTerm", "directions", "resample", "sliced_layer_loss",
           "sliced_style_term"]
