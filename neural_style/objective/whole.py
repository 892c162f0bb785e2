"""The objective evaluated on the whole image: every in-graph term and the gradient of their weighted sum
from one forward and one backward pass, in one traced (or XLA-compiled) function. Its sibling, tiled.py, gives
the same evaluation tile by tile; both implement evaluation.TermObjective."""

from __future__ import annotations

from typing import Dict, List, Mapping, Optional, Sequence, Tuple

import tensorflow as tf

from neural_style.objective.evaluation import (Evaluation, Guides, Statistics, Targets, TermObjective,
                                               add_beside_terms, guide_signature)
from neural_style.objective.terms import LayerTensors, Term, activation_count, add_in_order, layer_guide


class WholeFeatures:
    """The features of whole images (evaluation.FeatureSource): the network run once per image."""

    def __init__(self, extractor: tf.keras.Model) -> None:
        self.extractor = extractor

    def activations(self, image: tf.Tensor, layers: Sequence[str]) -> Dict[str, tf.Tensor]:
        features = self.extractor(image)
        return {name: tf.constant(features[name]) for name in layers}

    def statistics(self, image: tf.Tensor, terms: Sequence[Term], guides: Mapping[str, tf.Tensor]
                   ) -> Tuple[Statistics, Statistics]:
        features = self.extractor(image)
        statistics = {term.name: {name: term.statistics(features[name], layer_guide(guides.get(term.name), name))
                                  for name in term.layers} for term in terms}
        counts = {term.name: {name: activation_count(features[name]) for name in term.layers} for term in terms}
        return statistics, counts


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


__all__ = ["Objective", "WholeFeatures"]
