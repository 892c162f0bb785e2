"""A run's objective from its configuration: the list of terms, their targets, whole or tiled.

TERMS is the one registration of a term: a function from the configuration to the term. Everything that
shows terms (the CSV log, the progress line, the live page, the notebook, the batch summary) reads the
names from the objective, so a new term is its own module plus one line here.
"""

from __future__ import annotations

from typing import Callable, Dict, List, Optional, Sequence, Tuple

import numpy as np
from keras import ops

from neural_style.config import StyleConfig
from neural_style.features.network_input import preprocess
from neural_style.features.vgg19 import FeatureExtractor
from neural_style.images import Masks, dihedral_copies
from neural_style.objective.content import content_term
from neural_style.objective.evaluation import Guides, Targets, TermObjective, compute_targets
from neural_style.objective.gram_style import gram_style_term
from neural_style.objective.loss_scale import LossScale
from neural_style.objective.regional_style import RegionalStyleTerm, regional_style_term
from neural_style.objective.sliced_style import sliced_style_term
from neural_style.objective.terms import STATISTICS, Term
from neural_style.objective.tiled import TiledFeatures, TiledObjective
from neural_style.objective.total_variation import total_variation_term
from neural_style.objective.wasserstein_style import wasserstein_style_term
from neural_style.objective.whole import Objective, WholeFeatures

# The style term of each --style-loss (config.STYLE_LOSSES).
STYLE_TERMS: Dict[str, Callable[["StyleConfig"], Term]] = {"gram": gram_style_term,
                                                          "wasserstein": wasserstein_style_term,
                                                          "sliced": sliced_style_term}


def style_term(config: "StyleConfig") -> Term:
    """The style term of the style loss a run asked for (region by region where it has masks)."""
    return regional_style_term(config, STYLE_TERMS[config.style_loss](config))


# In the order they are summed and shown. (The temporal term is a video frame's own: video/stylize.py.)
TERMS: Tuple[Callable[["StyleConfig"], Term], ...] = (content_term, style_term, total_variation_term)


def terms_for(config: "StyleConfig", precision: str = "float32") -> Tuple[Term, ...]:
    """The terms of a run with `config`, in order, for a network computing in `precision`."""
    return tuple(make(config).in_precision(precision) for make in TERMS)


def term_names(config: "StyleConfig") -> Tuple[str, ...]:
    """The names of a run's terms, in order: the loss columns of its log and summary."""
    return tuple(term.name for term in terms_for(config))


def guides_for(terms: Sequence[Term], masks: Optional[Masks], content_size: Tuple[int, int],
               style_sizes: Sequence[Tuple[int, int]]) -> Tuple[Guides, List[Guides]]:
    """Each regional term's guide over the picture (the masks, or one region: the whole picture), and over each
    style image (its style mask, or all of it, in its region's channel: regional_style.py)."""
    picture: Guides = {}
    styles: List[Guides] = [{} for _ in style_sizes]
    for term in terms:
        if not isinstance(term, RegionalStyleTerm):
            continue
        regions = len(term.region_weights)
        width, height = content_size
        content = masks.content if masks is not None and masks.content is not None else np.ones((height, width, 1))
        picture[term.name] = ops.convert_to_tensor(np.asarray(content[np.newaxis], np.float32))
        for index, (width, height) in enumerate(style_sizes):
            guide = np.zeros((height, width, regions), np.float32)
            style_mask = masks.styles[index] if masks is not None and index < len(masks.styles) else None
            guide[..., index if regions > 1 else 0] = 1.0 if style_mask is None else style_mask
            styles[index][term.name] = guide
    return picture, styles


def _oriented(guides: Dict[str, np.ndarray]) -> List[Dict[str, np.ndarray]]:
    """A style image's guides in its 8 orientations, in the order of images.dihedral_copies."""
    copies = {name: dihedral_copies(guide) for name, guide in guides.items()}
    return [{name: copies[name][turn] for name in guides} for turn in range(8)]


