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

from keras import ops

from neural_style.objective.calibration import REFERENCE_MOMENT_SCALE, REFERENCE_WASSERSTEIN_LOSS, moment_scale
from neural_style.objective.layerwise_style import LayerwiseStyleTerm
from neural_style.objective.terms import LayerTensors, at_least_float32, weighted_positions

# Eigenvalues below this fraction of the largest count as this fraction: a covariance of features that never
# fire is singular, and the square root's derivative there is infinite.
EIGENVALUE_FLOOR = 1e-6


def moment_sums(features: Any, weights: Optional[Any] = None) -> Any:
    """(C + 1) x C sums over the positions of 1 x H x W x C activations: rows 0..C-1 the sum of f f^T, row C the
    sum of f; each position weighted by `weights` (1 x H x W x 1) where given."""
    flat, weighted = weighted_positions(at_least_float32(features), weights)
    return ops.concatenate([ops.matmul(ops.transpose(weighted), flat), ops.sum(weighted, 0, keepdims=True)], 0)


def _mean_and_covariance(moments: Any) -> Tuple[Any, Any]:
    """From (C + 1) x C means of f f^T and of f: the mean (1 x C) and the covariance (C x C)."""
    channels = ops.shape(moments)[1]
    mean = moments[channels:]
    return mean, moments[:channels] - ops.matmul(ops.transpose(mean), mean)


def _floored_eigen(matrix: Any) -> Tuple[Any, Any]:
    symmetric = ops.cast((matrix + ops.transpose(matrix)) / 2, "float64")
    values, vectors = ops.eigh(symmetric)
    floor = EIGENVALUE_FLOOR * ops.maximum(ops.max(values), ops.cast(1e-30, "float64"))
    return ops.maximum(values, floor), vectors


def psd_sqrt(matrix: Any) -> Any:
    """The symmetric square root of a symmetric positive semi-definite matrix (float64 inside)."""
    values, vectors = _floored_eigen(matrix)
    root = ops.matmul(vectors * ops.sqrt(values), ops.transpose(vectors))
    return ops.cast(root, matrix.dtype)


def trace_sqrt(matrix: Any) -> Any:
    """tr(M^1/2) of a symmetric positive semi-definite matrix, with the gradient 1/2 M^-1/2 (from the floored
    eigendecomposition, so finite where eigenvalues are near zero): the value, plus <G, M> - <G, M> with G held
    constant, whose gradient is G. Backends differentiate eigendecompositions differently, and badly at repeated
    eigenvalues; this takes no derivative of one."""
    values, vectors = _floored_eigen(ops.stop_gradient(matrix))
    roots = ops.sqrt(values)
    spectral = ops.cast(ops.matmul(vectors * (0.5 / roots), ops.transpose(vectors)), matrix.dtype)
    linear = ops.sum(spectral * matrix)
    return ops.cast(ops.sum(roots), matrix.dtype) + (linear - ops.stop_gradient(linear))


def wasserstein_layer_loss(sums: Any, count: Any, target: Any) -> Any:
    """One layer's W2^2 per channel, from its moment sums, its number of activations (C*H*W) and its target
    ((C + 1) x C: the style's covariance square root, then its mean)."""
    channels = ops.cast(ops.shape(sums)[1], sums.dtype)
    mean, covariance = _mean_and_covariance(sums / (ops.cast(count, sums.dtype) / channels))
    size = ops.shape(target)[1]
    root, target_mean = target[:size], target[size:]
    mean_term = ops.sum(ops.square(mean - target_mean))
    covariance_term = (ops.trace(covariance) + ops.sum(ops.square(root))
                       - 2.0 * trace_sqrt(ops.matmul(ops.matmul(root, covariance), root)))
    return (mean_term + covariance_term) / channels


@dataclass(frozen=True, kw_only=True)
class WassersteinStyleTerm(LayerwiseStyleTerm):
    """Gaussians fitted at the style layers, each layer weighted."""

    def statistics(self, features: Any, guide: Optional[Any] = None) -> Any:
        return moment_sums(features, guide)

    def target_from_statistics(self, statistics: Any, count: Any) -> Any:
        # Means of f f^T and of f: what blends linearly over several style images (a mixture's moments).
        return statistics / (ops.cast(count, statistics.dtype) / ops.cast(ops.shape(statistics)[1], statistics.dtype))

    def finish_target(self, blended: Any) -> Any:
        mean, covariance = _mean_and_covariance(blended)
        return ops.concatenate([psd_sqrt(covariance), mean], 0)

    def from_statistics(self, statistics: Mapping[str, Any], counts: Mapping[str, Any], targets: LayerTensors
                        ) -> Any:
        return self.weighted_layers(targets, lambda name, target: (
            wasserstein_layer_loss(statistics[name], counts[name], target), None))

    def layer_scale(self, calibration: str, name: str, loss: Any, target: Any, inputs: Any) -> Tuple[Any, float]:
        if calibration == "target":
            return moment_scale(target), REFERENCE_MOMENT_SCALE[name]
        if calibration == "gradient":
            return ops.sqrt(ops.maximum(loss, 1e-30)), REFERENCE_WASSERSTEIN_LOSS[name] ** 0.5
        return super().layer_scale(calibration, name, loss, target, inputs)


def wasserstein_style_term(config) -> WassersteinStyleTerm:
    """The style term of a run with `--style-loss wasserstein`."""
    return WassersteinStyleTerm(weight=config.resolved_loss_weights().style, layers=tuple(config.style_layers),
                                layer_weights=config.resolved_style_layer_weights(),
                                calibration=config.resolved_style_calibration())


__all__ = ["EIGENVALUE_FLOOR", "WassersteinStyleTerm", "moment_sums", "psd_sqrt", "trace_sqrt",
           "wasserstein_layer_loss", "wasserstein_style_term"]
