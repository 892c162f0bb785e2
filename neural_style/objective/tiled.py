"""Tiled evaluation of the exact objective: memory follows the tile, not the image.

The image is cut into tiles whose borders fall on multiples of 16 px (so VGG19's four 2x poolings see
the same windows as on the whole image), each read with a halo of context around it. Only a tile's
interior activations enter Gram matrices and losses; its input gradient, halo included, is added into
the whole image's gradient.

Each term says how it splits (terms.py):
- STATISTICS terms (the Gram style term; means and covariances): the statistics are sums over positions, so
  the whole image's are the sum of the interiors' (a forward-only pass over the tiles). The loss's gradient
  with respect to them, held fixed, then gives each tile's exact share of the gradient in a second, forward
  and backward, pass: the gradient of <dL/dS, S_tile>.
- POSITIONS terms (content): a sum over positions, split over the interiors directly.
- IMAGE terms (total variation): cheap and local, computed on the whole image at once.

Guides (masks) are cut into tiles with the image, read at each layer's resolution and cut to the interior
like the activations: tiles start on multiples of 16 px, so a layer's averaging windows fall where they do on
the whole image.

With a halo as wide as half the receptive field of the deepest layer (VGG19's conv5_1 sees 156 px) the
tiled loss and gradient equal the whole image's up to rounding; a narrower halo trades a small error in
the activations near tile borders for less recomputation (the default is measured, see config.DEFAULT_TILE_HALO).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Dict, List, Mapping, Optional, Sequence, Tuple

import keras
import numpy as np
from keras import ops

from neural_style import backends
from neural_style.config import TILE_ALIGNMENT
from neural_style.features.vgg19 import layer_stride
from neural_style.objective.evaluation import Evaluation, Guides, Statistics, Targets, TermObjective, add_beside_terms
from neural_style.objective.loss_scale import LossScale, scaled, unscaled
from neural_style.objective.terms import IMAGE, POSITIONS, STATISTICS, Term, add_in_order, layer_guide


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
    if tile % TILE_ALIGNMENT or halo % TILE_ALIGNMENT or tile <= 0 or halo < 0:
        raise ValueError(f"tile ({tile}) and halo ({halo}) must be multiples of {TILE_ALIGNMENT}, tile > 0")
    count = -(-length // tile)
    step = -(-length // (count * TILE_ALIGNMENT)) * TILE_ALIGNMENT  # the even share, rounded up to a multiple of 16
    starts = [index * step for index in range(count) if index * step < length]
    ends = starts[1:] + [length]
    return [Span(max(0, start - halo), start, end, min(length, end + halo)) for start, end in zip(starts, ends)]


def tile_grid(height: int, width: int, tile: int, halo: int) -> List[Tuple[Span, Span]]:
    """Every (rows, columns) tile of a height x width image, row by row."""
    return [(rows, columns) for rows in axis_spans(height, tile, halo) for columns in axis_spans(width, tile, halo)]


def _bounds(rows: Span, columns: Span) -> Any:
    # As the backend's traced functions take them: a tensor (one TensorFlow trace for every tile), or Python numbers
    # (static for JAX, whose slices must have known sizes).
    return backends.active().tile_bounds((rows.start, rows.inner_start, rows.inner_end,
                                          columns.start, columns.inner_start, columns.inner_end))


def _interior(features: Any, bounds: Any, stride: int) -> Any:
    """The activations of a tile's interior, from the tile's activations of a layer of that stride.
    Interior borders are multiples of 16 px or the image's edge; floor division matches the
    poolings' own rounding at an edge that is not a multiple of the stride."""
    top = (bounds[1] - bounds[0]) // stride
    bottom = bounds[2] // stride - bounds[0] // stride
    left = (bounds[4] - bounds[3]) // stride
    right = bounds[5] // stride - bounds[3] // stride
    return features[:, top:bottom, left:right, :]


