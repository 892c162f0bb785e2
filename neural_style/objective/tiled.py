"""Tiled evaluation of the exact objective: memory follows the tile, not the image.

The image is cut into tiles whose borders fall on multiples of 16 px (so VGG19's four 2x poolings see
the same windows as on the whole image), each read with a halo of context around it. Only a tile's
interior activations enter Gram matrices and losses; its input gradient, halo included, is added into
the whole image's gradient.

- Style: a Gram matrix is a sum over positions, so the whole image's Gram matrix is the sum of the
  interiors' (a forward-only pass over the tiles). The style loss's gradient with respect to that
  global Gram matrix, held fixed, then gives each tile's exact share of the gradient in a second,
  forward and backward, pass: the gradient of <dS/dG, G_tile>.
- Content: a sum over positions, split over the interiors directly.
- Total variation: cheap and local, computed on the whole image at once.

With a halo as wide as half the receptive field of the deepest layer (VGG19's conv5_1 sees 156 px) the
tiled loss and gradient equal the whole image's up to rounding; a narrower halo trades a small error in
the activations near tile borders for less recomputation (the default is measured, see DEFAULT_HALO).
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Dict, List, Mapping, Sequence, Tuple

import numpy as np
import tensorflow as tf

from neural_style.config import LossWeights
from neural_style.objective.losses import Targets, style_term, total_variation_loss

if TYPE_CHECKING:
    from neural_style.config import StyleConfig
    from neural_style.features.vgg19 import FeatureExtractor

# Tile borders and halos are multiples of this: 2**4, for the poolings before block5.
ALIGNMENT = 16
# Measured (README, "High resolution"): the loss and gradient error against the whole image's as the
# halo grows, at 512 px in 128 and 256 px tiles: 48 px 2e-2 and 7e-3 (3e-2 along tile borders), 64 px
# 7e-4 and 2e-4 (no worse along borders), 80 px exact (the receptive field of conv5_1 is 156 px).
DEFAULT_HALO = 64


@dataclass(frozen=True)
class Span:
    """One tile's extent along one axis, in image pixels: [start, end) is read, [inner_start,
    inner_end) is its interior, which the tiles of an axis partition."""

    start: int
    inner_start: int
    inner_end: int
    end: int


def axis_spans(length: int, tile: int, halo: int) -> List[Span]:
    """The tiles along an axis of `length` px: as few interiors of at most `tile` px as cover it, of
    near-equal sizes on multiples of 16 px, each read with up to `halo` px on either side, clipped to
    the image."""
    if tile % ALIGNMENT or halo % ALIGNMENT or tile <= 0 or halo < 0:
        raise ValueError(f"tile ({tile}) and halo ({halo}) must be multiples of {ALIGNMENT}, tile > 0")
    count = -(-length // tile)
    step = -(-length // (count * ALIGNMENT)) * ALIGNMENT  # the even share, rounded up to a multiple of 16
    starts = [index * step for index in range(count) if index * step < length]
    ends = starts[1:] + [length]
    return [Span(max(0, start - halo), start, end, min(length, end + halo)) for start, end in zip(starts, ends)]


def tile_grid(height: int, width: int, tile: int, halo: int) -> List[Tuple[Span, Span]]:
    """Every (rows, columns) tile of a height x width image, row by row."""
    return [(rows, columns) for rows in axis_spans(height, tile, halo) for columns in axis_spans(width, tile, halo)]


def layer_stride(layer_name: str) -> int:
    """How many image pixels one activation of a VGG19 layer steps over (block N: 2**(N-1))."""
    return 2 ** (int(layer_name.split("_")[0][len("block"):]) - 1)


def _bounds(rows: Span, columns: Span) -> tf.Tensor:
    return tf.constant([rows.start, rows.inner_start, rows.inner_end,
                        columns.start, columns.inner_start, columns.inner_end], tf.int32)


def _interior(features: tf.Tensor, bounds: tf.Tensor, stride: int) -> tf.Tensor:
    """The activations of a tile's interior, from the tile's activations of a layer of that stride.
    Interior borders are multiples of 16 px or the image's edge; floor division matches the
    poolings' own rounding at an edge that is not a multiple of the stride."""
    top = (bounds[1] - bounds[0]) // stride
    bottom = bounds[2] // stride - bounds[0] // stride
    left = (bounds[4] - bounds[3]) // stride
    right = bounds[5] // stride - bounds[3] // stride
    return features[:, top:bottom, left:right, :]


