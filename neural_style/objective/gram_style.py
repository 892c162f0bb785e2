"""The Gram style term (Gatys et al.): at each style layer, the squared difference between the picture's
Gram matrix and the style images' (blended), weighted per layer and summed.

Normalisations: 'mean' divides the Gram matrix by the number of activations (C*H*W) and takes the mean
squared difference (jcjohnson/neural-style); 'chapter' (the PyTorch reference) takes the unnormalised Gram
matrices' mean squared difference and divides it by that number.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Mapping, Optional, Tuple

import tensorflow as tf

from neural_style.objective.calibration import (REFERENCE_GRAM_DIFFERENCE, REFERENCE_GRAM_SCALE, calibrated,
                                                gram_scale)
from neural_style.objective.terms import LayerTensors, StatisticsTerm, weighted_positions


def raw_gram(features: tf.Tensor, weights: Optional[tf.Tensor] = None) -> tf.Tensor:
    """The unnormalised C x C Gram matrix of 1 x H x W x C activations: a sum over positions, which is
    what lets the tiled evaluation add it up tile by tile; each position weighted by `weights` (1 x H x W x 1)
    where given (the guided Gram matrix of Gatys et al. 2017)."""
    flat, weighted = weighted_positions(features, weights)  # (H*W) x C
    return tf.matmul(weighted, flat, transpose_a=True)


def gram_matrix(features: tf.Tensor, normalize: bool = True) -> tf.Tensor:
    """C x C Gram matrix of 1 x H x W x C activations, divided by C*H*W unless `normalize` is False."""
    gram = raw_gram(features)
    return gram / tf.cast(tf.size(features), features.dtype) if normalize else gram


def style_loss(gram: tf.Tensor, target_gram: tf.Tensor) -> tf.Tensor:
    """Mean squared difference of Gram matrices."""
    return tf.reduce_mean(tf.square(gram - target_gram))


def style_layer_loss(raw: tf.Tensor, count: Any, target_gram: tf.Tensor, normalization: str = "mean") -> tf.Tensor:
    """One layer's style loss from its unnormalised Gram matrix and the number of activations it sums."""
    if normalization == "mean":
        return style_loss(raw / count, target_gram)
    return style_loss(raw, target_gram) / count


@dataclass(frozen=True, kw_only=True)
class GramStyleTerm(StatisticsTerm):
    """Gram matrices at the style layers, each layer weighted."""

    name: str = "style"
    layer_weights: Tuple[float, ...] = ()  # one per layer, in the order of `layers`
    normalization: str = "mean"
    calibration: str = "off"  # "target" or "gradient" (calibration.py)

    def statistics(self, features: tf.Tensor, guide: Optional[tf.Tensor] = None) -> tf.Tensor:
        return raw_gram(features, guide)

    def target_from_statistics(self, statistics: tf.Tensor, count: Any) -> tf.Tensor:
        return statistics / count if self.normalization == "mean" else statistics

    def from_statistics(self, statistics: Mapping[str, Any], counts: Mapping[str, Any], targets: LayerTensors
                        ) -> tf.Tensor:
        weights = dict(zip(self.layers, self.layer_weights))
        losses = []
        for name, target in targets.items():
            if self.calibration == "gradient":  # the 'mean' normalisation (config.validate): the difference once
                difference = statistics[name] / counts[name] - target
                loss = calibrated(tf.reduce_mean(tf.square(difference)), tf.reduce_mean(tf.abs(difference)),
                                  REFERENCE_GRAM_DIFFERENCE[name])
            else:
                loss = style_layer_loss(statistics[name], counts[name], target, self.normalization)
            if self.calibration == "target":
                loss = calibrated(loss, gram_scale(target), REFERENCE_GRAM_SCALE[name])
            losses.append(weights[name] * loss)
        return tf.add_n(losses)


def gram_style_term(config) -> GramStyleTerm:
    """The style term of a run: its style layers and their weights, normalisation and weight in force."""
    return GramStyleTerm(weight=config.resolved_loss_weights().style, layers=tuple(config.style_layers),
                         layer_weights=config.resolved_style_layer_weights(), normalization=config.style_normalization,
                         calibration=config.resolved_style_calibration())


__all__ = ["GramStyleTerm", "gram_matrix", "gram_style_term", "raw_gram", "style_layer_loss", "style_loss"]
