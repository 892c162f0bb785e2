"""Where a run's picture starts: the content image, white noise, the feed-forward (AdaIN) picture, or an image file
(a snapshot, to resume); and where each later coarse-to-fine scale starts: the previous scale's result, upsampled."""

from __future__ import annotations

from typing import Callable, Dict, Optional

import numpy as np

from neural_style import images
from neural_style.config import CONTENT_START, FEED_FORWARD_START, RANDOM_START, is_file_start
from neural_style.features.network_input import PIXEL_HIGH, PIXEL_LOW

# content (H x W x 3 uint8) -> its feed-forward picture (H x W x 3 float RGB, 0-255)
FeedForward = Callable[[np.ndarray], np.ndarray]


def from_content(content: np.ndarray, rng: np.random.Generator, feed_forward: Optional[FeedForward]) -> np.ndarray:
    """The photo itself."""
    return content


def from_noise(content: np.ndarray, rng: np.random.Generator, feed_forward: Optional[FeedForward]) -> np.ndarray:
    """White noise of the photo's size, from the run's seeded generator."""
    height, width = content.shape[:2]
    return rng.uniform(0, 255, size=(height, width, 3))


def from_feed_forward(content: np.ndarray, rng: np.random.Generator, feed_forward: Optional[FeedForward]
                      ) -> np.ndarray:
    """The picture the feed-forward painter (AdaIN) paints from the photo."""
    if feed_forward is None:
        raise ValueError(f"a {FEED_FORWARD_START!r} start needs the feed-forward painter")
    return feed_forward(content)


# Every named start (its name in config.NAMED_STARTS): a new start is a function here and its name there.
STARTS: Dict[str, Callable[[np.ndarray, np.random.Generator, Optional[FeedForward]], np.ndarray]] = {
    CONTENT_START: from_content, RANDOM_START: from_noise, FEED_FORWARD_START: from_feed_forward}


def start_picture(init: str, content: np.ndarray, rng: np.random.Generator,
                  feed_forward: Optional[FeedForward] = None) -> np.ndarray:
    """The starting picture at the content's size, H x W x 3 RGB in 0-255 (uint8 or float): a named start's
    (STARTS), or any other `init`'s, an image file's picture (a snapshot, to resume)."""
    if init in STARTS:
        return STARTS[init](content, rng, feed_forward)
    start = images.load_image(init, "--init")
    return images.to_array(images.resize_to(start, (content.shape[1], content.shape[0])))


def cold_start(init: str, given: Optional[np.ndarray] = None) -> bool:
    """Whether an optimisation starts cold (the content, noise or the AdaIN picture: not an earlier result, and not
    a video frame's warped predecessor `given`): L-BFGS watches a cold start for a stall."""
    return given is None and not is_file_start(init)


def upsample(network_image: np.ndarray, height: int, width: int) -> np.ndarray:
    """A 1 x h x w x 3 network image resized (bicubic) to height x width and clipped to valid pixels: the start of
    the next coarse-to-fine scale."""
    from keras import ops

    resized = ops.image.resize(ops.convert_to_tensor(np.asarray(network_image, np.float32)), (height, width),
                               interpolation="bicubic", data_format="channels_last")
    return np.clip(ops.convert_to_numpy(resized), PIXEL_LOW, PIXEL_HIGH)


__all__ = ["STARTS", "cold_start", "start_picture", "upsample"]
