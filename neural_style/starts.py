"""Where an optimisation starts: the content image, white noise, the feed-forward (AdaIN) picture, or an image
file (a snapshot, to resume)."""

from __future__ import annotations

from typing import Callable, Optional

import numpy as np

from neural_style.config import is_file_start


def start_image(init: str, content: np.ndarray, rng: np.random.Generator,
                feed_forward: Optional[Callable[[np.ndarray], np.ndarray]] = None) -> np.ndarray:
    """The starting network image at the content's size: the content, white noise, the picture `feed_forward`
    paints from the content (H x W x 3 RGB, 0-255), or a file's picture."""
    from neural_style import images
    from neural_style.features.network_input import preprocess

    if init == "content":
        return preprocess(content)
    if init == "adain":
        if feed_forward is None:
            raise ValueError("an 'adain' start needs the feed-forward painter")
        return preprocess(feed_forward(content))
    if init == "random":
        height, width = content.shape[:2]
        return preprocess(rng.uniform(0, 255, size=(height, width, 3)))
    start = images.load_image(init, "--init")
    start = images.resize_to(start, (content.shape[1], content.shape[0]))
    return preprocess(images.to_array(start))


def cold_start(init: str, given: Optional[np.ndarray] = None) -> bool:
    """Whether a start is cold (the content or noise, not an earlier result): L-BFGS watches it for a stall."""
    return given is None and not is_file_start(init)


__all__ = ["cold_start", "start_image"]