def _interior_target(target: Any, bounds: Any, stride: int) -> Any:
    """Where a tile's interior lies in a whole-image activation map of a layer of that stride."""
    return target[:, bounds[1] // stride:bounds[2] // stride, bounds[4] // stride:bounds[5] // stride, :]


def _tile_guides(guides: Guides, rows: Span, columns: Span) -> Guides:
    """A tile's part of each guide (the pixels the tile reads, halo included)."""
    return {name: guide[:, rows.start:rows.end, columns.start:columns.end, :] for name, guide in guides.items()}


def _interior_statistics(term: Term, interiors: Mapping[str, Any], tile_guides: Guides, bounds: Any
                         ) -> Dict[str, Any]:
    """A statistics term's statistics of a tile's interior, at each of its layers, through its guide if it has one."""
    guide = tile_guides.get(term.name)
    return {name: term.statistics(interiors[name], None if guide is None else
                                  _interior(layer_guide(guide, name), bounds, layer_stride(name)))
            for name in term.layers}


def _global_rows(span: Span, stride: int) -> slice:
    """Where a tile's interior lies in the whole image's activations of a layer of that stride."""
    return slice(span.inner_start // stride, span.inner_end // stride)


def _add(total: Any, part: Any) -> Any:
    return part if total is None else keras.tree.map_structure(lambda a, b: a + b, total, part)


class TiledFeatures:
    """Forward-only passes over tiles (evaluation.FeatureSource): the statistics terms' statistics summed over the
    image, and interior activations stitched into whole-image maps (the position terms' targets)."""

    def __init__(self, extractor: Any, statistics_terms: Sequence[Term], tile: int, halo: int) -> None:
        self.extractor = extractor
        self.statistics_terms = tuple(statistics_terms)
        self.tile = tile
        self.halo = halo
        variables = tuple(extractor.variables)
        self._interiors = backends.forward_function(self._interiors_body, "graph", (1,), variables)
        # Statistics computed in the graph: the large early activations never leave it.
        self._interior_statistics = backends.forward_function(self._interior_statistics_body, "graph", (1,),
                                                              variables)

    def _interiors_body(self, tile_image: Any, bounds: Any) -> Dict[str, Any]:
        features = self.extractor(tile_image)
        return {name: _interior(value, bounds, layer_stride(name)) for name, value in features.items()}

    def _interior_statistics_body(self, tile_image: Any, bounds: Any, tile_guides: Guides
                                  ) -> Dict[str, Dict[str, Any]]:
        interiors = self._interiors_body(tile_image, bounds)
        return {term.name: _interior_statistics(term, interiors, tile_guides, bounds) for term in self.statistics_terms}

    def _tiles(self, image: Any, function: Callable, guides: Optional[Guides] = None):
        _, height, width, _ = image.shape
        for rows, columns in tile_grid(height, width, self.tile, self.halo):
            tile_image = image[:, rows.start:rows.end, columns.start:columns.end, :]
            extra = () if guides is None else (_tile_guides(guides, rows, columns),)
            yield rows, columns, function(tile_image, _bounds(rows, columns), *extra)

    def sums(self, image: Any, guides: Optional[Guides] = None) -> Dict[str, Dict[str, Any]]:
        """Each statistics term's statistics of the whole image (through its guide, if it has one), by term and
        layer."""
        total = None
        for _, _, tile_statistics in self._tiles(image, self._interior_statistics, dict(guides or {})):
            total = _add(total, tile_statistics)
        return total

    def statistics(self, image: Any, terms: Sequence[Term], guides: Mapping[str, Any]
                   ) -> Tuple[Statistics, Statistics]:
        """This source's statistics terms' statistics of the image, and each layer's number of activations."""
        assert tuple(terms) == self.statistics_terms, "tiled features are traced for their own statistics terms"
        sums = self.sums(image, dict(guides))
        _, height, width, _ = image.shape
        counts = {term.name: activation_counts(height, width, term.layers, _channels(sums[term.name], term))
                  for term in terms}
        return sums, counts

    def activations(self, image: Any, layers: Sequence[str]) -> Dict[str, Any]:
        """The whole image's activations at `layers`, stitched from the tiles' interiors."""
        _, height, width, _ = image.shape
        maps: Dict[str, np.ndarray] = {}
        for rows, columns, interiors in self._tiles(image, self._interiors):
            for name in layers:
                stride = layer_stride(name)
                if name not in maps:
                    channels = interiors[name].shape[-1]
                    maps[name] = np.zeros((1, height // stride, width // stride, channels), np.float32)
                maps[name][:, _global_rows(rows, stride), _global_rows(columns, stride), :] = ops.convert_to_numpy(
                    interiors[name])
        return {name: ops.convert_to_tensor(value) for name, value in maps.items()}


def activation_counts(height: int, width: int, layers: Sequence[str], channels: Mapping[str, int]) -> Dict[str, float]:
    """How many activations (C*H*W) each layer of a height x width image has."""
    return {name: float((height // layer_stride(name)) * (width // layer_stride(name)) * channels[name])
            for name in layers}


def _channels(statistics: Mapping[str, Any], term: Term) -> Dict[str, int]:
    # A statistics tensor's last axis is the layer's channel count (a Gram matrix is C x C).
    return {name: int(keras.tree.flatten(statistics[name])[0].shape[-1]) for name in term.layers}


class TiledObjective(TermObjective):
    """The whole image's loss and gradient (whole.Objective's), evaluated tile by tile (see the module's docstring), in memory that
    follows the tile size. No XLA on TensorFlow: tiles differ in shape (edges), and XLA would compile each shape
    anew (JAX, whose only compiler is XLA, does: once per tile shape)."""

    def __init__(self, extractor: Any, terms: Sequence[Term], targets: Targets, tile: int, halo: int,
                 guides: Optional[Guides] = None, loss_scale: Optional[LossScale] = None) -> None:
        super().__init__(extractor, terms, targets, guides)
        self.loss_scale = loss_scale or LossScale(False)
        traced = self.traced_terms
        self.position_terms = [term for term in traced if term.split == POSITIONS]
        self.statistics_terms = [term for term in traced if term.split == STATISTICS]
        self.image_terms = [term for term in traced if term.split == IMAGE]
        # The statistics pass reads the same tiles as the gradient pass, so in bfloat16 both round alike.
        self.features = TiledFeatures(extractor, self.statistics_terms, tile, halo)
        self.tile = tile
        self.halo = halo
        variables = tuple(extractor.variables)
        self._tile_gradient = backends.gradient_function(self._tile_gradient_body, "graph", (1,), variables)
        self._image_terms = backends.gradient_function(self._image_terms_body, "graph")
        self._statistics_gradient = backends.gradient_function(self._statistics_body)

    def _image_terms_body(self, image: Any) -> Tuple[Any, List[Any]]:
        values = [term.weighted(image, {}, {}) for term in self.image_terms]
        return add_in_order(values), values

    def _statistics_body(self, statistics: Dict[str, Any], counts: Dict[str, float], term_index: int
                         ) -> Tuple[Any, Tuple]:
        term = self.statistics_terms[term_index]
        return term.weight * term.from_statistics(statistics, counts, self.targets[term.name]), ()

    def _statistics_values(self, statistics: Dict[str, Dict[str, Any]], counts: Dict[str, Dict[str, float]]
                           ) -> Tuple[Dict[str, Any], Dict[str, Any]]:
        """Each statistics term's weighted value from the whole image's statistics, and its gradient with
        respect to them."""
        values, upstream = {}, {}
        for index, term in enumerate(self.statistics_terms):
            values[term.name], _, upstream[term.name] = self._statistics_gradient(
                statistics[term.name], counts[term.name], index)
        return values, upstream

    def _tile_gradient_body(self, tile_image: Any, bounds: Any, position_targets: Dict[str, Dict],
                            position_counts: Dict[str, Dict], upstream: Dict[str, Dict], tile_guides: Guides,
                            scale: Any):
        # One tile's share: each position term's weighted share, its interior's statistics, and (differentiated)
        # the position shares plus <dL/dS, S_tile> for every statistics term.
        features = self.extractor(tile_image)
        interiors = {name: _interior(value, bounds, layer_stride(name)) for name, value in features.items()}
        shares = {}
        for term in self.position_terms:
            sums = {name: term.interior_sum(interiors[name], _interior_target(target, bounds, layer_stride(name)))
                    for name, target in position_targets[term.name].items()}
            shares[term.name] = term.weight * term.from_sums(sums, position_counts[term.name])
        statistics = {term.name: _interior_statistics(term, interiors, tile_guides, bounds)
                      for term in self.statistics_terms}
        parts = [ops.sum(up * s) for term in self.statistics_terms
                 for up, s in zip(keras.tree.flatten(upstream[term.name]), keras.tree.flatten(statistics[term.name]))]
        surrogate = add_in_order(list(shares.values()) + ([add_in_order(parts)] if parts else []))
        return scaled(surrogate, scale, self.loss_scale.enabled), (shares, statistics)  # float16: loss_scale.py

    def _position_counts(self) -> Dict[str, Dict[str, Any]]:
        return {term.name: {name: ops.convert_to_tensor(float(np.prod(t.shape)), "float32")
                            for name, t in self.targets[term.name].items()} for term in self.position_terms}

    def loss_and_gradient(self, image: Any) -> Evaluation:
        """As `whole.Objective.loss_and_gradient` gives it, from a forward pass over the tiles (the statistics)
        and a forward and backward pass per tile (again, where a float16 gradient overflowed its loss scale)."""
        while True:
            evaluation = self._evaluate(image, self.loss_scale.tensor())
            if self.loss_scale.accepts(evaluation.gradient):
                return add_beside_terms(evaluation, self.beside_terms, image)

    def _evaluate(self, image: Any, scale: Any) -> Evaluation:
        _, height, width, _ = image.shape
        counts: Dict[str, Dict[str, float]] = {}
        upstream: Dict[str, Any] = {}
        if self.statistics_terms:
            first_pass = self.features.sums(image, self.guides)
            counts = {term.name: activation_counts(height, width, term.layers, _channels(first_pass[term.name], term))
                      for term in self.statistics_terms}
            _, upstream = self._statistics_values(first_pass, counts)
        position_targets = {term.name: dict(self.targets[term.name]) for term in self.position_terms}
        position_counts = self._position_counts()
        gradient = np.zeros(image.shape, np.float32)
        shares = {term.name: 0.0 for term in self.position_terms}
        statistics = None
        for rows, columns in tile_grid(height, width, self.tile, self.halo):
            tile_image = image[:, rows.start:rows.end, columns.start:columns.end, :]
            _, (tile_shares, tile_statistics), tile_gradient = self._tile_gradient(
                tile_image, _bounds(rows, columns), position_targets, position_counts, upstream,
                _tile_guides(self.guides, rows, columns), scale)
            tile_gradient = unscaled(tile_gradient, scale, self.loss_scale.enabled)
            for name, value in tile_shares.items():
                shares[name] += float(value)
            statistics = _add(statistics, tile_statistics)
            gradient[:, rows.start:rows.end, columns.start:columns.end, :] += ops.convert_to_numpy(tile_gradient)
        # A statistics term reported is that of the statistics of the pass the gradient came from: in bfloat16
        # the first pass's can differ by rounding, and a line search needs the loss and the gradient of one and
        # the same function.
        statistics_values = self._statistics_values(statistics, counts)[0] if self.statistics_terms else {}
        image_values: Dict[str, Any] = {}
        if self.image_terms:
            _, values, image_gradient = self._image_terms(image)
            image_values = dict(zip((term.name for term in self.image_terms), values))
            gradient += ops.convert_to_numpy(image_gradient)
        by_name = {**{name: ops.convert_to_tensor(value, "float32") for name, value in shares.items()}, **statistics_values,
                   **image_values}
        values = [by_name[term.name] for term in self.traced_terms]
        return Evaluation(add_in_order(values), ops.stack(values), ops.convert_to_tensor(gradient))


__all__ = ["Span", "TiledFeatures", "TiledObjective", "activation_counts", "axis_spans", "tile_grid"]
