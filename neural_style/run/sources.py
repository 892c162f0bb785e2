"""A run's source images: the content, the styles and the masks as loaded and checked, each resized once per size it
is needed at. Stills, video frames (`with_content`), batch jobs and the benchmarks all make them here."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Callable, Dict, List, Optional, Sequence, Tuple

import numpy as np
from PIL import Image

from neural_style import images
from neural_style.config import StyleConfig
from neural_style.plan.sizes import Size, SizePlan, plan_sizes


@dataclass
class SourceImages:
    """The content and style images as loaded, each resized once per size it is needed at; with `color_match`,
    the style images in the content's colours (images.match_colors), before any target is computed. `masks`
    and `style_masks` are the greyscale masks over the content and over each style image (empty lists: none)."""

    content: Image.Image
    styles: List[Image.Image]
    color_match: bool = False
    masks: List[Image.Image] = field(default_factory=list)
    style_masks: List[Image.Image] = field(default_factory=list)
    content_alpha: Optional[Image.Image] = None  # the content's transparency ('L'), kept for the output; None: opaque
    _resized: Dict[tuple, np.ndarray] = field(default_factory=dict)

    @property
    def style_sizes(self) -> List[Size]:
        return [style.size for style in self.styles]

    def with_content(self, content: Image.Image) -> "SourceImages":
        """The same styles and masks over another content of the same size (a video frame)."""
        return replace(self, content=content, content_alpha=None, _resized={})

    def masks_at(self, sizes: SizePlan) -> Optional[images.Masks]:
        """The masks at a size plan's sizes (None for a run without masks)."""
        if not self.masks and not self.style_masks:
            return None
        content = (np.stack([images.mask_array(mask, sizes.content) for mask in self.masks], -1)
                   if self.masks else None)
        styles = [images.mask_array(mask, size) for mask, size in zip(self.style_masks, sizes.styles)]
        return images.Masks(content, styles)

    def at(self, sizes: SizePlan) -> Tuple[np.ndarray, List[np.ndarray]]:
        """uint8 content and style arrays at a size plan's sizes."""
        content = self._array(self.content, sizes.content, sizes)
        styles = [self._array(style, size, sizes) for style, size in zip(self.styles, sizes.styles)]
        if self.color_match:
            styles = [self._matched(style, content) for style in styles]
        return content, styles

    def _matched(self, style: np.ndarray, content: np.ndarray) -> np.ndarray:
        key = ("matched", id(style), id(content))
        if key not in self._resized:
            self._resized[key] = images.match_colors(style, content)
        return self._resized[key]

    def _array(self, image: Image.Image, size: Size, sizes: SizePlan) -> np.ndarray:
        key = (id(image), size)
        if key not in self._resized:
            self._resized[key] = images.to_array(sizes.resize(image, size))
        return self._resized[key]


def load_masks(config: StyleConfig, content_size: Size, styles: Sequence[Image.Image]
               ) -> Tuple[List[Image.Image], List[Image.Image]]:
    """The run's masks over the content (of `content_size`) and over each style image, each checked (one-line
    errors for a mask missing, unreadable, all black or of another shape than its image)."""
    masks = [images.load_mask(source, f"mask #{index + 1}", content_size) for index, source in enumerate(config.masks)]
    style_masks = [images.load_mask(source, f"style mask #{index + 1}", style.size)
                   for index, (source, style) in enumerate(zip(config.style_masks, styles))]
    return masks, style_masks


def load_styles(config: StyleConfig, notify: Optional[Callable[[str], None]] = None) -> List[Image.Image]:
    """The style images as loaded, each checked."""
    return [images.load_image(source, "style" if len(config.styles) == 1 else f"style #{index + 1}", notify)
            for index, source in enumerate(config.styles)]


def load_sources(config: StyleConfig, notify: Optional[Callable[[str], None]] = None,
                 content: Optional[Image.Image] = None, styles: Optional[List[Image.Image]] = None) -> SourceImages:
    """The content (`config.content`, or `content` as already loaded: a video's first frame) and style images (or
    `styles`, as already loaded) as loaded, with their masks, each checked."""
    alpha = None if content is not None else images.alpha_of(config.content)
    content = content if content is not None else images.load_image(config.content, "content", notify)
    styles = styles if styles is not None else load_styles(config, notify)
    return SourceImages(content, styles, config.color_match, *load_masks(config, content.size, styles),
                        content_alpha=alpha)


def prepare_images(config: StyleConfig, notify: Optional[Callable[[str], None]] = None
                   ) -> Tuple[np.ndarray, List[np.ndarray]]:
    """The content and style images as uint8 arrays at the output's size (`config.size`)."""
    sources = load_sources(config, notify)
    return sources.at(plan_sizes(sources.content.size, sources.style_sizes, config.size, config.style_scale,
                                 config.sizing))


__all__ = ["SourceImages", "load_masks", "load_sources", "load_styles", "prepare_images"]
