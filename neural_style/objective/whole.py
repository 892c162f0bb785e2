"""The objective evaluated on the whole image: every in-graph term and the gradient of their weighted sum
from one forward and one backward pass, in one traced (or XLA-compiled) function. Its sibling, tiled.py, gives
the same evaluation tile by tile; both implement evaluation.TermObjective."""

from __future__ import annotations

from typing import Any, Callable, Dict, List, Mapping, Optional, Sequence, Tuple

from keras import ops

from neural_style import backends
from neural_style.objective.evaluation import Evaluation, Guides, Statistics, Targets, TermObjective, add_beside_terms
from neural_style.objective.loss_scale import LossScale, scaled, unscaled
from neural_style.objective.terms import (LayerTensors, Term, activation_count, add_in_order, at_least_float32,
                                         layer_guide)


class WholeFeatures:
    """The features of whole images (evaluation.FeatureSource): the network run once per image."""

    def __init__(self, extractor: Any) -> None:
        self.extractor = extractor

    def activations(self, image: Any, layers: Sequence[str]) -> Dict[str, Any]:
        features = self.extractor(image)
        return {name: ops.stop_gradient(at_least_float32(features[name])) for name in layers}

    def statistics(self, image: Any, terms: Sequence[Term], guides: Mapping[str, Any]
                   ) -> Tuple[Statistics, Statistics]:
        features = self.extractor(image)
        statistics = {term.name: {name: term.statistics(features[name], layer_guide(guides.get(term.name), name))
                                  for name in term.layers} for term in terms}
        counts = {term.name: {name: activation_count(features[name]) for name in term.layers} for term in terms}
        return statistics, counts


class Objective(TermObjective):
    """The objective evaluated on the whole image, in one traced (or compiled) function.

    The targets are arguments of the traced function, not constants inside it, and image sizes are left
    open (TensorFlow) or compiled once per size (JAX), so `with_targets` gives the objective at another image size
    (a coarse-to-fine scale, a video frame) that reuses the traced function instead of tracing it again.
    """

    def __init__(self, extractor: Any, terms: Sequence[Term], targets: Targets, xla: bool = False,
                 guides: Optional[Guides] = None, loss_scale: Optional[LossScale] = None,
                 notify: Callable[[str], None] = lambda text: None) -> None:
        super().__init__(extractor, terms, targets, guides)
        self._reads_features = any(term.layers for term in self.traced_terms)
        self.loss_scale = loss_scale or LossScale(False)
        variables = tuple(extractor.variables)
        self._graph_function = backends.gradient_function(self._loss_body, "graph", variables=variables)
        self._xla = XlaCompiled(backends.gradient_function(self._loss_body, "xla", variables=variables) if xla
                                else None, notify)

    @property
    def uses_xla(self) -> bool:
        """Whether evaluations run compiled (False once compiling failed on this platform)."""
        return self._xla.function is not None

    def _values(self, image: Any, targets: Mapping[str, LayerTensors], guides: Guides) -> List[Any]:
        features = self.extractor(image) if self._reads_features else {}
        return [term.weighted(image, features, targets.get(term.name, {}), guides.get(term.name))
                for term in self.traced_terms]

    def _loss_body(self, image: Any, targets: Mapping[str, LayerTensors], guides: Guides, scale: Any):
        # What is differentiated (traced into a graph, or compiled): the surrogate, and beside it the total and the
        # terms. `scale` is the loss scale of a float16 evaluation (loss_scale.py); in float32 and bfloat16 it is
        # not applied.
        values = self._values(image, targets, guides)
        total = add_in_order(values)
        return scaled(total, scale, self.loss_scale.enabled), (total, ops.stack(values))

    def loss_and_gradient(self, image: Any) -> Evaluation:
        enabled = self.loss_scale.enabled
        while True:
            # The traced terms' targets: build_targets makes no others.
            scale = self.loss_scale.tensor()
            arguments = (image, self.targets, self.guides, scale)
            result = self._xla(*arguments)
            if result is None:
                result = self._graph_function(*arguments)
            _, (total, values), gradient = result
            gradient = unscaled(gradient, scale, enabled)
            if self.loss_scale.accepts(gradient):
                return add_beside_terms(Evaluation(total, values, gradient), self.beside_terms, image)


class XlaCompiled:
    """An objective's compiled evaluation (XLA on TensorFlow, torch.compile on PyTorch), shared by its copies
    (with_targets) and dropped for good at its first failure (compiling is what fails first on a new GPU
    architecture: a PTX or an unimplemented-op error), which is said once; the plain graph goes on. Running out of
    memory is not the compiler's failure: it is the caller's to handle."""

    def __init__(self, function: Optional[Callable], notify: Callable[[str], None]) -> None:
        self.function = function
        self.notify = notify

    def __call__(self, *arguments: object) -> Optional[tuple]:
        if self.function is None:
            return None
        try:
            return self.function(*arguments)
        except Exception as error:
            if not backends.active().is_compile_failure(error):
                raise
            self.function = None
            message = str(getattr(error, "message", "") or error) or type(error).__name__
            reason = message.strip().splitlines()[0][:160]
            compiler = backends.active().COMPILERS["xla"]
            self.notify(f"{compiler} could not compile the objective here ({type(error).__name__}: {reason}); going "
                        "on with the plain graph")
            return None


__all__ = ["Objective", "WholeFeatures", "XlaCompiled"]
