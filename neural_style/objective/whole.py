"""The objective evaluated on the whole image: every in-graph term and the gradient of their weighted sum
from one forward and one backward pass, in one traced (or XLA-compiled) function."""

from __future__ import annotations

import copy
from typing import Dict, List, Mapping, NamedTuple, Optional, Sequence, Tuple

import tensorflow as tf

from neural_style.objective.terms import (POSITIONS, STATISTICS, LayerTensors, Term, activation_count, add_in_order,
                                          layer_guide)

# What the objective is pulled towards: {term name: {layer name: tensor}} for the terms that read features.
Targets = Dict[str, LayerTensors]
# Where on an image guided terms apply: {term name: 1 x H x W x K weights at the image's resolution}.
Guides = Dict[str, tf.Tensor]


class Evaluation(NamedTuple):
    """One evaluation: the total loss, the weighted terms stacked in the objective's order, the gradient
    with respect to the image."""

    total: tf.Tensor
    terms: tf.Tensor
    gradient: tf.Tensor


def compute_targets(extractor: tf.keras.Model, terms: Sequence[Term], content_image: tf.Tensor,
                    style_images: Sequence[tf.Tensor], blend_weights: Sequence[float],
                    style_guides: Optional[Sequence[Guides]] = None) -> Targets:
    """Run the network once on the content image and once per style image: position terms read the
    content image's activations, statistics terms the style images' statistics (through each style image's
    guides, where a term has one), blended."""
    targets: Dict[str, Dict[str, tf.Tensor]] = {}
    position_terms = [term for term in terms if term.split == POSITIONS]
    if position_terms:
        features = extractor(content_image)
        for term in position_terms:
            targets[term.name] = {name: tf.constant(features[name]) for name in term.layers}
    statistics_terms = [term for term in terms if term.split == STATISTICS]
    blended: Dict[str, Dict[str, tf.Tensor]] = {term.name: {} for term in statistics_terms}
    if statistics_terms:
        for index, (image, weight) in enumerate(zip(style_images, blend_weights)):
            features = extractor(image)
            guides = style_guides[index] if style_guides else {}
            for term in statistics_terms:
                for name in term.layers:
                    statistics = term.statistics(features[name], layer_guide(guides.get(term.name), name))
                    value = weight * term.target_from_statistics(statistics, activation_count(features[name]))
                    layers = blended[term.name]
                    layers[name] = value if name not in layers else layers[name] + value
    finish = {term.name: term.finish_target for term in statistics_terms}
    targets.update({term: {name: tf.constant(finish[term](value)) for name, value in layers.items()}
                    for term, layers in blended.items()})
    return targets


class TermObjective:
    """What every objective is: the weighted sum of a list of terms and its gradient, evaluated by
    `loss_and_gradient` (the whole image at once, or tile by tile). Terms that are not `in_graph` (the temporal
    term) are evaluated beside the traced function and may change from one `with_targets` to the next."""

    uses_xla = False

    def __init__(self, extractor: tf.keras.Model, terms: Sequence[Term], targets: Targets,
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

    def loss_and_gradient(self, image: tf.Tensor) -> Evaluation:
        """The total loss, the weighted terms and the gradient with respect to a 1 x H x W x 3 network image."""
        raise NotImplementedError

    def term_values(self, image: tf.Tensor) -> Dict[str, tf.Tensor]:
        """The weighted terms of a 1 x H x W x 3 network image, by name."""
        return dict(zip(self.names, tf.unstack(self.loss_and_gradient(image).terms)))


class Objective(TermObjective):
    """The objective evaluated on the whole image, in one traced (or XLA-compiled) function.

    The targets are arguments of the traced function, not constants inside it, and image sizes are left
    open, so `with_targets` gives the objective at another image size (a coarse-to-fine scale, a video frame)
    that reuses the traced function instead of tracing it again.
    """

    def __init__(self, extractor: tf.keras.Model, terms: Sequence[Term], targets: Targets, xla: bool = False,
                 guides: Optional[Guides] = None) -> None:
        super().__init__(extractor, terms, targets, guides)
        self._reads_features = any(term.layers for term in self.traced_terms)
        signature = (tf.TensorSpec((1, None, None, 3), tf.float32), self._target_signature(targets),
                     guide_signature(self.guides))
        self._graph_function = tf.function(self._loss_and_gradient_body, input_signature=signature)
        self._xla_function = (tf.function(self._loss_and_gradient_body, input_signature=signature, jit_compile=True)
                              if xla else None)

    def _target_signature(self, targets: Targets) -> Dict[str, Dict[str, tf.TensorSpec]]:
        return {term.name: {name: term.target_spec(tensor) for name, tensor in targets[term.name].items()}
                for term in self.traced_terms if term.name in targets}

    @property
    def uses_xla(self) -> bool:
        """Whether evaluations run XLA-compiled (False once XLA failed on this platform)."""
        return self._xla_function is not None

    def _values(self, image: tf.Tensor, targets: Mapping[str, LayerTensors], guides: Guides) -> List[tf.Tensor]:
        features = self.extractor(image) if self._reads_features else {}
        return [term.weighted(image, features, targets.get(term.name, {}), guides.get(term.name))
                for term in self.traced_terms]

    def _loss_and_gradient_body(self, image: tf.Tensor, targets: Mapping[str, LayerTensors], guides: Guides):
        # The Python body that tf.function traces into a graph (or XLA compiles).
        with tf.GradientTape() as tape:
            tape.watch(image)
            values = self._values(image, targets, guides)
            total = add_in_order(values)
        return total, tf.stack(values), tape.gradient(total, image)

    def loss_and_gradient(self, image: tf.Tensor) -> Evaluation:
        arguments = (image, self.targets, self.guides)  # the traced terms' targets: build_targets makes no others
        result = None
        if self._xla_function is not None:
            try:
                result = self._xla_function(*arguments)
            except (tf.errors.UnimplementedError, tf.errors.InvalidArgumentError, tf.errors.NotFoundError):
                self._xla_function = None  # this platform cannot XLA-compile it: use the plain graph
        if result is None:
            result = self._graph_function(*arguments)
        return add_beside_terms(Evaluation(*result), self.beside_terms, image)


def guide_signature(guides: Guides) -> Dict[str, tf.TensorSpec]:
    """The traced functions' spec of guides: sizes left open, like the image's."""
    return {name: tf.TensorSpec((1, None, None, guide.shape[-1]), tf.float32) for name, guide in guides.items()}


def add_beside_terms(evaluation: Evaluation, terms: Sequence[Term], image: tf.Tensor) -> Evaluation:
    """`evaluation` with the terms evaluated beside the traced function added: to the total, after the
    other terms, and to the gradient. A term of weight 0 adds nothing (and costs nothing)."""
    total, values, gradient = evaluation
    for term in terms:
        if term.weight == 0:
            value = tf.constant(0.0, tf.float32)
        else:
            value, term_gradient = term.loss_and_gradient(image)
            total, gradient = total + value, gradient + term_gradient
        values = tf.concat([values, tf.reshape(value, (1,))], 0)
    return Evaluation(total, values, gradient)


__all__ = ["Evaluation", "Guides", "Objective", "Targets", "TermObjective", "add_beside_terms", "compute_targets",
           "guide_signature"]
