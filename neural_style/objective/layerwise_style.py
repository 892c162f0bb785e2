"""What every style term shares (Gram, Wasserstein, sliced): a weighted sum over the style layers of one layer's loss,
each layer's loss calibrated to the style strength's scale where the run asks (calibration.py). The loop over layers,
the layer weights and the calibration are owned here, once; a term gives its layer's loss and its own scale for each
calibration it supports (pystiche's MultiLayerEncodingLoss and crowsonkb's Scale(LayerApply(...)) own the per-layer
loop the same way)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Tuple

from neural_style.objective.calibration import calibrated
from neural_style.objective.terms import LayerTensors, StatisticsTerm, add_in_order


@dataclass(frozen=True, kw_only=True)
class LayerwiseStyleTerm(StatisticsTerm):
    """A style term summed over its layers, each weighted by `layer_weights` and calibrated by `calibration`."""

    name: str = "style"
    layer_weights: Tuple[float, ...] = ()  # one per layer, in the order of `layers`
    calibration: str = "off"  # "target" or "gradient" (calibration.py), where the term supports it

    def layer_scale(self, calibration: str, name: str, loss: Any, target: Any, inputs: Any) -> Tuple[Any, float]:
        """(this layer's own scale, the sample painting's at that layer) for `calibration`, from the layer's `loss`,
        `target` and the `inputs` its loss was computed from. A term supports a calibration by giving its scale."""
        raise ValueError(f"{type(self).__name__} has no {calibration!r} calibration")

    def weighted_layers(self, targets: LayerTensors, layer_loss: Callable[[str, Any], Tuple[Any, Any]]) -> Any:
        """The weighted sum over the layers of `targets` of `layer_loss(name, target)` -> (loss, the inputs it was
        computed from), each calibrated, in the layers' order."""
        weights = dict(zip(self.layers, self.layer_weights))
        losses = []
        for name, target in targets.items():
            loss, inputs = layer_loss(name, target)
            if self.calibration != "off":
                loss = calibrated(loss, *self.layer_scale(self.calibration, name, loss, target, inputs))
            losses.append(weights[name] * loss)
        return add_in_order(losses)


__all__ = ["LayerwiseStyleTerm"]
