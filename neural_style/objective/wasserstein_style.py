"""The Wasserstein style term: at each style layer, the squared 2-Wasserstein distance between Gaussians fitted
to the picture's features and to the style images' (their means and covariances), per channel, weighted per
layer and summed:

    W2^2 = |mu_x - mu_s|^2 + tr(S_x) + tr(S_s) - 2 tr((S_s^1/2 S_x S_s^1/2)^1/2)

Gram matrices match second moments about zero only; this matches the mean and the covariance, the loss
crowsonkb/style-transfer-pytorch made its default. Its statistics are sums over positions (of f and of f f^T),
so the tiled evaluation adds them up tile by tile as it does Gram matrices. The style's square root is taken
once per target; the trace of the square root inside the evaluation comes from an eigendecomposition in float64,
with a gradient (V diag(1 / 2 sqrt(lambda)) V^T) that stays finite where eigenvalues are near zero: they are
floored at EIGENVALUE_FLOOR times the largest.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Mapping, Optional, Tuple

import tensorflow as tf

from neural_style.objective.calibration import (REFERENCE_MOMENT_SCALE, REFERENCE_WASSERSTEIN_LOSS, calibrated,
                                                moment_scale)
from neural_style.objective.terms import LayerTensors, StatisticsTerm, weighted_positions

# Eigenvalues below this fraction of the largest count as this fraction: a covariance of features that never
# fire is singular, and the square root's derivative there is infinite.
EIGENVALUE_FLOOR = 1e-6


def moment_sums(features: tf.Tensor, weights: Optional[tf.Tensor] = None) -> tf.Tensor:
    """(C + 1) x C sums over the positions of 1 x H x W x C activations: rows 0..C-1 the sum of f f^T, row C the
    sum of f; each position weighted by `weights` (1 x H x W x 1) where given."""
    flat, weighted = weighted_positions(features, weights)
    return tf.concat([tf.matmul(weighted, flat, transpose_a=True), tf.reduce_sum(weighted, 0, keepdims=True)], 0)


def _mean_and_covariance(moments: tf.Tensor) -> Tuple[tf.Tensor, tf.Tensor]:
    """From (C + 1) x C means of f f^T and of f: the mean (1 x C) and the covariance (C x C)."""
    channels = tf.shape(moments)[1]
    mean = moments[channels:]
    return mean, moments[:channels] - tf.matmul(mean, mean, transpose_a=True)


def _floored_eigen(matrix: tf.Tensor) -> Tuple[tf.Tensor, tf.Tensor]:
    symmetric = tf.cast((matrix + tf.transpose(matrix)) / 2, tf.float64)
    values, vectors = tf.linalg.eigh(symmetric)
    floor = EIGENVALUE_FLOOR * tf.maximum(tf.reduce_max(values), tf.constant(1e-30, tf.float64))
    return tf.maximum(values, floor), vectors


def psd_sqrt(matrix: tf.Tensor) -> tf.Tensor:
    """The symmetric square root of a symmetric positive semi-definite matrix (float64 inside)."""
    values, vectors = _floored_eigen(matrix)
    root = tf.matmul(vectors * tf.sqrt(values), vectors, transpose_b=True)
    return tf.cast(root, matrix.dtype)


@tf.custom_gradient
def trace_sqrt(matrix: tf.Tensor) -> Tuple[tf.Tensor, Any]:
    """tr(M^1/2) of a symmetric positive semi-definite matrix, with a finite gradient (see the module)."""
    values, vectors = _floored_eigen(matrix)
    roots = tf.sqrt(values)

    def gradient(upstream: tf.Tensor) -> tf.Tensor:
        spectral = tf.matmul(vectors * (0.5 / roots), vectors, transpose_b=True)
        return tf.cast(tf.cast(upstream, tf.float64) * spectral, matrix.dtype)

    return tf.cast(tf.reduce_sum(roots), matrix.dtype), gradient


def wasserstein_layer_loss(sums: tf.Tensor, count: Any, target: tf.Tensor) -> tf.Tensor:
    """One layer's W2^2 per channel, from its moment sums, its number of activations (C*H*W) and its target
    ((C + 1) x C: the style's covariance square root, then its mean)."""
    channels = tf.cast(tf.shape(sums)[1], sums.dtype)
    mean, covariance = _mean_and_covariance(sums / (tf.cast(count, sums.dtype) / channels))
    size = tf.shape(target)[1]
    root, target_mean = target[:size], target[size:]
    mean_term = tf.reduce_sum(tf.square(mean - target_mean))
    covariance_term = (tf.linalg.trace(covariance) + tf.reduce_sum(tf.square(root))
                       - 2.0 * trace_sqrt(tf.matmul(tf.matmul(root, covariance), root)))
    return (mean_term + covariance_term) / channels


@dataclass(frozen=True, kw_only=True)
class WassersteinStyleTerm(StatisticsTerm):
    """Gaussians fitted at the style layers, each layer weighted."""

    name: str = "style"
    layer_weights: Tuple[float, ...] = ()  # one per layer, in the order of `layers`
    calibration: str = "off"  # "target" or "gradient" (calibration.py)

    def statistics(self, features: tf.Tensor, guide: Optional[tf.Tensor] = None) -> tf.Tensor:
        return moment_sums(features, guide)

    def target_from_statistics(self, statistics: tf.Tensor, count: Any) -> tf.Tensor:
        # Means of f f^T and of f: what blends linearly over several style images (a mixture's moments).
        return statistics / (tf.cast(count, statistics.dtype) / tf.cast(tf.shape(statistics)[1], statistics.dtype))

    def finish_target(self, blended: tf.Tensor) -> tf.Tensor:
        mean, covariance = _mean_and_covariance(blended)
        return tf.concat([psd_sqrt(covariance), mean], 0)

    def from_statistics(self, statistics: Mapping[str, Any], counts: Mapping[str, Any], targets: LayerTensors
                        ) -> tf.Tensor:
        weights = dict(zip(self.layers, self.layer_weights))
        losses = []
        for name, target in targets.items():
            loss = wasserstein_layer_loss(statistics[name], counts[name], target)
            if self.calibration == "target":
                loss = calibrated(loss, moment_scale(target), REFERENCE_MOMENT_SCALE[name])
            elif self.calibration == "gradient":
                loss = calibrated(loss, tf.sqrt(tf.maximum(loss, 1e-30)), REFERENCE_WASSERSTEIN_LOSS[name] ** 0.5)
            losses.append(weights[name] * loss)
        return tf.add_n(losses)


def wasserstein_style_term(config) -> WassersteinStyleTerm:
    """The style term of a run with `--style-loss wasserstein`."""
    return WassersteinStyleTerm(weight=config.resolved_loss_weights().style, layers=tuple(config.style_layers),
                                layer_weights=config.resolved_style_layer_weights(),
                                calibration=config.resolved_style_calibration())


__all__ = ["EIGENVALUE_FLOOR", "WassersteinStyleTerm", "moment_sums", "psd_sqrt", "trace_sqrt",
           "wasserstein_layer_loss", "wasserstein_style_term"]