def _global_rows(span: Span, stride: int) -> slice:
    """Where a tile's interior lies in the whole image's activations of a layer of that stride."""
    return slice(span.inner_start // stride, span.inner_end // stride)


def _raw_gram(features: tf.Tensor) -> tf.Tensor:
    flat = tf.reshape(features, (-1, tf.shape(features)[-1]))
    return tf.matmul(flat, flat, transpose_a=True)


class TiledFeatures:
    """Forward-only passes over tiles: interior Gram matrices summed over the image, and interior
    activations stitched into whole-image maps (the content targets)."""

    def __init__(self, extractor: tf.keras.Model, tile: int, halo: int) -> None:
        self.extractor = extractor
        self.tile = tile
        self.halo = halo
        signature = (tf.TensorSpec((1, None, None, 3), tf.float32), tf.TensorSpec((6,), tf.int32))
        self._interiors = tf.function(self._interiors_body, input_signature=signature)
        # Gram matrices computed in the graph: the large early activations never leave it.
        self._interior_grams = tf.function(self._interior_grams_body, input_signature=signature)

    def _interiors_body(self, tile_image: tf.Tensor, bounds: tf.Tensor) -> Dict[str, tf.Tensor]:
        features = self.extractor(tile_image)
        return {name: _interior(value, bounds, layer_stride(name)) for name, value in features.items()}

    def _interior_grams_body(self, tile_image: tf.Tensor, bounds: tf.Tensor) -> Dict[str, tf.Tensor]:
        return {name: _raw_gram(value) for name, value in self._interiors_body(tile_image, bounds).items()}

    def _tiles(self, image: tf.Tensor, function: Any):
        _, height, width, _ = image.shape
        for rows, columns in tile_grid(height, width, self.tile, self.halo):
            tile_image = image[:, rows.start:rows.end, columns.start:columns.end, :]
            yield rows, columns, function(tile_image, _bounds(rows, columns))

    def grams(self, image: tf.Tensor, layers: Sequence[str]) -> Tuple[Dict[str, tf.Tensor], Dict[str, float]]:
        """Unnormalised Gram matrices of the whole image at `layers`, and how many activations each sums
        (C*H*W of the whole image's activations)."""
        grams: Dict[str, tf.Tensor] = {}
        for _, _, tile_grams in self._tiles(image, self._interior_grams):
            for name in layers:
                grams[name] = tile_grams[name] if name not in grams else grams[name] + tile_grams[name]
        _, height, width, _ = image.shape
        counts = {name: float((height // layer_stride(name)) * (width // layer_stride(name)) * grams[name].shape[0])
                  for name in layers}
        return grams, counts

    def activations(self, image: tf.Tensor, layers: Sequence[str]) -> Dict[str, tf.Tensor]:
        """The whole image's activations at `layers`, stitched from the tiles' interiors."""
        _, height, width, _ = image.shape
        maps: Dict[str, np.ndarray] = {}
        for rows, columns, interiors in self._tiles(image, self._interiors):
            for name in layers:
                stride = layer_stride(name)
                if name not in maps:
                    channels = interiors[name].shape[-1]
                    maps[name] = np.zeros((1, height // stride, width // stride, channels), np.float32)
                maps[name][:, _global_rows(rows, stride), _global_rows(columns, stride), :] = (
                    interiors[name].numpy())
        return {name: tf.constant(value) for name, value in maps.items()}


def compute_tiled_targets(features: TiledFeatures, content_image: tf.Tensor, style_images: Sequence[tf.Tensor],
                          blend_weights: Sequence[float], content_layers: Sequence[str], style_layers: Sequence[str],
                          style_normalization: str = "mean") -> Targets:
    """`losses.compute_targets`, tile by tile: the same targets for images too large to run whole."""
    content = features.activations(content_image, content_layers)
    grams: Dict[str, tf.Tensor] = {}
    for image, weight in zip(style_images, blend_weights):
        raw, counts = features.grams(image, style_layers)
        for name in style_layers:
            gram = raw[name] / counts[name] if style_normalization == "mean" else raw[name]
            grams[name] = weight * gram if name not in grams else grams[name] + weight * gram
    return Targets(content=content, style_grams=grams)


class TiledObjective:
    """`losses.Objective`'s loss and gradient, evaluated tile by tile (see the module's docstring):
    the same `loss_and_gradient`, `terms` and `for_targets`, in memory that follows the tile size."""

    uses_xla = False  # tiles differ in shape (edges), and XLA would compile each shape anew

    def __init__(self, extractor: tf.keras.Model, targets: Targets, loss_weights: LossWeights,
                 style_layer_weights: Mapping[str, float], tile: int, halo: int = DEFAULT_HALO,
                 style_normalization: str = "mean") -> None:
        # The Gram pass reads the same tiles as the gradient pass, so in bfloat16 both round alike.
        self.features = TiledFeatures(extractor, tile, halo)
        self.extractor = extractor
        self.targets = targets
        self.loss_weights = loss_weights
        self.style_layer_weights = dict(style_layer_weights)
        self.style_normalization = style_normalization
        self.tile = tile
        self.halo = halo
        content_spec = {name: tf.TensorSpec((1, None, None, t.shape[-1]), t.dtype) for name, t in targets.content.items()}
        gram_spec = {name: tf.TensorSpec(g.shape, g.dtype) for name, g in targets.style_grams.items()}
        count_spec = {name: tf.TensorSpec((), tf.float32) for name in targets.content}
        self._tile_gradient = tf.function(self._tile_gradient_body, input_signature=(
            tf.TensorSpec((1, None, None, 3), tf.float32), tf.TensorSpec((6,), tf.int32),
            content_spec, count_spec, gram_spec))
        self._tv = tf.function(self._tv_body, input_signature=(tf.TensorSpec((1, None, None, 3), tf.float32),))

    def for_targets(self, targets: Targets) -> "TiledObjective":
        """This objective pulled towards other targets (another size): the traced functions are shared."""
        other = copy.copy(self)
        other.targets = targets
        return other

    def _tv_body(self, image: tf.Tensor) -> Tuple[tf.Tensor, tf.Tensor]:
        with tf.GradientTape() as tape:
            tape.watch(image)
            tv = self.loss_weights.tv * total_variation_loss(image)
        return tv, tape.gradient(tv, image)

    def _style(self, raw_grams: Dict[str, tf.Tensor], counts: Dict[str, float]
               ) -> Tuple[tf.Tensor, Dict[str, tf.Tensor]]:
        """The weighted style term from the whole image's Gram matrices, and its gradient with
        respect to each of them."""
        with tf.GradientTape() as tape:
            tape.watch(raw_grams)
            style = self.loss_weights.style * tf.add_n([
                self.style_layer_weights[name] * style_term(raw_grams[name], counts[name], target,
                                                             self.style_normalization)
                for name, target in self.targets.style_grams.items()])
        return style, tape.gradient(style, raw_grams)

    def _tile_gradient_body(self, tile_image: tf.Tensor, bounds: tf.Tensor, content_targets: Dict[str, tf.Tensor],
                            content_counts: Dict[str, tf.Tensor], style_upstream: Dict[str, tf.Tensor]):
        # One tile's share: its interior's content sum and Gram matrices, and the gradient of the
        # content sum plus <dS/dG, G_tile>.
        with tf.GradientTape() as tape:
            tape.watch(tile_image)
            features = self.extractor(tile_image)
            content = tf.add_n([
                tf.reduce_sum(tf.square(_interior(features[name], bounds, layer_stride(name))
                                        - self._target_rows(target, bounds, layer_stride(name))))
                / content_counts[name]
                for name, target in content_targets.items()])
            grams = {name: _raw_gram(_interior(features[name], bounds, layer_stride(name))) for name in style_upstream}
            style_share = tf.add_n([tf.reduce_sum(upstream * grams[name]) for name, upstream in style_upstream.items()])
            surrogate = self.loss_weights.content * content + style_share
        return self.loss_weights.content * content, grams, tape.gradient(surrogate, tile_image)

    @staticmethod
    def _target_rows(target: tf.Tensor, bounds: tf.Tensor, stride: int) -> tf.Tensor:
        return target[:, bounds[1] // stride:bounds[2] // stride, bounds[4] // stride:bounds[5] // stride, :]

    def _content_counts(self) -> Dict[str, tf.Tensor]:
        return {name: tf.constant(float(np.prod(t.shape)), tf.float32) for name, t in self.targets.content.items()}

    def loss_and_gradient(self, image: tf.Tensor):
        """(total loss, [content, style, tv] weighted terms, gradient w.r.t. the image), as
        `Objective.loss_and_gradient` gives them, from a forward pass over the tiles (the Gram
        matrices) and a forward and backward pass per tile."""
        _, height, width, _ = image.shape
        raw_grams, counts = self.features.grams(image, list(self.targets.style_grams))
        style, upstream = self._style(raw_grams, counts)
        content_counts = self._content_counts()
        gradient = np.zeros(image.shape, np.float32)
        content = 0.0
        grams: Dict[str, tf.Tensor] = {}
        for rows, columns in tile_grid(height, width, self.tile, self.halo):
            tile_image = image[:, rows.start:rows.end, columns.start:columns.end, :]
            tile_content, tile_grams, tile_gradient = self._tile_gradient(
                tile_image, _bounds(rows, columns), dict(self.targets.content), content_counts, upstream)
            content += float(tile_content)
            grams = tile_grams if not grams else {name: grams[name] + tile_grams[name] for name in grams}
            gradient[:, rows.start:rows.end, columns.start:columns.end, :] += tile_gradient.numpy()
        # The style term reported is that of the Gram matrices of the pass the gradient came from: in
        # bfloat16 the first pass's can differ by rounding, and a line search needs the loss and the
        # gradient of one and the same function.
        style, _ = self._style(grams, counts)
        tv, tv_gradient = self._tv(image)
        gradient += tv_gradient.numpy()
        content = tf.constant(content, tf.float32)
        total = content + style + tv
        return total, tf.stack([content, style, tv]), tf.constant(gradient)

    def terms(self, image: tf.Tensor, targets: Targets = None) -> Tuple[tf.Tensor, tf.Tensor, tf.Tensor]:
        """Weighted (content, style, tv) terms for a 1 x H x W x 3 network image."""
        objective = self if targets is None else self.for_targets(targets)
        _, terms, _ = objective.loss_and_gradient(image)
        return terms[0], terms[1], terms[2]


def compute_config_tiled_targets(config: "StyleConfig", extractor: "FeatureExtractor", content_pixels: np.ndarray,
                                 style_pixels: Sequence[np.ndarray], tile: int) -> Targets:
    """`losses.compute_config_targets`, tile by tile."""
    from neural_style.features.network_input import preprocess

    features = TiledFeatures(extractor.model, tile, config.tile_halo)
    return compute_tiled_targets(
        features, tf.constant(preprocess(content_pixels)), [tf.constant(preprocess(s)) for s in style_pixels],
        config.resolved_blend_weights(), config.content_layers, config.style_layers, config.style_normalization,
    )


def build_tiled_objective(config: "StyleConfig", extractor: "FeatureExtractor", content_pixels: np.ndarray,
                          style_pixels: Sequence[np.ndarray], tile: int) -> TiledObjective:
    """`losses.build_objective`, evaluated in `tile` px tiles with `config.tile_halo`."""
    return TiledObjective(
        extractor.model, compute_config_tiled_targets(config, extractor, content_pixels, style_pixels, tile),
        config.resolved_loss_weights(), dict(zip(config.style_layers, config.resolved_style_layer_weights())),
        tile, config.tile_halo, config.style_normalization,
    )


__all__ = ["build_tiled_objective", "compute_config_tiled_targets", "ALIGNMENT", "DEFAULT_HALO", "Span", "TiledFeatures", "TiledObjective", "axis_spans",
           "compute_tiled_targets", "layer_stride", "tile_grid"]
