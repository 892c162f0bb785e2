"""The temporal term of video style transfer (Ruder, Dosovitskiy & Brox 2016): a frame is pulled towards the
previous stylised frame warped to it by the optical flow, where that flow can be trusted:
`weight * mean(mask * (image - warped)**2)` over pixels and channels, in the network image's units.

Its targets change every frame, so it is evaluated beside the traced function (closed-form gradient), which
then serves every frame without a new trace."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Tuple

import numpy as np
import tensorflow as tf

from neural_style.objective.terms import ImageTerm


@dataclass(frozen=True, kw_only=True, eq=False)
class TemporalTerm(ImageTerm):
    """`warped`: 1 x H x W x 3 network image; `mask`: H x W of 0 (occluded) to 1."""

    name: str = "temporal"
    warped: Any = field(default=None, repr=False)
    mask: Any = field(default=None, repr=False)

    in_graph = False

    def __post_init__(self) -> None:
        object.__setattr__(self, "warped", tf.constant(self.warped, tf.float32))
        object.__setattr__(self, "mask", tf.constant(np.asarray(self.mask)[None, :, :, None], tf.float32))

    def loss_and_gradient(self, image: tf.Tensor) -> Tuple[tf.Tensor, tf.Tensor]:
        """The weighted term and its gradient with respect to the image."""
        difference = image - self.warped
        count = tf.cast(tf.size(image), tf.float32)
        value = self.weight * tf.reduce_sum(self.mask * tf.square(difference)) / count
        return value, (2.0 * self.weight / count) * self.mask * difference


__all__ = ["TemporalTerm"]
