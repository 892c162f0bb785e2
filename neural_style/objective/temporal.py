"""The temporal term of video style transfer (Ruder, Dosovitskiy & Brox 2016): a frame is pulled towards the
previous stylised frame warped to it by the optical flow, where that flow can be trusted:
`weight * mean(mask * (image - warped)**2)` over pixels and channels, in the network image's units.

Its targets change every frame, so it is evaluated beside the traced function (closed-form gradient), which
then serves every frame without a new trace."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Tuple

import numpy as np
from keras import ops

from neural_style.objective.terms import ImageTerm


@dataclass(frozen=True, kw_only=True, eq=False)
class TemporalTerm(ImageTerm):
    """`warped`: 1 x H x W x 3 network image; `mask`: H x W of 0 (occluded) to 1."""

    name: str = "temporal"
    warped: Any = field(default=None, repr=False)
    mask: Any = field(default=None, repr=False)

    in_graph = False

    def __post_init__(self) -> None:
        object.__setattr__(self, "warped", ops.convert_to_tensor(np.asarray(self.warped, np.float32)))
        object.__setattr__(self, "mask", ops.convert_to_tensor(np.asarray(self.mask, np.float32)[None, :, :, None]))

    def loss_and_gradient(self, image: Any) -> Tuple[Any, Any]:
        """The weighted term and its gradient with respect to the image."""
        difference = image - self.warped
        count = ops.cast(ops.size(image), "float32")
        value = self.weight * ops.sum(self.mask * ops.square(difference)) / count
        return value, (2.0 * self.weight / count) * self.mask * difference


__all__ = ["TemporalTerm"]
