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
weighted by masks: both are refused before any work (config.py).

With `--style-calibration target` each layer's loss is measured against its painting's own scale: the mean square of
its quantile functions, the second moment of the features along the directions, whose expectation over random unit
directions is the features' mean second moment, the Wasserstein term's scale (calibration.moment_scale), so the
sample painting's REFERENCE_MOMENT_SCALE gives the units (on it, the projected scale is 0.88-1.05 of the moment
scale per layer with seed 0, 0.98-1.15 with seed 7: measured at 512 px, float32). `gradient` has no reference
measured for this loss and is refused (config.py).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Mapping, Optional, Tuple

import numpy as np
import tensorflow as tf

from neural_style.objective.calibration import REFERENCE_MOMENT_SCALE, calibrated
from neural_style.objective.terms import LayerTensors, StatisticsTerm

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


def _sorted_projections(features: tf.Tensor, seed: int) -> tf.Tensor:
    flat = tf.reshape(features, (-1, features.shape[-1]))
    projected = tf.matmul(flat, tf.constant(directions(int(features.shape[-1]), seed), flat.dtype))
    return tf.sort(projected, axis=0)  # N x C


def resample(sorted_values: tf.Tensor, count: Any) -> tf.Tensor:
    """A quantile function given by M sorted values (M x D), read at `count` evenly spaced levels
    ((i + 1/2) / count), by linear interpolation between the values' own levels ((j + 1/2) / M)."""
    size = tf.shape(sorted_values)[0]
    levels = (tf.range(count, dtype=tf.float32) + 0.5) / tf.cast(count, tf.float32)
    position = tf.clip_by_value(levels * tf.cast(size, tf.float32) - 0.5, 0.0, tf.cast(size - 1, tf.float32))
    below = tf.cast(tf.floor(position), tf.int32)
    above = tf.minimum(below + 1, size - 1)
    fraction = tf.cast(position - tf.floor(position), sorted_values.dtype)[:, tf.newaxis]
    return tf.gather(sorted_values, below) * (1 - fraction) + tf.gather(sorted_values, above) * fraction


def sliced_layer_loss(features: tf.Tensor, target: tf.Tensor, seed: int) -> tf.Tensor:
    """One layer's loss: the mean squared difference between the picture's sorted projections and the style's
    quantile functions (QUANTILES x C) read at the picture's number of positions."""
    values = _sorted_projections(features, seed)
    wanted = resample(tf.cast(target, values.dtype), tf.shape(values)[0])
    return tf.reduce_mean(tf.square(values - wanted))


@dataclass(frozen=True, kw_only=True)
class SlicedStyleTerm(StatisticsTerm):
    """Sliced Wasserstein distances at the style layers, each layer weighted."""

    name: str = "style"
    layer_weights: Tuple[float, ...] = ()  # one per layer, in the order of `layers`
    seed: int = 0  # of the directions
    calibration: str = "off"  # or "target" (see the module)

    def statistics(self, features: tf.Tensor, guide: Optional[tf.Tensor] = None) -> tf.Tensor:
        # A style image's statistics: each projection's quantile function, QUANTILES values.
        return resample(_sorted_projections(features, self.seed), QUANTILES)

    def target_from_statistics(self, statistics: tf.Tensor, count: Any) -> tf.Tensor:
        return statistics  # quantile functions blend linearly: the 1-D Wasserstein barycentre

    def loss(self, image: tf.Tensor, features: Mapping[str, tf.Tensor], targets: LayerTensors,
             guide: Optional[tf.Tensor] = None) -> tf.Tensor:
        weights = dict(zip(self.layers, self.layer_weights))
        losses = []
        for name, target in targets.items():
            loss = sliced_layer_loss(features[name], target, self.seed)
            if self.calibration == "target":
                loss = calibrated(loss, tf.reduce_mean(tf.square(target)), REFERENCE_MOMENT_SCALE[name])
            losses.append(weights[name] * loss)
        return tf.add_n(losses)


def sliced_style_term(config) -> SlicedStyleTerm:
    """The style term of a run with `--style-loss sliced`: its directions drawn from the run's seed (0 without)."""
    return SlicedStyleTerm(weight=config.resolved_loss_weights().style, layers=tuple(config.style_layers),
                           layer_weights=config.resolved_style_layer_weights(), seed=config.seed or 0,
                           calibration=config.resolved_style_calibration())


__all__ = ["QUANTILES", "SlicedStyleTerm", "directions", "resample", "sliced_layer_loss",
           "sliced_style_term"]
