"""Where a run's picture starts: the content image, white noise, the feed-forward (AdaIN) picture, or an image file
(a snapshot, to resume); and where each later coarse-to-fine scale starts: the previous scale's result, upsampled."""

from __future__ import annotations

from typing import Callable, Optional

import numpy as np

from neural_style import images
from neural_style.config import is_file_start
from neural_style.features.network_input import PIXEL_HIGH, PIXEL_LOW

def start_picture(init: str, content: np.ndarray, rng: np.random.Generator,
                  feed_forward: Optional[Callable[[np.ndarray], np.ndarray]] = None) -> np.ndarray:
    """The starting picture at the content's size, H x W x 3 RGB in 0-255 (uint8 or float): the content, white
    noise, the picture `feed_forward` paints from the content, or a file's picture."""
    if init == "content":
        return content
    if init == "adain":
        if feed_forward is None:
            raise ValueError("an 'adain' start needs the feed-forward painter")
        return feed_forward(content)
    if init == "random":
        height, width = content.shape[:2]
        return rng.uniform(0, 255, size=(height, width, 3))
    start = images.load_image(init, "--init")
    return images.to_array(images.resize_to(start, (content.shape[1], content.shape[0])))


def cold_start(init: str, given: Optional[np.ndarray] = None) -> bool:
    """Whether an optimisation starts cold (the content, noise or the AdaIN picture: not an earlier result, and not
    a video frame's warped predecessor `given`): L-BFGS watches a cold start for a stall."""
    return given is None and not is_file_start(init)


def upsample(network_image: np.ndarray, height: int, width: int) -> np.ndarray:
    """A 1 x h x w x 3 network image resized (bicubic) to height x width and clipped to valid pixels: the start of
    the next coarse-to-fine scale."""
    import tensorflow as tf

    resized = tf.image.resize(tf.constant(network_image, tf.float32), (height, width), method="bicubic")
    return np.clip(resized.numpy(), PIXEL_LOW, PIXEL_HIGH)


__all__ = ["cold_start", "start_picture", "upsample"]
