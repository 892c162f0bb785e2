"""A run's objective from its configuration: the list of terms, their targets, whole or tiled.

TERMS is the one registration of a term: a function from the configuration to the term. Everything that
shows terms (the CSV log, the progress line, the live page, the notebook, the batch summary) reads the
names from the objective, so a new term is its own module plus one line here.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Callable, Dict, Sequence, Tuple

import numpy as np
import tensorflow as tf

from neural_style.features.network_input import preprocess
from neural_style.images import dihedral_copies
from neural_style.objective.content import content_term
from neural_style.objective.gram_style import gram_style_term
from neural_style.objective.terms import STATISTICS, Term
from neural_style.objective.tiled import TiledFeatures, TiledObjective, compute_tiled_targets
from neural_style.objective.total_variation import total_variation_term
from neural_style.objective.wasserstein_style import wasserstein_style_term
from neural_style.objective.whole import Objective, Targets, TermObjective, compute_targets

if TYPE_CHECKING:
    from neural_style.config import StyleConfig
    from neural_style.features.vgg19 import FeatureExtractor

# The style term of each --style-loss (config.STYLE_LOSSES).
STYLE_TERMS: Dict[str, Callable[["StyleConfig"], Term]] = {"gram": gram_style_term,
                                                          "wasserstein": wasserstein_style_term}


def style_term(config: "StyleConfig") -> Term:
    """The style term of the style loss a run asked for."""
    return STYLE_TERMS[config.style_loss](config)


# In the order they are summed and shown. (The temporal term is a video frame's own: video/stylize.py.)
TERMS: Tuple[Callable[["StyleConfig"], Term], ...] = (content_term, style_term, total_variation_term)


def terms_for(config: "StyleConfig") -> Tuple[Term, ...]:
    """The terms of a run with `config`, in order."""
    return tuple(make(config) for make in TERMS)


def term_names(config: "StyleConfig") -> Tuple[str, ...]:
    """The names of a run's terms, in order: the loss columns of its log and summary."""
    return tuple(term.name for term in terms_for(config))


def build_targets(config: "StyleConfig", extractor: "FeatureExtractor", terms: Sequence[Term], content_pixels: np.ndarray,
                  style_pixels: Sequence[np.ndarray], tile: int = 0) -> Targets:
    """The terms' targets for uint8 content and style images at their given sizes, whole or in `tile` px tiles."""
    if len(style_pixels) != len(config.styles):
        raise ValueError(f"{len(style_pixels)} style images for a configuration of {len(config.styles)}")
    content = tf.constant(preprocess(content_pixels))
    blend = config.resolved_blend_weights()
    if config.style_augment:  # each style in its 8 orientations, an eighth of its weight each
        style_pixels = [copy for pixels in style_pixels for copy in dihedral_copies(pixels)]
        blend = tuple(weight / 8 for weight in blend for _ in range(8))
    styles = [tf.constant(preprocess(pixels)) for pixels in style_pixels]
    if tile:
        features = TiledFeatures(extractor.model, [t for t in terms if t.split == STATISTICS], tile, config.tile_halo)
        return compute_tiled_targets(features, terms, content, styles, blend)
    return compute_targets(extractor.model, terms, content, styles, blend)


class ObjectiveCache:
    """The objectives a process has traced, by tile size and terms: a later scale, frame or job of the same
    terms gets one retargeted (no new trace), not a new one."""

    def __init__(self) -> None:
        self._built: Dict[tuple, TermObjective] = {}

    def objective(self, config: "StyleConfig", extractor: "FeatureExtractor", content_pixels: np.ndarray,
                  style_pixels: Sequence[np.ndarray], tile: int = 0, xla: bool = False,
                  beside_terms: Sequence[Term] = ()) -> TermObjective:
        """The objective of `config`'s terms (and `beside_terms`, evaluated beside the traced function) for
        these images, whole (`tile` 0) or in tiles, XLA-compiled where `xla` (a resolved choice)."""
        terms = terms_for(config)
        targets = build_targets(config, extractor, terms, content_pixels, style_pixels, tile)
        key = (id(extractor.model), tile, config.tile_halo if tile else 0, xla, terms)
        built = self._built.get(key)
        if built is None:
            built = (TiledObjective(extractor.model, terms, targets, tile, config.tile_halo) if tile
                     else Objective(extractor.model, terms, targets, xla=xla))
            self._built[key] = built
        return built.with_targets(targets, beside_terms)


def build_objective(config: "StyleConfig", extractor: "FeatureExtractor", content_pixels: np.ndarray,
                    style_pixels: Sequence[np.ndarray], tile: int = 0, xla: bool = False) -> TermObjective:
    """The objective of one run for content and style images at their given sizes, whole or in tiles."""
    return ObjectiveCache().objective(config, extractor, content_pixels, style_pixels, tile, xla)


__all__ = ["STYLE_TERMS", "TERMS", "style_term", "ObjectiveCache", "build_objective", "build_targets", "term_names", "terms_for"]
