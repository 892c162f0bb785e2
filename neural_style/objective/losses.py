"""Losses: content, style (Gram matrices) and total variation, and the objective that sums them.

Normalisations follow jcjohnson/neural-style so that its well-tried weights carry over:
the Gram matrix is divided by the number of activations (C*H*W), and the content and style terms
are mean squared differences. The TV term is a mean too, so weights do not change with image size.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import TYPE_CHECKING, Dict, Mapping, Optional, Sequence, Tuple

import numpy as np
import tensorflow as tf

from neural_style.config import LossWeights

if TYPE_CHECKING:
    from neural_style.config import StyleConfig
    from neural_style.features.vgg19 import FeatureExtractor


def gram_matrix(features: tf.Tensor, normalize: bool = True) -> tf.Tensor:
    """C x C Gram matrix of 1 x H x W x C activations, divided by C*H*W unless `normalize` is False."""
    channels = tf.shape(features)[-1]
    flat = tf.reshape(features, (-1, channels))  # (H*W) x C
    gram = tf.matmul(flat, flat, transpose_a=True)
    return gram / tf.cast(tf.size(features), features.dtype) if normalize else gram


def content_loss(features: tf.Tensor, target: tf.Tensor) -> tf.Tensor:
    """Mean squared difference of activations."""
    return tf.reduce_mean(tf.square(features - target))


def style_loss(gram: tf.Tensor, target_gram: tf.Tensor) -> tf.Tensor:
    """Mean squared difference of Gram matrices."""
    return tf.reduce_mean(tf.square(gram - target_gram))


def style_term(raw_gram: tf.Tensor, count: tf.Tensor, target_gram: tf.Tensor, normalization: str = "mean"
               ) -> tf.Tensor:
    """One layer's style term from its unnormalised Gram matrix and the number of activations it sums
    (C*H*W). 'mean': the Gram matrix divided by the count, then the mean squared difference
    (jcjohnson/neural-style). 'chapter' (the PyTorch reference): the unnormalised Gram matrix's mean
    squared difference, divided by the count. Both tiled and whole-image evaluation use this."""
    if normalization == "mean":
        return style_loss(raw_gram / count, target_gram)
    return style_loss(raw_gram, target_gram) / count


def total_variation_loss(image: tf.Tensor) -> tf.Tensor:
    """Mean squared difference between horizontally and vertically adjacent pixel values."""
    dx = image[:, :, 1:, :] - image[:, :, :-1, :]
    dy = image[:, 1:, :, :] - image[:, :-1, :, :]
    return tf.reduce_mean(tf.square(dx)) + tf.reduce_mean(tf.square(dy))


@dataclass(frozen=True)
class Targets:
    """What the image is pulled towards: content activations and (blended) style Gram matrices."""

    content: Dict[str, tf.Tensor]
    style_grams: Dict[str, tf.Tensor]


def compute_targets(
    extractor: tf.keras.Model,
    content_image: tf.Tensor,
    style_images: Sequence[tf.Tensor],
    blend_weights: Sequence[float],
    content_layers: Sequence[str],
    style_layers: Sequence[str],
    style_normalization: str = "mean",
) -> Targets:
    """Run the network once on the content image and once per style image."""
    normalize = style_normalization == "mean"
    content_features = extractor(content_image)
    content = {name: tf.constant(content_features[name]) for name in content_layers}
    grams: Dict[str, tf.Tensor] = {}
    for image, weight in zip(style_images, blend_weights):
        features = extractor(image)
        for name in style_layers:
            gram = weight * gram_matrix(features[name], normalize)
            grams[name] = gram if name not in grams else grams[name] + gram
    return Targets(content=content, style_grams={name: tf.constant(g) for name, g in grams.items()})


class Objective:
    """The weighted sum of the three terms, evaluated with its gradient in one compiled function.

    The targets are arguments of that function, not constants inside it, and image sizes are left
    open, so `for_targets` gives the objective at another image size (a coarse-to-fine scale, a
    video frame) that reuses the traced function instead of tracing it again.
    """

    def __init__(
        self,
        extractor: tf.keras.Model,
        targets: Targets,
        loss_weights: LossWeights,
        style_layer_weights: Mapping[str, float],
        xla: bool = False,
        style_normalization: str = "mean",
    ) -> None:
        self.extractor = extractor
        self.targets = targets
        self.loss_weights = loss_weights
        self.style_layer_weights = dict(style_layer_weights)
        self.style_normalization = style_normalization
        signature = (
            tf.TensorSpec((1, None, None, 3), tf.float32),
            {name: tf.TensorSpec((1, None, None, t.shape[-1]), t.dtype) for name, t in targets.content.items()},
            {name: tf.TensorSpec(g.shape, g.dtype) for name, g in targets.style_grams.items()},
        )
        self._graph_function = tf.function(self._loss_and_gradient_body, input_signature=signature)
        self._xla_function = (tf.function(self._loss_and_gradient_body, input_signature=signature, jit_compile=True)
                              if xla else None)

    def for_targets(self, targets: Targets) -> "Objective":
        """This objective pulled towards other targets (of the same layers): the compiled functions
        are shared, so a new image size costs no new trace."""
        other = copy.copy(self)
        other.targets = targets
        return other

    @property
    def uses_xla(self) -> bool:
        """Whether evaluations run XLA-compiled (False once XLA failed on this platform)."""
        return self._xla_function is not None

    def terms(self, image: tf.Tensor, targets: Optional[Targets] = None) -> Tuple[tf.Tensor, tf.Tensor, tf.Tensor]:
        """Weighted (content, style, tv) terms for a 1 x H x W x 3 network image."""
        return self._terms(image, *self._target_tensors(targets or self.targets))

    @staticmethod
    def _target_tensors(targets: Targets) -> Tuple[Dict[str, tf.Tensor], Dict[str, tf.Tensor]]:
        return dict(targets.content), dict(targets.style_grams)

    def _terms(self, image: tf.Tensor, content_targets: Dict[str, tf.Tensor], style_grams: Dict[str, tf.Tensor]
               ) -> Tuple[tf.Tensor, tf.Tensor, tf.Tensor]:
        features = self.extractor(image)
        content = tf.add_n([content_loss(features[name], target) for name, target in content_targets.items()])
        style = tf.add_n([self.style_layer_weights[name] * self._style_term(features[name], target)
                          for name, target in style_grams.items()])
        tv = total_variation_loss(image)
        w = self.loss_weights
        return w.content * content, w.style * style, w.tv * tv

    def _style_term(self, features: tf.Tensor, target_gram: tf.Tensor) -> tf.Tensor:
        count = tf.cast(tf.size(features), features.dtype)
        return style_term(gram_matrix(features, normalize=False), count, target_gram, self.style_normalization)

    def _loss_and_gradient_body(self, image: tf.Tensor, content_targets: Dict[str, tf.Tensor],
                                style_grams: Dict[str, tf.Tensor]):
        # The Python body that tf.function traces into a graph (or XLA compiles).
        with tf.GradientTape() as tape:
            tape.watch(image)
            content, style, tv = self._terms(image, content_targets, style_grams)
            total = content + style + tv
        return total, tf.stack([content, style, tv]), tape.gradient(total, image)

    def loss_and_gradient(self, image: tf.Tensor):
        """(total loss, [content, style, tv] weighted terms, gradient w.r.t. the image), from one
        forward and one backward pass."""
        arguments = (image, *self._target_tensors(self.targets))
        if self._xla_function is not None:
            try:
                return self._xla_function(*arguments)
            except (tf.errors.UnimplementedError, tf.errors.InvalidArgumentError, tf.errors.NotFoundError):
                self._xla_function = None  # this platform cannot XLA-compile it: use the plain graph
        return self._graph_function(*arguments)


def compute_config_targets(config: "StyleConfig", extractor: "FeatureExtractor", content_pixels: np.ndarray,
                           style_pixels: Sequence[np.ndarray]) -> Targets:
    """`compute_targets` for uint8 content and style images, with `config`'s layers and blend."""
    from neural_style.features.network_input import preprocess

    if len(style_pixels) != len(config.styles):
        raise ValueError(f"{len(style_pixels)} style images for a configuration of {len(config.styles)}")
    return compute_targets(
        extractor.model, tf.constant(preprocess(content_pixels)), [tf.constant(preprocess(s)) for s in style_pixels],
        config.resolved_blend_weights(), config.content_layers, config.style_layers, config.style_normalization,
    )


def build_objective(config: "StyleConfig", extractor: "FeatureExtractor", content_pixels: np.ndarray,
                    style_pixels: Sequence[np.ndarray]) -> Objective:
    """The objective for content and style images at their given sizes: targets computed once from
    them, with `config`'s weights; `config.xla` must be resolved (True or False). For other sizes
    of the same run, `Objective.for_targets` reuses its compiled function."""
    return Objective(
        extractor.model, compute_config_targets(config, extractor, content_pixels, style_pixels),
        config.resolved_loss_weights(), dict(zip(config.style_layers, config.resolved_style_layer_weights())),
        xla=bool(config.xla), style_normalization=config.style_normalization,
    )