def build_targets(config: "StyleConfig", extractor: "FeatureExtractor", terms: Sequence[Term], content_pixels: np.ndarray,
                  style_pixels: Sequence[np.ndarray], tile: int = 0, masks: Optional[Masks] = None,
                  style_guides: Optional[List[Guides]] = None) -> Targets:
    """The terms' targets for uint8 content and style images at their given sizes (and the masks at those sizes, or
    the style images' guides made from them, `guides_for`), whole or in `tile` px tiles."""
    if len(style_pixels) != len(config.styles):
        raise ValueError(f"{len(style_pixels)} style images for a configuration of {len(config.styles)}")
    content = ops.convert_to_tensor(preprocess(content_pixels))
    # With --masks each style paints its own region (its strength in the term), so none is blended with another.
    blend = (1.0,) * len(style_pixels) if config.masks else config.resolved_blend_weights()
    if style_guides is None:
        _, style_guides = guides_for(terms, masks, content_pixels.shape[1::-1], [p.shape[1::-1] for p in style_pixels])
    if config.style_augment:  # each style in its 8 orientations, an eighth of its weight each
        style_pixels = [copy for pixels in style_pixels for copy in dihedral_copies(pixels)]
        style_guides = [oriented for guides in style_guides for oriented in _oriented(guides)]
        blend = tuple(weight / 8 for weight in blend for _ in range(8))
    styles = [ops.convert_to_tensor(preprocess(pixels)) for pixels in style_pixels]
    guides = [{name: ops.convert_to_tensor(np.asarray(guide[np.newaxis], np.float32)) for name, guide in g.items()}
              for g in style_guides]
    if tile:
        source = TiledFeatures(extractor.model, [t for t in terms if t.split == STATISTICS], tile, config.tile_halo)
    else:
        source = WholeFeatures(extractor.model)
    return compute_targets(source, terms, content, styles, blend, guides)


class ObjectiveCache:
    """The objectives a process has traced, by tile size and terms: a later scale, frame or job of the same
    terms gets one retargeted (no new trace), not a new one. `notify` hears what an objective says once (XLA
    falling back to the plain graph)."""

    def __init__(self, notify: Callable[[str], None] = lambda text: None) -> None:
        self._built: Dict[tuple, TermObjective] = {}
        self.notify = notify
        self._loss_scales: Dict[int, LossScale] = {}

    def objective(self, config: "StyleConfig", extractor: "FeatureExtractor", content_pixels: np.ndarray,
                  style_pixels: Sequence[np.ndarray], tile: int = 0, xla: bool = False,
                  beside_terms: Sequence[Term] = (), masks: Optional[Masks] = None) -> TermObjective:
        """The objective of `config`'s terms (and `beside_terms`, evaluated beside the traced function) for
        these images (and masks), whole (`tile` 0) or in tiles, XLA-compiled where `xla` (a resolved choice)."""
        terms = terms_for(config, extractor.precision)
        guides, style_guides = guides_for(terms, masks, content_pixels.shape[1::-1],
                                          [p.shape[1::-1] for p in style_pixels])
        targets = build_targets(config, extractor, terms, content_pixels, style_pixels, tile, style_guides=style_guides)
        key = (id(extractor.model), tile, config.tile_halo if tile else 0, xla, terms)
        built = self._built.get(key)
        if built is None:
            # One loss scale per network (float16 only): every scale, tile size and frame learns from the last.
            loss_scale = self._loss_scales.setdefault(id(extractor.model), LossScale(extractor.precision == "float16"))
            built = (TiledObjective(extractor.model, terms, targets, tile, config.tile_halo, guides, loss_scale) if tile
                     else Objective(extractor.model, terms, targets, xla=xla, guides=guides, loss_scale=loss_scale,
                                    notify=self.notify))
            self._built[key] = built
        return built.with_targets(targets, beside_terms, guides)


def build_objective(config: "StyleConfig", extractor: "FeatureExtractor", content_pixels: np.ndarray,
                    style_pixels: Sequence[np.ndarray], tile: int = 0, xla: bool = False,
                    masks: Optional[Masks] = None) -> TermObjective:
    """The objective of one run for content and style images (and masks) at their given sizes, whole or in tiles."""
    return ObjectiveCache().objective(config, extractor, content_pixels, style_pixels, tile, xla, masks=masks)


__all__ = ["STYLE_TERMS", "TERMS", "guides_for", "style_term", "ObjectiveCache", "build_objective", "build_targets", "term_names", "terms_for"]
