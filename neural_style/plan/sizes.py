"""The sizes a run's images are resized to, decided before any pixel is touched, so they can be checked first."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable, List, Sequence, Tuple

from PIL import Image

from neural_style.errors import NeuralStyleError
from neural_style.features.vgg19 import deepest_downsampling
from neural_style.images import resize_to, resize_to_bilinear

Size = Tuple[int, int]  # (width, height)


def scaled_size(width: int, height: int, longest_side: int) -> Size:
    """(width, height) scaled so the longer side is `longest_side`, keeping the aspect ratio."""
    scale = longest_side / max(width, height)
    return max(1, round(width * scale)), max(1, round(height * scale))


def torchvision_resize_size(width: int, height: int, shorter_side: int) -> Size:
    """(width, height) as torchvision's Resize(shorter_side) computes it: the shorter side becomes
    `shorter_side`, the longer one is scaled and truncated to an integer."""
    if width <= height:
        return shorter_side, int(shorter_side * height / width)
    return int(shorter_side * width / height), shorter_side


@dataclass(frozen=True)
class SizePlan:
    """The sizes (width, height) the content and style images are resized to, and the filter."""

    content: Size
    styles: List[Size]
    resize: Callable[[Image.Image, Size], Image.Image]


def plan_sizes(content: Size, styles: Sequence[Size], size: int, style_scale: float = 1.0,
               sizing: str = "longest-side") -> SizePlan:
    """Where the images will be resized to.

    'longest-side': the content's longer side is `size`, each style's is `size * style_scale` (Lanczos).
    'reference': torchvision's Resize(size) on the content, the style resized to the content's size
    (bilinear), as the PyTorch reference does.
    """
    if sizing == "reference":
        content_size = torchvision_resize_size(*content, size)
        return SizePlan(content_size, [content_size] * len(styles), resize_to_bilinear)
    style_side = max(1, math.ceil(size * style_scale))
    return SizePlan(scaled_size(*content, size), [scaled_size(*style, style_side) for style in styles], resize_to)


def check_image_sizes(layers: Sequence[str], content_size: Size, style_sizes: Sequence[Size]) -> None:
    """VGG19's poolings halve the image; the deepest of `layers` must still have a pixel."""
    smallest = 2 ** deepest_downsampling(layers)
    for role, (width, height) in [("content", content_size)] + [("style", s) for s in style_sizes]:
        if min(width, height) < smallest:
            raise NeuralStyleError(
                f"the {role} image is {width}x{height} px at this --size/--style-scale; "
                f"the deepest layer used needs at least {smallest} px on each side: raise --size"
            )


__all__ = ["Size", "SizePlan", "check_image_sizes", "plan_sizes", "scaled_size", "torchvision_resize_size"]
