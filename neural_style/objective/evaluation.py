"""What every evaluation of the objective is, whole (whole.py) or in tiles (tiled.py): the interface
(`TermObjective.loss_and_gradient(image) -> Evaluation`), the targets and guides it is given, the terms evaluated
beside the traced function, and the one computation of the targets from a source of features (`compute_targets`:
the content's activations for the position terms; the style images' statistics, blended, for the statistics terms).
"""

from __future__ import annotations

import copy
from typing import Any, Dict, Mapping, NamedTuple, Optional, Protocol, Sequence, Tuple

from keras import ops

from neural_style.objective.terms import POSITIONS, STATISTICS, LayerTensors, Term

# What the objective is pulled towards: {term name: {layer name: tensor}} for the terms that read features.
Targets = Dict[str, LayerTensors]
# Where on an image guided terms apply: {term name: 1 x H x W x K weights at the image's resolution}.
Guides = Dict[str, Any]
# A statistics term's sums over one image, and the number of activations they ran over: {term: {layer: value}}.
Statistics = Dict[str, Dict[str, Any]]


class Evaluation(NamedTuple):
    """One evaluation: the total loss, the weighted terms stacked in the objective's order, the gradient
    with respect to the image."""

    total: Any
    terms: Any
    gradient: Any


class FeatureSource(Protocol):
    """Where targets read an image's features from: the network on the whole image (whole.WholeFeatures), or tile by
    tile (tiled.TiledFeatures), with the same results up to rounding."""

    def activations(self, image: Any, layers: Sequence[str]) -> Dict[str, Any]:
        """The image's activations at `layers`."""

    def statistics(self, image: Any, terms: Sequence[Term], guides: Mapping[str, Any]
                   ) -> Tuple[Statistics, Statistics]:
        """Each of the statistics `terms`' statistics of the image at each of its layers (through its guide, where
        it has one), and each layer's number of activations (C*H*W)."""


def compute_targets(source: FeatureSource, terms: Sequence[Term], content_image: Any,
                    style_images: Sequence[Any], blend_weights: Sequence[float],
                    style_guides: Optional[Sequence[Guides]] = None) -> Targets:
    """The targets of `terms`: position terms read the content image's activations; statistics terms the style
    images' statistics (through each style image's guides, where a term has one), each style's contribution weighted
    by its blend weight and summed, then finished (StatisticsTerm.finish_target)."""
    targets: Targets = {}
    position_terms = [term for term in terms if term.split == POSITIONS]
    if position_terms:
        activations = source.activations(content_image, sorted({name for t in position_terms for name in t.layers}))
        for term in position_terms:
            targets[term.name] = {name: activations[name] for name in term.layers}
    statistics_terms = [term for term in terms if term.split == STATISTICS]
    blended: Dict[str, Dict[str, Any]] = {term.name: {} for term in statistics_terms}
    if statistics_terms:
        for index, (image, weight) in enumerate(zip(style_images, blend_weights)):
            statistics, counts = source.statistics(image, statistics_terms, style_guides[index] if style_guides else {})
            for term in statistics_terms:
                layers = blended[term.name]
                for name in term.layers:
                    value = weight * term.target_from_statistics(statistics[term.name][name], counts[term.name][name])
                    layers[name] = value if name not in layers else layers[name] + value
    for term in statistics_terms:
        targets[term.name] = {name: term.finish_target(value) for name, value in blended[term.name].items()}
    return targets


class TermObjective:
    """What every objective is: the weighted sum of a list of terms and its gradient, evaluated by
    `loss_and_gradient` (the whole image at once, or tile by tile). Terms that are not `in_graph` (the temporal
    term) are evaluated beside the traced function and may change from one `with_targets` to the next."""

    uses_xla = False

    def __init__(self, extractor: Any, terms: Sequence[Term], targets: Targets,
                 guides: Optional[Guides] = None) -> None:
        self.extractor = extractor
        self.traced_terms: Tuple[Term, ...] = tuple(term for term in terms if term.in_graph)
        self.beside_terms: Tuple[Term, ...] = tuple(term for term in terms if not term.in_graph)
        self.targets = targets
        self.guides: Guides = dict(guides or {})

    @property
    def terms(self) -> Tuple[Term, ...]:
        return self.traced_terms + self.beside_terms

    @property
    def names(self) -> Tuple[str, ...]:
        """The terms' names, in the order of `Evaluation.terms`."""
        return tuple(term.name for term in self.terms)

    def with_targets(self, targets: Targets, beside_terms: Sequence[Term] = (),
                     guides: Optional[Guides] = None) -> "TermObjective":
        """This objective pulled towards other targets (of the same terms and layers), with these terms beside
        the traced function, and these guides (of the same terms, at the new image's size): the traced functions
        are shared, so a new image size costs no new trace."""
        other = copy.copy(self)
        other.targets = targets
        other.beside_terms = tuple(beside_terms)
        other.guides = dict(guides or {})
        return other

    def loss_and_gradient(self, image: Any) -> Evaluation:
        """The total loss, the weighted terms and the gradient with respect to a 1 x H x W x 3 network image."""
        raise NotImplementedError

    def term_values(self, image: Any) -> Dict[str, Any]:
        """The weighted terms of a 1 x H x W x 3 network image, by name."""
        return dict(zip(self.names, ops.unstack(self.loss_and_gradient(image).terms)))


def add_beside_terms(evaluation: Evaluation, terms: Sequence[Term], image: Any) -> Evaluation:
    """`evaluation` with the terms evaluated beside the traced function added: to the total, after the
    other terms, and to the gradient. A term of weight 0 adds nothing (and costs nothing)."""
    total, values, gradient = evaluation
    for term in terms:
        if term.weight == 0:
            value = ops.convert_to_tensor(0.0, "float32")
        else:
            value, term_gradient = term.loss_and_gradient(image)
            total, gradient = total + value, gradient + term_gradient
        values = ops.concatenate([values, ops.reshape(ops.cast(value, values.dtype), (1,))], 0)
    return Evaluation(total, values, gradient)


__all__ = ["Evaluation", "FeatureSource", "Guides", "Statistics", "Targets", "TermObjective", "add_beside_terms",
           "compute_targets"]
