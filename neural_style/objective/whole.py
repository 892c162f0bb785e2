"""The objective evaluated on the whole image: every in-graph term and the gradient of their weighted sum
from one forward and one backward pass, in one traced (or XLA-compiled) function. Its sibling, tiled.py, gives
the same evaluation tile by tile; both implement evaluation.TermObjective."""

from __future__ import annotations

from typing import Callable, Dict, List, Mapping, Optional, Sequence, Tuple

import tensorflow as tf

from neural_style.objective.evaluation import (Evaluation, Guides, Statistics, Targets, TermObjective,
                                               add_beside_terms, guide_signature)
from neural_style.objective.loss_scale import LossScale, scaled, unscaled
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
                 guides: Optional[Guides] = None, loss_scale: Optional[LossScale] = None,
                 notify: Callable[[str], None] = lambda text: None) -> None:
        super().__init__(extractor, terms, targets, guides)
        self._reads_features = any(term.layers for term in self.traced_terms)
        self.loss_scale = loss_scale or LossScale(False)
        signature = (tf.TensorSpec((1, None, None, 3), tf.float32), self._target_signature(targets),
                     guide_signature(self.guides), tf.TensorSpec((), tf.float32))
        self._graph_function = tf.function(self._loss_and_gradient_body, input_signature=signature)
        self._xla = XlaCompiled(self._xla_compiled(signature) if xla else None, notify)

    def _xla_compiled(self, signature: tuple) -> Callable:
        """The body XLA-compiled (compiled at its first call, where it can fail)."""
        return tf.function(self._loss_and_gradient_body, input_signature=signature, jit_compile=True)

    def _target_signature(self, targets: Targets) -> Dict[str, Dict[str, tf.TensorSpec]]:
        return {term.name: {name: term.target_spec(tensor) for name, tensor in targets[term.name].items()}
                for term in self.traced_terms if term.name in targets}

    @property
    def uses_xla(self) -> bool:
        """Whether evaluations run XLA-compiled (False once XLA failed on this platform)."""
        return self._xla.function is not None

    def _values(self, image: tf.Tensor, targets: Mapping[str, LayerTensors], guides: Guides) -> List[tf.Tensor]:
        features = self.extractor(image) if self._reads_features else {}
        return [term.weighted(image, features, targets.get(term.name, {}), guides.get(term.name))
                for term in self.traced_terms]

    def _loss_and_gradient_body(self, image: tf.Tensor, targets: Mapping[str, LayerTensors], guides: Guides,
                                scale: tf.Tensor):
        # The Python body that tf.function traces into a graph (or XLA compiles). `scale` is the loss scale of a
        # float16 evaluation (loss_scale.py); in float32 and bfloat16 it is not applied.
        enabled = self.loss_scale.enabled
        with tf.GradientTape() as tape:
            tape.watch(image)
            values = self._values(image, targets, guides)
            total = add_in_order(values)
            surrogate = scaled(total, scale, enabled)
        return total, tf.stack(values), unscaled(tape.gradient(surrogate, image), scale, enabled)

    def loss_and_gradient(self, image: tf.Tensor) -> Evaluation:
        while True:
            # The traced terms' targets: build_targets makes no others.
            arguments = (image, self.targets, self.guides, self.loss_scale.tensor())
            result = self._xla(*arguments)
            if result is None:
                result = self._graph_function(*arguments)
            if self.loss_scale.accepts(result[2]):
                return add_beside_terms(Evaluation(*result), self.beside_terms, image)


class XlaCompiled:
    """An objective's XLA-compiled evaluation, shared by its copies (with_targets) and dropped for good at its first
    failure (XLA is what fails first on a new GPU architecture: a PTX or an unimplemented-op error), which is said
    once; the plain graph goes on. Running out of memory is not XLA's failure: it is the caller's to handle."""

    def __init__(self, function: Optional[Callable], notify: Callable[[str], None]) -> None:
        self.function = function
        self.notify = notify

    def __call__(self, *arguments: object) -> Optional[tuple]:
        if self.function is None:
            return None
        try:
            return self.function(*arguments)
        except tf.errors.ResourceExhaustedError:
            raise
        except tf.errors.OpError as error:
            self.function = None
            reason = (str(error.message) or type(error).__name__).strip().splitlines()[0][:160]
            self.notify(f"XLA could not compile the objective here ({type(error).__name__}: {reason}); going on with "
                        "the plain graph")
            return None


__all__ = ["Objective", "WholeFeatures", "XlaCompiled"]
