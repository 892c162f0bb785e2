"""The Gram style term (Gatys et al.): at each style layer, the squared difference between the picture's
Gram matrix and the style images' (blended), weighted per layer and summed.

Normalisations: 'mean' divides the Gram matrix by the number of activations (C*H*W) and takes the mean
squared difference (jcjohnson/neural-style); 'chapter' (the PyTorch reference) takes the unnormalised Gram
matrices' mean squared difference and divides it by that number.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any, Mapping, Optional, Tuple

from keras import ops

from neural_style.objective.calibration import REFERENCE_GRAM_DIFFERENCE, REFERENCE_GRAM_SCALE, gram_scale
from neural_style.objective.layerwise_style import LayerwiseStyleTerm
from neural_style.objective.terms import LayerTensors, weighted_positions


def raw_gram(features: Any, weights: Optional[Any] = None, product_dtype: str = "float32") -> Any:
    """The unnormalised C x C Gram matrix of 1 x H x W x C activations, in float32: a sum over positions, which is
    what lets the tiled evaluation add it up tile by tile; each position weighted by `weights` (1 x H x W x 1)
    where given (the guided Gram matrix of Gatys et al. 2017). `product_dtype` 'bfloat16' multiplies in bfloat16
    (activations a bfloat16 network computed are exact in it; the products are summed in float32 and the sum rounded
    to bfloat16), as fast as the network's own layers where float32 products would be several times slower."""
    flat, weighted = weighted_positions(ops.cast(features, product_dtype), weights)  # (H*W) x C
    if weights is not None:
        return ops.cast(ops.matmul(ops.transpose(weighted), flat), "float32")
    # One product forward and one backward where autodiff of FᵀF takes two: `half` carries the gradient through its
    # right-hand F only, and half + halfᵀ - stop(half) has its value with the gradient F (D + Dᵀ) of both sides.
    half = ops.cast(ops.matmul(ops.transpose(ops.stop_gradient(flat)), flat), "float32")
    return half + ops.transpose(half) - ops.stop_gradient(half)


def gram_matrix(features: Any, normalize: bool = True) -> Any:
    """C x C Gram matrix of 1 x H x W x C activations, divided by C*H*W unless `normalize` is False."""
    gram = raw_gram(features)
    return gram / ops.cast(ops.size(features), "float32") if normalize else gram


def style_loss(gram: Any, target_gram: Any) -> Any:
    """Mean squared difference of Gram matrices."""
    return ops.mean(ops.square(gram - target_gram))


def style_layer_loss(raw: Any, count: Any, target_gram: Any, normalization: str = "mean") -> Any:
    """One layer's style loss from its unnormalised Gram matrix and the number of activations it sums."""
    if normalization == "mean":
        return style_loss(raw / count, target_gram)
    return style_loss(raw, target_gram) / count


@dataclass(frozen=True, kw_only=True)
class GramStyleTerm(LayerwiseStyleTerm):
    """Gram matrices at the style layers, each layer weighted."""

    normalization: str = "mean"
    product_dtype: str = "float32"  # the Gram matrices' products (raw_gram): 'bfloat16' with a bfloat16 network

    def statistics(self, features: Any, guide: Optional[Any] = None) -> Any:
        return raw_gram(features, guide, self.product_dtype)

    def in_precision(self, precision: str) -> "GramStyleTerm":
        return replace(self, product_dtype="bfloat16") if precision == "bfloat16" else self

    def target_from_statistics(self, statistics: Any, count: Any) -> Any:
        return statistics / count if self.normalization == "mean" else statistics

    def from_statistics(self, statistics: Mapping[str, Any], counts: Mapping[str, Any], targets: LayerTensors
                        ) -> Any:
        def layer_loss(name: str, target: Any) -> Tuple[Any, Any]:
            if self.calibration == "gradient":  # the 'mean' normalisation (config.validate): one difference for the
                difference = statistics[name] / counts[name] - target  # loss and its scale
                return ops.mean(ops.square(difference)), difference
            return style_layer_loss(statistics[name], counts[name], target, self.normalization), None

        return self.weighted_layers(targets, layer_loss)

    def layer_scale(self, calibration: str, name: str, loss: Any, target: Any, inputs: Any) -> Tuple[Any, float]:
        if calibration == "gradient":  # the Gram difference's mean size
            return ops.mean(ops.abs(inputs)), REFERENCE_GRAM_DIFFERENCE[name]
        if calibration == "target":
            return gram_scale(target), REFERENCE_GRAM_SCALE[name]
        return super().layer_scale(calibration, name, loss, target, inputs)


def gram_style_term(config) -> GramStyleTerm:
    """The style term of a run: its style layers and their weights, normalisation and weight in force."""
    return GramStyleTerm(weight=config.resolved_loss_weights().style, layers=tuple(config.style_layers),
                         layer_weights=config.resolved_style_layer_weights(), normalization=config.style_normalization,
                         calibration=config.resolved_style_calibration())


__all__ = ["GramStyleTerm", "gram_matrix", "gram_style_term", "raw_gram", "style_layer_loss", "style_loss"]
