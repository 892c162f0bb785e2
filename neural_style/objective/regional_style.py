"""Regional style (`--masks`, `--style-masks`): a style term whose statistics are taken region by region
(Gatys et al., *Controlling Perceptual Factors in Neural Style Transfer*, 2017: guided Gram matrices).

The picture's guide has one channel per region (the masks, K of them): at each layer the inner term's
statistics (Gram matrices, or means and covariances) are summed over positions weighted by region k's mask
at that layer's resolution, and region k is pulled towards style k's statistics, taken where its style mask
is white (the whole painting without one). The loss of region k is the inner term's, on its own statistics
(normalised by the region's mass), times the region's share of the picture and its weight: so one white mask
gives exactly the unmasked term, two halves each paint with the strength one style has on the whole picture,
and where no mask is white the picture only answers to the content (and total variation) terms.

The statistics are sums over positions (the inner term's, and each region's mass, the sum of its weights), so
the tiled evaluation adds them up tile by tile like any other statistics term. Style images are read with a
K-channel guide too: style i's has its style mask in channel i and zeros elsewhere, so summing the style
images' contributions (compute_targets' blend) stacks the regions' targets. With `--style-masks` alone there is
one region (the whole picture) and the style images blend in it as usual, each from its masked part.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any, Mapping, Optional, Tuple

from keras import ops

from neural_style.objective.terms import LayerTensors, StatisticsTerm, add_in_order

# A region whose mask is (nearly) empty at some layer: its statistics are divided by at least this mass, so
# they stay finite (zero), and its share of the picture makes its loss zero.
SMALLEST_MASS = 1e-6


@dataclass(frozen=True, kw_only=True)
class RegionalStyleTerm(StatisticsTerm):
    """The `inner` style term, region by region: statistics (sums, masses) stacked over the regions; targets
    stacked likewise (K x the inner term's target)."""

    inner: StatisticsTerm
    region_weights: Tuple[float, ...]  # one per region: its strength (1 each unless blend weights say otherwise)

    def statistics(self, features: Any, guide: Optional[Any] = None) -> Any:
        if guide is None:
            raise ValueError("a regional style term reads statistics through a guide: pass the masks")
        guide = ops.cast(guide, features.dtype)
        sums = ops.stack([self.inner.statistics(features, guide[..., k:k + 1]) for k in range(len(self.region_weights))])
        return sums, ops.sum(guide, axis=(0, 1, 2))

    def in_precision(self, precision: str) -> "RegionalStyleTerm":
        return replace(self, inner=self.inner.in_precision(precision))

    def _region_counts(self, statistics: Any) -> Tuple[Any, Any]:
        """Each region's sums and its number of weighted activations (C times its mass)."""
        sums, mass = statistics
        channels = ops.cast(ops.shape(sums)[-1], sums.dtype)
        return sums, channels * ops.maximum(mass, SMALLEST_MASS)

    def target_from_statistics(self, statistics: Any, count: Any) -> Any:
        sums, counts = self._region_counts(statistics)
        return ops.stack([self.inner.target_from_statistics(sums[k], counts[k]) for k in range(len(self.region_weights))])

    def finish_target(self, blended: Any) -> Any:
        return ops.stack([self.inner.finish_target(blended[k]) for k in range(len(self.region_weights))])

    def from_statistics(self, statistics: Mapping[str, Any], counts: Mapping[str, Any], targets: LayerTensors
                        ) -> Any:
        losses = []
        for name, target in targets.items():
            sums, region_counts = self._region_counts(statistics[name])
            whole = ops.cast(counts[name], sums.dtype)  # C*H*W: the picture's activations at this layer
            for k, strength in enumerate(self.region_weights):
                share = region_counts[k] / whole
                inner = self.inner.from_statistics({name: sums[k]}, {name: region_counts[k]}, {name: target[k]})
                losses.append(strength * share * inner)
        return add_in_order(losses)


def regional_style_term(config, inner: StatisticsTerm) -> StatisticsTerm:
    """`inner` (the run's style term) region by region where the run has masks or style masks, else as it is."""
    if not config.masks and not config.style_masks:
        return inner
    regions = len(config.masks) or 1
    strengths = tuple(weight * regions for weight in config.resolved_blend_weights()) if config.masks else (1.0,)
    return RegionalStyleTerm(name=inner.name, weight=inner.weight, layers=inner.layers, inner=inner,
                             region_weights=strengths)


__all__ = ["RegionalStyleTerm", "SMALLEST_MASS", "regional_style_term"]
